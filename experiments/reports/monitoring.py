"""``riskgrade monitor``: compare a current population with a reference, for one model version.

Scores both samples with the version, runs ``models.monitoring.drift.monitor``, writes an HTML and a
JSON report, logs both to the version's MLflow run (``monitoring/<timestamp>/``) and returns
the result; the CLI exits non-zero when a red (``act``) threshold is crossed, so a scheduler
can act on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.io import InputError, read_table, write_atomic, write_json
from experiments.registry.record import resolve_checked
from experiments.registry.refs import parse_model_ref, version_uri
from experiments.registry.signature import predict_checked
from experiments.reports.html import template_environment
from experiments.tracking import setup_mlflow
from models.monitoring.drift import MonitoringResult, OutcomeLabelError, monitor


def result_payload(result: MonitoringResult, meta: dict[str, Any]) -> dict[str, Any]:
    return meta | {
        "status": result.status,
        "findings": [{"level": level, "message": text} for level, text in result.findings],
        "score_psi": result.score_psi,
        "tier_psi": result.tier_psi,
        "features": result.features.to_dict("records"),
        "tiers": result.tiers.to_dict("records"),
        "data_quality": result.data_quality.to_dict("records"),
        "outcomes": result.outcomes,
    }


def format_cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_html(payload: dict[str, Any]) -> str:
    """The monitoring page (template ``templates/monitoring.html.j2``): findings, score and
    tier shift, feature PSI, data quality, and outcomes with the calibration tests."""
    outcomes = payload["outcomes"] or {}
    calibration = outcomes.get("calibration") or {}
    overall = [
        {"test": name, **{k: v for k, v in calibration[name].items() if k != "alpha"}}
        for name in ("calibration_in_the_large", "hosmer_lemeshow", "spiegelhalter")
        if name in calibration
    ]
    headline = {k: v for k, v in outcomes.items() if k != "calibration"}
    environment = template_environment()
    environment.filters["cell"] = format_cell
    template = environment.get_template("monitoring.html.j2")
    return template.render(p=payload, headline=headline, overall=overall)


def run(
    config: ProjectConfig,
    model_ref: str,
    samples_paths: tuple[Path, Path],
    out_dir: Path,
    project_dir: Path,
    record: Path | None = None,
) -> MonitoringResult:
    """Monitor ``samples_paths`` = (reference, current) with a version (``@challenger`` is
    checked against the DVC ``record``); write and log the report."""
    reference, current = samples_paths
    setup_mlflow(config.mlflow, project_dir)
    client = MlflowClient()
    name, ref = parse_model_ref(model_ref, config.registry.model_name)
    version = resolve_checked(client, name, ref, record)
    model = mlflow.pyfunc.load_model(version_uri(name, version.version))
    table = config.data.table_format  # raw files: the dataset's delimiter, encoding, NA text
    samples = {"reference": read_table(reference, table), "current": read_table(current, table)}
    features, label = config.data.features, f"version {version.version} of {name!r}"
    scores = {
        key: predict_checked(model, frame[features], (str(path), label), {"reason_codes": 0})
        for (key, frame), path in zip(samples.items(), samples_paths, strict=True)
    }
    test_auc = float(version.tags["test_roc_auc"]) if "test_roc_auc" in version.tags else None
    try:
        result = monitor(
            samples["reference"],
            samples["current"],
            config.data,
            (scores["reference"], scores["current"]),
            config.monitoring,
            test_auc,
        )
    except OutcomeLabelError as error:
        raise InputError(f"{current}: {error}") from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = result_payload(
        result,
        {
            "model": f"{name}/{version.version}",
            "reference": str(reference),
            "current": str(current),
            "n_reference": len(samples["reference"]),
            "n_current": len(samples["current"]),
            "time": stamp,
        },
    )
    write_json(out_dir / "monitoring.json", payload)
    page = render_html(payload)
    write_atomic(out_dir / "monitoring.html", lambda tmp: tmp.write_text(page, encoding="utf-8"))
    if version.run_id:
        with mlflow.start_run(run_id=version.run_id):
            for file in ("monitoring.json", "monitoring.html"):
                mlflow.log_artifact(str(out_dir / file), artifact_path=f"monitoring/{stamp}")
    return result
