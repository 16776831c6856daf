"""One resumable Optuna study per model family, on one or more processes (run by the
``tune`` stage, ``experiments.stages.tune``).

The study is named ``<family>-<hash>``; the hash covers everything that defines the search
(training-data hash, column roles, the family's ``params.yaml`` section, feature settings,
search-space code, folds and repeats, seed, early-stopping settings), so re-running the same
thing resumes the study and a changed dataset or space starts a new one. The budget
(``tune.n_trials``) counts finished trials already in the study, so an interrupted run
continues where it stopped.

With ``--workers N`` the remaining budget is split between N spawned processes that share the
study through its storage; this process only watches the storage (progress bar, MLflow child
runs). One worker uses ``tune.n_jobs`` (else ``runtime.n_jobs``) LightGBM and BLAS threads
and a seeded TPE sampler (same inputs, same trials); N workers use one thread each and are not
reproducible trial for trial.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FixedTrial, TrialState

from experiments.config import ProjectConfig, TuneConfig
from experiments.tuning.objective import (
    StudySpec,
    TuningData,
    build_tuning_data,
    derive_n_estimators,
    make_objective,
    trial_config,
)
from experiments.tuning.storage import check_workers, open_storage, resolve_storage
from models.families.registry import get_family
from models.families.search_spaces import changed_values, starting_params

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
POLL_SECONDS = 1.0


class TuningError(RuntimeError):
    """A study could not produce best params (no completed trial, a worker crashed)."""


def study_name(config: ProjectConfig, family: str, data_md5: str) -> str:
    """``<family>-<10 hex>`` from what defines the search; the budget and storage do not count."""
    payload = {
        "family": family,
        "train_data_md5": data_md5,
        "columns": {"features": config.data.features, "target": config.data.target},
        "base": config.models.get(family).model_dump(mode="json"),
        "features": config.features.model_dump(mode="json"),
        "search_space": inspect.getsource(get_family(family).suggest),
        "folds": [config.tune.folds, config.tune.repeats],
        "seed": config.seed,
        "early_stopping": [config.tune.early_stopping_rounds, config.tune.max_estimators],
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{family}-{digest[:10]}"


def make_sampler(
    spec: StudySpec, worker: int, parallel: bool = False
) -> optuna.samplers.TPESampler:
    """Seeded TPE: the seed mixes the project seed, the study's trial count when this run
    started and the worker index, so a resumed study or a second worker never replays the
    same random start-up trials. A worker of ``--workers N`` (``parallel``) also mixes in its
    run's invocation id: two machines started together on one study see the same trial count,
    and their workers drew the same start-up trials (4 of 19 trials were repeats)."""
    entropy = [spec.seed, spec.n_existing, worker]
    if parallel:
        entropy.append(int(spec.invocation, 16))
    seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def make_pruner(tune: TuneConfig) -> optuna.pruners.BasePruner:
    if not tune.pruner.enabled:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=tune.pruner.n_startup_trials, n_warmup_steps=tune.pruner.n_warmup_steps
    )


def open_study(spec: StudySpec, worker: int = 0, parallel: bool = False) -> optuna.Study:
    """Create the study if it is new, else load it (with this process's sampler and pruner)."""
    return optuna.create_study(
        storage=open_storage(spec.storage),
        study_name=spec.study_name,
        direction="maximize",
        sampler=make_sampler(spec, worker, parallel),
        pruner=make_pruner(spec.tune),
        load_if_exists=True,
    )


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials whose process on this host has died (a killed run) as FAIL.

    Trials of live processes -- another ``riskgrade tune`` on this machine, or any process on
    another machine -- are left alone. Returns the trial numbers that were failed.
    """
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid, host = trial.user_attrs.get("pid"), trial.user_attrs.get("host")
        if host == socket.gethostname() and isinstance(pid, int) and not process_alive(pid):
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def split_budget(remaining: int | None, workers: int) -> list[int | None]:
    """Trials per worker: the remaining budget shared out (None = until the time limit)."""
    if remaining is None:
        return [None] * workers
    shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
    return [share for share in shares if share > 0]


def optimize(
    spec: StudySpec,
    study: optuna.Study,
    data: TuningData,
    n_trials: int | None,
    callbacks: list[Callable[[optuna.Study, Any], None]],
) -> None:
    """Run trials; ``MaxTrialsCallback`` also stops this process once the whole study (other
    runs and machines included) has reached the budget."""
    guards = []
    if spec.tune.n_trials is not None:
        guards.append(optuna.study.MaxTrialsCallback(spec.tune.n_trials, states=FINISHED))
    study.optimize(
        make_objective(spec, data),
        n_trials=n_trials,
        timeout=spec.tune.timeout_seconds,
        callbacks=[*guards, *callbacks],
    )


def run_worker(spec: StudySpec, train_path: str, worker: int, n_trials: int | None) -> None:
    """Entry point of a spawned worker process: its own data, folds and sampler."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = build_tuning_data(Path(train_path), spec.schema, spec.tune, spec.seed)
    optimize(spec, open_study(spec, worker, parallel=True), data, n_trials, callbacks=[])


def run_in_workers(
    spec: StudySpec, train_path: Path, budgets: list[int | None], on_update: Callable[[], None]
) -> None:
    """N spawned processes on the same study; this one polls the storage until all end."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=run_worker, args=(spec, str(train_path), i, n), name=f"riskgrade-tune-{i}"
        )
        for i, n in enumerate(budgets)
    ]
    for process in processes:
        process.start()
    try:
        while any(process.is_alive() for process in processes):
            on_update()
            processes[0].join(timeout=POLL_SECONDS)
    finally:
        for process in processes:
            if process.is_alive():  # interrupted: stop the rest, their trials stay resumable
                process.terminate()
            process.join()
    on_update()
    crashed = [f"worker {i}: exit code {p.exitcode}" for i, p in enumerate(processes) if p.exitcode]
    if crashed:
        raise TuningError(f"tuning worker(s) failed ({'; '.join(crashed)}); see the output above")


def best_params_record(study: optuna.Study, spec: StudySpec) -> dict[str, Any]:
    """What ``best_params.json`` holds: the tuned values to lay over ``params.yaml``.

    For a boosting family the round count is derived from the best trial's early-stopping points
    (see ``derive_n_estimators``).
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise TuningError(
            f"study {spec.study_name} has no completed trial yet; raise tune.n_trials or "
            "tune.timeout_seconds and run again (the study resumes)"
        )
    best = study.best_trial
    config = trial_config(spec, FixedTrial(best.params, best.number))
    searched = set(best.params)
    stopping = get_family(spec.family).early_stopping
    if stopping is not None:
        trees = derive_n_estimators(best.user_attrs["common_iteration"], spec.tune.folds)
        config = config.model_copy(update={stopping.size_field: trees})
        searched.add(stopping.size_field)
    return {
        "model_family": spec.family,
        "params": changed_values(config, spec.base, searched),
        "cv_roc_auc": best.value,
        "fold_roc_auc": best.user_attrs["fold_roc_auc"],
        "study_name": spec.study_name,
        "best_trial": best.number,
    }


def prepare_study(
    config: ProjectConfig, family: str, data: TuningData, project_dir: Path, workers: int
) -> tuple[StudySpec, optuna.Study]:
    """Resolve and check the storage, open the study, fail trials of dead processes.

    A new study gets the ``params.yaml`` model (moved into the space) as its first trial.
    """
    storage, source = resolve_storage(config.tune.storage, project_dir, os.environ)
    check_workers(storage, workers, source)
    spec = StudySpec(
        family=family,
        study_name=study_name(config, family, data.data_md5),
        storage=storage,
        base=config.models.get(family),
        schema=config.data,
        features=config.features,
        tune=config.tune,
        seed=config.seed,
        n_jobs=(config.tune.n_jobs or config.runtime.n_jobs) if workers == 1 else 1,
        invocation=uuid.uuid4().hex,
        n_existing=0,
    )
    study = open_study(spec)
    fail_dead_trials(study)
    if not study.trials:
        start = starting_params(get_family(family).suggest, spec.base)
        study.enqueue_trial(start, user_attrs={"start": "params.yaml"}, skip_if_exists=True)
    spec = replace(spec, n_existing=len(study.trials))
    study.sampler = make_sampler(spec, 0)
    study.set_user_attr("model_family", family)
    study.set_user_attr("train_data_md5", data.data_md5)
    return spec, study
