"""Stage ``train``: fit one model family's full pipeline and record it in MLflow.

The MLflow run gets params, tags (git commit, dirty flag, dataset name, DVC data hash), the
training data as a dataset input and the model contract (``models.contract.pyfunc``: the fitted
pipeline + scoring policy, raw columns in, pd/score/tier out) with its signature. ``run.json``
(a DVC output) tells the evaluate stage which run and model to use.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from pydantic import ValidationError

from experiments.config import ProjectConfig
from experiments.io import file_digest, write_json
from experiments.tracking import git_state, log_credit_risk_model, setup_mlflow
from models.factory import build_calibrated_model, fit_credit_model
from models.families.registry import get_family
from models.scoring.scorecard import ScoringPolicy


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``: MLflow params are flat key/value pairs."""
    if isinstance(value, dict):
        return {
            k: v for key, sub in value.items() for k, v in flatten(f"{prefix}.{key}", sub).items()
        }
    return {prefix: value}


def run_params(config: ProjectConfig, model: str) -> dict[str, Any]:
    sections = {
        "seed": config.seed,
        "model_family": model,
        "model": config.models.get(model).model_dump(mode="json"),
        "features": config.features.model_dump(mode="json"),
        "split": config.split.model_dump(mode="json"),
        "calibration": config.calibration.model_dump(mode="json"),
        "data": config.data.model_dump(
            mode="json", include={"name", "target", "id_column", "date_column"}
        ),
        "n_jobs": config.runtime.n_jobs,
    }
    return {k: v for key, value in sections.items() for k, v in flatten(key, value).items()}


def with_tuned_params(config: ProjectConfig, model: str, best_params: Path) -> ProjectConfig:
    """The config with ``best_params.json`` (from ``riskgrade tune``) laid over ``models.<model>``.

    Keys the search did not set (e.g. monotone constraints) keep their ``params.yaml`` values.
    """
    record = json.loads(best_params.read_text(encoding="utf-8"))
    if record.get("model_family") != model:
        raise ValueError(f"{best_params}: tuned for {record.get('model_family')!r}, not {model!r}")
    base = config.models.get(model)
    try:
        tuned = type(base).model_validate(base.model_dump() | record["params"])
    except (ValidationError, KeyError, TypeError) as error:
        raise ValueError(f"{best_params}: not valid tuned params for {model}: {error}") from None
    return config.model_copy(update={"models": config.models.model_copy(update={model: tuned})})


def log_family_tables(family: str, model: Any, policy: ScoringPolicy) -> None:
    """The family's own tables (a scorecard's points) with the run, as JSON (the MLflow UI's
    table view) and CSV."""
    tables = get_family(family).tables
    for name, table in (tables(model, policy.scaling) if tables else {}).items():
        mlflow.log_table(table, artifact_file=f"{name}.json")
        mlflow.log_text(table.to_csv(index=False), f"{name}.csv")


def run(
    config: ProjectConfig,
    model: str,
    train_path: Path,
    raw_path: Path,
    output: Path,
    project_dir: Path,
    best_params: Path | None = None,
) -> dict[str, str]:
    if best_params is not None:
        config = with_tuned_params(config, model, best_params)
    schema = config.data
    train = pd.read_parquet(train_path)
    X, y = train[schema.features], train[schema.target]
    calibrated = build_calibrated_model(
        schema,
        config.features,
        config.models.get(model),
        config.calibration,
        config.seed,
        config.runtime.n_jobs,
    )
    policy = fit_credit_model(calibrated, config.scorecard, X, y.to_numpy(), schema)
    setup_mlflow(config.mlflow, project_dir)
    tags = git_state(project_dir) | {
        "dataset_name": schema.name,
        "data_md5": file_digest(raw_path),
        "data_path": str(raw_path),
        "model_family": model,
    }
    with mlflow.start_run(run_name=f"{model}", tags=tags) as active, warnings.catch_warnings():
        # MLflow hints about how it resolves a local dataset path: not actionable here.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\..*")
        mlflow.log_params(run_params(config, model))
        mlflow.log_input(
            from_pandas(
                train, source=str(train_path), name=f"{schema.name}-train", targets=schema.target
            ),
            context="training",
        )
        mlflow.log_params(
            {f"calibration.{k}": v for k, v in calibrated.calibration_map.describe().items()}
        )
        mlflow.log_dict(policy.model_dump(mode="json"), "scoring_policy.json")
        info = log_credit_risk_model(calibrated, policy, X)
        log_family_tables(model, calibrated, policy)
    record = {"run_id": active.info.run_id, "model_uri": info.model_uri, "model_family": model}
    write_json(output, record)
    return record
