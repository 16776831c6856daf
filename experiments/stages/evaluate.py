"""Stage ``evaluate``: test and validation metrics, ROC and calibration (with the calibration
tests' p-values on test), for one model.

Writes DVC metrics (``metrics.json``) and plot data (``roc.csv``, ``calibration.csv``) and
logs the same numbers and PNG plots to the training run in MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from experiments.config import ProjectConfig
from experiments.io import atomic_path, write_json
from experiments.tracking import setup_mlflow
from models.evaluation.calibration_tests import (
    calibration_in_the_large,
    grade_tests,
    hosmer_lemeshow,
    spiegelhalter,
)
from models.evaluation.metrics import (
    calibration_table,
    compute_metrics,
    expected_calibration_error,
    roc_points,
)
from models.evaluation.plots import plot_calibration, plot_roc
from models.scoring.scorecard import tier_table


def tier_metrics(tiers: Any, y: Any) -> dict[str, float]:
    """Share and observed default rate per tier, flattened for DVC and MLflow metrics."""
    table = tier_table(tiers, y).set_index("tier")
    return {
        f"tier_{tier}_{column}": float(table.loc[tier, column])
        for tier in table.index
        for column in ("share", "default_rate")
        if table.loc[tier, "n_rows"] > 0
    }


def calibration_test_metrics(y: Any, scored: pd.DataFrame) -> dict[str, float]:
    """p-values of the validator's calibration tests (5% level) and the grades whose Jeffreys
    test rejects: the headline calibration numbers, as DVC and MLflow metrics."""
    pd_ = scored["pd"].to_numpy()
    numbers = {
        "citl_p": calibration_in_the_large(y, pd_).p_value,
        "hosmer_lemeshow_p": hosmer_lemeshow(y, pd_).p_value,
        "spiegelhalter_p": spiegelhalter(y, pd_).p_value,
    }
    if "grade" in scored:
        table = grade_tests(y, pd_, scored["grade"].to_numpy())
        numbers["grades_failing_jeffreys"] = int(table["jeffreys_rejected"].sum())
    return {name: float(value) for name, value in numbers.items() if value is not None}


def run(
    config: ProjectConfig,
    run_file: Path,
    split_dir: Path,
    out_dir: Path,
    project_dir: Path,
) -> dict[str, dict[str, float]]:
    schema = config.data
    record = json.loads(run_file.read_text(encoding="utf-8"))
    setup_mlflow(config.mlflow, project_dir)
    # Evaluate the logged model contract itself, exactly as it will be registered and served.
    model = mlflow.pyfunc.load_model(record["model_uri"])
    metrics: dict[str, dict[str, float]] = {}
    for split in ("valid", "test"):
        frame = pd.read_parquet(split_dir / f"{split}.parquet")
        scored = model.predict(frame[schema.features])
        y, pd_ = frame[schema.target].to_numpy(), scored["pd"].to_numpy()
        metrics[split] = compute_metrics(y, pd_) | tier_metrics(scored["tier"].to_numpy(), y)
        if split == "test":
            calibration, roc = calibration_table(y, pd_), roc_points(y, pd_)
            metrics[split]["calibration_error"] = expected_calibration_error(calibration)
            metrics[split] |= calibration_test_metrics(y, scored)
    family = record["model_family"]
    figures = {
        "roc.png": plot_roc(roc, metrics["test"]["roc_auc"], f"{family}: ROC on test"),
        "calibration.png": plot_calibration(calibration, f"{family}: calibration on test"),
    }
    for name, figure in figures.items():
        with atomic_path(out_dir / name) as tmp:
            figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    for name, table in {"roc.csv": roc, "calibration.csv": calibration}.items():
        with atomic_path(out_dir / name) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
    write_json(out_dir / "metrics.json", metrics)
    with mlflow.start_run(run_id=record["run_id"]):
        mlflow.log_metrics(
            {f"{s}_{k}": v for s, values in metrics.items() for k, v in values.items()}
        )
        for name in [*figures, "calibration.csv"]:
            mlflow.log_artifact(str(out_dir / name), artifact_path="evaluation")
    return metrics
