"""Stage ``report``: the validation report of a registered version -- built by
``experiments.reports.validation`` -- written as HTML and JSON and logged to the version's
MLflow run (the version is tagged with its URI)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.io import write_atomic, write_json
from experiments.reports.html import render_report
from experiments.reports.validation import (
    ARTIFACT_PATH,
    HTML_NAME,
    JSON_NAME,
    ReportError,
    build_report,
    report_uri,
)
from experiments.tracking import setup_mlflow


def log_report(
    client: MlflowClient, version: ModelVersion, files: dict[str, Path], images: dict[str, bytes]
) -> str:
    """Log HTML, JSON and SHAP PNGs to the version's source run; tag the version with the
    HTML's ``runs:/`` URI (returned)."""
    if not version.run_id:
        raise ReportError(f"version {version.version} of {version.name!r} has no source run")
    with tempfile.TemporaryDirectory() as tmp:
        for target, source in files.items():
            shutil.copyfile(source, Path(tmp) / target)
        for name, png in images.items():
            if name.startswith("shap_"):
                (Path(tmp) / f"{name}.png").write_bytes(png)
        client.log_artifacts(version.run_id, tmp, artifact_path=ARTIFACT_PATH)
    uri = report_uri(version)
    client.set_model_version_tag(version.name, version.version, ARTIFACT_PATH, uri)
    return uri


def run(
    config: ProjectConfig,
    ref: str,
    split_dir: Path,
    data_report: Path,
    outputs: tuple[Path, Path],
    project_dir: Path,
    n_examples: int = 5,
) -> dict[str, Any]:
    """Build, write (``outputs`` = HTML path, JSON path) and log the report; return the JSON."""
    setup_mlflow(config.mlflow, project_dir)
    numbers, images, version = build_report(config, ref, split_dir, data_report, n_examples)
    html_path, json_path = outputs
    html = render_report(numbers, images)
    write_atomic(html_path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    write_json(json_path, numbers)
    log_report(MlflowClient(), version, {HTML_NAME: html_path, JSON_NAME: json_path}, images)
    return numbers
