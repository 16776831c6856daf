"""MLflow records of a study: one parent run per ``riskgrade tune`` run, one child per trial.

Child runs are written by the process that runs the study loop (from the finished trials
in the Optuna storage), never by the worker processes, so the MLflow store has a single
writer; each child names its parent with the ``mlflow.parentRunId`` tag, which is how the
MLflow UI nests them. Times are the trial's own start and end, not the logging time.
"""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import optuna
from matplotlib import pyplot
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from optuna.trial import FrozenTrial, TrialState

from experiments.config import ProjectConfig
from experiments.io import file_digest
from experiments.tracking import git_state, setup_mlflow
from experiments.tuning.objective import StudySpec
from experiments.tuning.storage import mask_password

MLFLOW_STATUS = {TrialState.COMPLETE: "FINISHED", TrialState.PRUNED: "FINISHED"}


def millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


class StudyRuns:
    """The parent run of one tuning run and the trials already logged under it."""

    def __init__(self, client: MlflowClient, experiment_id: str, parent_run_id: str) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.logged: set[int] = set()

    def log_trial(self, trial: FrozenTrial, study_name: str) -> None:
        """One child run: params, fold ROC AUCs (step = fold), mean AUC, duration, state."""
        if trial.number in self.logged:
            return
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            "optuna_study": study_name,
            "optuna_trial": str(trial.number),
            "optuna_state": trial.state.name,
        }
        run = self.client.create_run(
            self.experiment_id,
            start_time=millis(trial.datetime_start),
            tags=tags,
            run_name=f"trial-{trial.number}",
        )
        end = millis(trial.datetime_complete) or millis(datetime.now())
        self.client.log_batch(
            run.info.run_id,
            metrics=trial_metrics(trial, end or 0),
            params=[Param(key, str(value)) for key, value in trial.params.items()],
        )
        status = MLFLOW_STATUS.get(trial.state, "FAILED")
        self.client.set_terminated(run.info.run_id, status=status, end_time=end)
        self.logged.add(trial.number)


def trial_metrics(trial: FrozenTrial, timestamp: int) -> list[Metric]:
    """Fold ROC AUCs and LightGBM best iterations (step = fold), mean AUC, seconds."""
    metrics = [
        Metric("fold_roc_auc", float(auc), timestamp, step)
        for step, auc in enumerate(trial.user_attrs.get("fold_roc_auc", []))
    ]
    metrics += [
        Metric("fold_best_iteration", float(it), timestamp, step)
        for step, it in enumerate(trial.user_attrs.get("best_iterations", []))
    ]
    if trial.value is not None:
        metrics.append(Metric("cv_roc_auc", float(trial.value), timestamp, 0))
    if trial.duration is not None:
        metrics.append(Metric("duration_seconds", trial.duration.total_seconds(), timestamp, 0))
    return metrics


def start_parent_run(
    experiment_id: str, family: str, tags: dict[str, str], params: dict[str, Any]
) -> StudyRuns:
    """Open the parent run of one tuning run (tags: study, storage, family, lineage)."""
    client = MlflowClient()
    run = client.create_run(experiment_id, tags=tags, run_name=f"tune-{family}")
    client.log_batch(
        run.info.run_id, params=[Param(key, str(value)) for key, value in params.items()]
    )
    return StudyRuns(client, experiment_id, run.info.run_id)


def finish_parent_run(
    runs: StudyRuns, study: optuna.Study, record: dict[str, Any], status: str = "FINISHED"
) -> None:
    """Best params, best value, trial counts and the study's plots; then close the run."""
    client, run_id = runs.client, runs.parent_run_id
    if record:
        client.log_dict(run_id, record, "best_params.json")
        params = [Param(f"best.{k}", str(v)) for k, v in record["params"].items()]
        client.log_batch(run_id, params=params)
        client.log_metric(run_id, "best_cv_roc_auc", record["cv_roc_auc"])
    for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
        count = len(study.get_trials(deepcopy=False, states=(state,)))
        client.log_metric(run_id, f"trials_{state.name.lower()}", count)
    client.log_metric(run_id, "trials_this_run", len(runs.logged))
    for name, figure in study_figures(study).items():
        client.log_figure(run_id, figure, f"plots/{name}.png")
        pyplot.close(figure)  # Optuna draws with pyplot, which keeps every figure alive
    client.set_terminated(run_id, status=status)


def study_figures(study: optuna.Study) -> dict[str, Figure]:
    """Optimisation history, and parameter importances once two trials have completed.

    Importances (fANOVA) need at least two completed trials whose parameters vary; when they
    cannot be computed the figure is skipped rather than failing the run.
    """
    from optuna.visualization import matplotlib as optuna_plots

    figures: dict[str, Figure] = {}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if complete:
            history = optuna_plots.plot_optimization_history(study)
            figures["optimization_history"] = cast(Figure, history.figure)
        if len(complete) > 1:
            try:
                importances = optuna_plots.plot_param_importances(study)
                figures["param_importances"] = cast(Figure, importances.figure)
            except (ValueError, RuntimeError, ZeroDivisionError):
                pass  # e.g. every completed trial has the same parameters
    for figure in figures.values():
        figure.set_size_inches(8, 5)
        figure.tight_layout()
    return figures


def parent_run(
    config: ProjectConfig, spec: StudySpec, raw_path: Path | None, project_dir: Path, workers: int
) -> StudyRuns:
    """The MLflow parent run of this tuning run, with the study's name and storage."""
    experiment_id = setup_mlflow(config.mlflow, project_dir)
    raw_md5 = file_digest(raw_path) if raw_path and raw_path.is_file() else "unknown"
    tags = git_state(project_dir) | {
        "optuna_study": spec.study_name,
        "optuna_storage": mask_password(spec.storage),
        "model_family": spec.family,
        "dataset_name": config.data.name,
        "data_md5": raw_md5,
        "optuna_workers": str(workers),
    }
    tune = config.tune.model_dump(mode="json", exclude={"storage", "pruner"})
    params = {f"tune.{k}": v for k, v in tune.items()} | {
        "tune.pruner": "median" if config.tune.pruner.enabled else "none",
        "seed": config.seed,
        "workers": workers,
        "lightgbm_threads_per_worker": spec.n_jobs,
        "trials_before_run": spec.n_existing,
    }
    return start_parent_run(experiment_id, spec.family, tags, params)
