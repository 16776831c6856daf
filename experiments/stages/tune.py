"""Stage ``tune@<family>``: run (or resume) the family's Optuna study, log it to MLflow and
write ``best_params.json`` (the tuned values ``train`` lays over ``params.yaml``).

The study itself -- naming, storage, workers, the objective -- is ``experiments.tuning``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from experiments.config import ProjectConfig
from experiments.io import write_json
from experiments.tuning.objective import build_tuning_data
from experiments.tuning.study import (
    FINISHED,
    best_params_record,
    optimize,
    prepare_study,
    run_in_workers,
    split_budget,
)
from experiments.tuning.tracking import finish_parent_run, parent_run


def run(
    config: ProjectConfig,
    family: str,
    train_path: Path,
    raw_path: Path | None,
    output: Path,
    project_dir: Path,
    workers: int = 1,
    progress: Callable[[optuna.Study], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the study, log it to MLflow, write ``best_params.json``; return it."""
    data = build_tuning_data(train_path, config.data, config.tune, config.seed)
    spec, study = prepare_study(config, family, data, project_dir, workers)
    runs = parent_run(config, spec, raw_path, project_dir, workers)

    def on_update(*_: Any) -> None:
        for trial in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.FAIL)):
            if trial.user_attrs.get("invocation") == spec.invocation:
                runs.log_trial(trial, spec.study_name)
        if progress is not None:
            progress(study)

    record: dict[str, Any] = {}
    status = "FAILED"
    try:
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        remaining = None if config.tune.n_trials is None else config.tune.n_trials - finished
        budgets = split_budget(None if remaining is None else max(0, remaining), workers)
        if len(budgets) == 1:
            optimize(spec, study, data, budgets[0], callbacks=[on_update])
        elif budgets:
            run_in_workers(spec, train_path, budgets, on_update)
        on_update()
        record = best_params_record(study, spec)
        write_json(output, record)
        status = "FINISHED"
        return record
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        finish_parent_run(runs, study, record, status)
