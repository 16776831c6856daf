"""The benchmark's model and data: a temporary registry with the configured LightGBM pipeline
as @champion, one real customer, and N synthetic rows resampled from German Credit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def project() -> tuple[Any, pd.DataFrame]:
    """The project config and the validated bundled dataset."""
    from experiments.config import load_config
    from experiments.io import read_table
    from features.validation import validate_dataset

    config = load_config(ROOT / "params.yaml")
    raw = read_table(ROOT / config.data.source)
    return config, validate_dataset(raw, config.data, source=str(config.data.source))


def register_champion(tmp: Path, name: str) -> str:
    """Fit params.yaml's LightGBM on the training split, register it as @champion."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow.tracking import MlflowClient

    from experiments.config import ProjectConfig
    from experiments.tracking import log_credit_risk_model, setup_mlflow
    from features.splitting import split_dataset
    from models.factory import build_calibrated_model, fit_credit_model

    config, data = project()
    raw = config.model_dump(mode="json")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    raw["mlflow"] |= {"tracking_uri": uri, "experiment": "bench", "artifact_root": str(tmp / "a")}
    config = ProjectConfig.model_validate(raw)
    setup_mlflow(config.mlflow, tmp)
    train = split_dataset(data, config.data, config.split, config.seed)["train"]
    schema = config.data
    model = build_calibrated_model(
        schema, config.features, config.models.lightgbm, config.calibration, config.seed
    )
    X, y = train[schema.features], train[schema.target].to_numpy()
    policy = fit_credit_model(model, config.scorecard, X, y, schema)
    with mlflow.start_run():
        info = log_credit_risk_model(model, policy, X)
    version = mlflow.register_model(info.model_uri, name, tags={"model_family": "lightgbm"})
    MlflowClient(uri).set_registered_model_alias(name, "champion", version.version)
    n_trees = model.pipeline_.named_steps["model"].booster_.num_trees()
    print(f"registered {name} v{version.version} (LightGBM, {n_trees} trees) in {uri}")
    return uri


def customer_record() -> dict[str, Any]:
    """One real applicant's features as JSON-ready values."""
    config, data = project()
    row = data[config.data.features].iloc[0]
    return {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}


def batch_input(path: Path, rows: int) -> Path:
    """``rows`` customers resampled with replacement from German Credit (synthetic)."""
    if path.exists():
        return path
    config, data = project()
    picks = np.random.default_rng(0).integers(0, len(data), size=rows)
    data[config.data.features].iloc[picks].reset_index(drop=True).to_parquet(path)
    return path
