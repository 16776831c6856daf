"""``riskgrade tune``: Optuna hyper-parameter search for one model family (a DVC stage)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from experiments.cli import (
    ParamsOption,
    ProjectOption,
    app,
    check_family,
    fail,
    load,
    run_stage,
)
from experiments.config import ConfigError, ProjectConfig, describe_errors

if TYPE_CHECKING:
    import optuna


def with_budget(
    config: ProjectConfig, n_trials: int | None, timeout: float | None
) -> ProjectConfig:
    """``params.yaml`` with the command line's budget, checked like the file's values."""
    from pydantic import ValidationError

    from experiments.config import TuneConfig

    overrides: dict[str, Any] = {}
    if n_trials is not None:
        overrides["n_trials"] = n_trials
    if timeout is not None:
        overrides["timeout_seconds"] = timeout
    try:
        tune = TuneConfig.model_validate(config.tune.model_dump() | overrides)
    except ValidationError as error:
        raise ConfigError(describe_errors(error, "command line (tune)")) from None
    return config.model_copy(update={"tune": tune})


def progress_bar(config: ProjectConfig, model: str, enabled: bool) -> Any:
    """A tqdm bar over the budget; returns the callback that refreshes it from the study."""
    from optuna.trial import TrialState
    from tqdm import tqdm

    bar = tqdm(total=config.tune.n_trials, desc=f"tune {model}", unit="trial", disable=not enabled)

    def update(study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        values = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        bar.n = len(finished)
        pruned = sum(t.state == TrialState.PRUNED for t in finished)
        best = f"best AUC {max(values):.4f}" if values else "best AUC -"
        bar.set_postfix_str(f"{best}, {pruned} pruned", refresh=True)

    update.close = bar.close  # type: ignore[attr-defined]
    return update


@app.command()
def tune(
    model: Annotated[
        str, typer.Option(help="Model family to tune: lightgbm, logistic or scorecard.")
    ],
    train_data: Annotated[
        Path, typer.Option("--train", help="Training split (Parquet); folds are cut from it.")
    ] = Path("data/processed/split/train.parquet"),
    output: Annotated[
        Path | None,
        typer.Option(help="best_params.json (default: data/artifacts/MODEL/best_params.json)."),
    ] = None,
    raw: Annotated[
        Path | None,
        typer.Option(help="Raw data file whose md5 tags the MLflow run (default: data/raw/...)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes working on the study at once.")
    ] = 1,
    n_trials: Annotated[
        int | None, typer.Option("--n-trials", min=1, help="Budget: overrides tune.n_trials.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=1, help="Seconds for this run: overrides tune.timeout_seconds."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar with the best AUC.")] = True,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Tune one model family with Optuna (cross-validated ROC AUC on the training split) and
    write its best params, which `riskgrade train --best-params` lays over params.yaml.

    BUDGET: tune.n_trials counts finished (complete + pruned) trials of the study, earlier runs
    included; tune.timeout_seconds (or --timeout) stops this run after that many seconds.
    Raise n_trials and run again to search further.

    WORKERS: --workers N starts N processes on the same study, each with one LightGBM thread
    (one worker: tune.n_jobs threads, else runtime.n_jobs, and a seeded, reproducible sampler).

    STORAGE: the study lives in data/studies/riskgrade.journal unless tune.storage or the
    RISKGRADE_OPTUNA_STORAGE environment variable (which wins) names another journal file or a
    database URL, e.g. postgresql://user:password@host/db for workers on several machines.
    SQLite is refused with more than one worker (it locks under parallel writes).

    RESUME: the study name is the family plus a hash of the data, search space, folds and seed.
    Run the same command again after an interruption and the study continues where it stopped;
    change the data or the space and a new study starts. Watch it with
    `optuna-dashboard data/studies/riskgrade.journal`; trials are MLflow runs nested under one
    parent run per tune run.
    """
    import optuna

    from experiments.stages.tune import run as run_tuning
    from experiments.tuning.study import TuningError

    check_family(model)
    config = run_stage(lambda: with_budget(load(params), n_trials, timeout))
    output = output or Path(f"data/artifacts/{model}/best_params.json")
    raw = raw or Path(f"data/raw/{config.data.name}.{config.data.format}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    update = progress_bar(config, model, progress)
    try:
        record = run_stage(
            lambda: run_tuning(config, model, train_data, raw, output, project_dir, workers, update)
        )
    except TuningError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; run the same command again to resume the study", code=130)
    finally:
        update.close()
    typer.echo(
        f"{record['study_name']}: best CV ROC AUC {record['cv_roc_auc']:.4f} "
        f"(trial {record['best_trial']}) -> {output}"
    )
