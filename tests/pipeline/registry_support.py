"""Shared set-up of the pipeline tests: a temporary project with its own MLflow store, and
fitted model versions registered in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import yaml
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.tracking import log_credit_risk_model, setup_mlflow
from features.splitting import split_dataset
from models.factory import build_calibrated_model, fit_credit_model

# What the ``new_project`` fixture (tests/pipeline/conftest.py) returns: a factory of
# ``(root, config, parts)`` for ``split_project``'s arguments after the data.
NewProject = Callable[..., tuple[Path, ProjectConfig, dict[str, pd.DataFrame]]]


def temporary_project(
    root: Path, project_config: ProjectConfig, model_name: str, raw_changes: dict | None = None
) -> ProjectConfig:
    """params.yaml in ``root`` with its own model name and MLflow store; MLflow set up for it.

    ``raw_changes`` maps a top-level section to keys merged into it (e.g. scorecard changes).
    """
    raw = project_config.model_dump(mode="json")
    raw["registry"]["model_name"] = model_name
    raw["mlflow"] |= {"tracking_uri": f"sqlite:///{root / 'mlflow.db'}", "experiment": root.name}
    for section, values in (raw_changes or {}).items():
        raw[section] |= values
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    config = ProjectConfig.model_validate(raw)
    setup_mlflow(config.mlflow, root)
    return config


def split_project(
    root: Path,
    project_config: ProjectConfig,
    data: pd.DataFrame,
    model_name: str,
    raw_changes: dict | None = None,
    write_parts: bool = False,
) -> tuple[ProjectConfig, dict[str, pd.DataFrame]]:
    """``temporary_project`` and the train/valid/test split of ``data`` (written to
    ``root/<part>.parquet`` when ``write_parts``)."""
    config = temporary_project(root, project_config, model_name, raw_changes)
    parts = split_dataset(data, config.data, config.split, config.seed)
    for name, frame in parts.items() if write_parts else ():
        frame.to_parquet(root / f"{name}.parquet")
    return config, parts


def register_fitted(
    config: ProjectConfig,
    model_config: Any,
    train: pd.DataFrame,
    y: pd.Series | None = None,
    champion: bool = False,
    tags: dict[str, str] | None = None,
) -> str:
    """Fit the pipeline on ``train`` (outcome ``y`` or the target), log the model contract,
    register it under ``config.registry.model_name``; return the version."""
    schema, name = config.data, config.registry.model_name
    model = build_calibrated_model(
        schema, config.features, model_config, config.calibration, config.seed
    )
    outcome = train[schema.target] if y is None else y
    X = train[schema.features]
    policy = fit_credit_model(model, config.scorecard, X, outcome.to_numpy(), schema)
    with mlflow.start_run():
        info = log_credit_risk_model(model, policy, train[schema.features])
    version = str(mlflow.register_model(info.model_uri, name, tags=tags).version)
    if champion:
        MlflowClient().set_registered_model_alias(name, "champion", version)
    return version
