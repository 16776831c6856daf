"""A hand-run `riskgrade report` writes beside the version's other reports, never over the
DVC stage's outputs (their paths are in dvc.yaml and the stage passes them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from experiments.cli import app, register_commands

Reported = Any  # `reported_version` (tests/pipeline/conftest.py)


def dvc_report_outputs(repo_root: Path) -> list[str]:
    stage = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]["report"]
    return [next(iter(out)) if isinstance(out, dict) else out for out in stage["outs"]]


def test_hand_run_writes_by_version_and_leaves_the_stage_outputs(
    reported_version: Reported, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, name = reported_version.root, reported_version.model_name
    monkeypatch.setenv("MLFLOW_TRACKING_URI", reported_version.tracking_uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # restored after the test
    monkeypatch.chdir(root)  # relative defaults are relative to the working directory
    register_commands()
    args = [f"{name}@challenger", "--split-dir", "split", "--data-report", "validation.json"]
    result = CliRunner().invoke(app, ["report", *args, "--params", "params.yaml"])

    assert result.exit_code == 0, result.output
    folder = Path("data/reports/versions") / name / f"v{reported_version.version}"
    numbers = json.loads((folder / "validation_report.json").read_text())
    verdict = "passes" if numbers["gate"]["passed"] else "is refused by"
    assert result.output == (
        f"report of {name} version {reported_version.version}: "
        f"{folder / 'validation_report.html'}, {folder / 'validation_report.json'} "
        f"(logged to {numbers['report']['mlflow_uri']}); the version {verdict} the promotion "
        "gate\n"
    )
    assert (folder / "validation_report.html").stat().st_size > 10_000
    outputs = dvc_report_outputs(repo_root)
    assert outputs == ["data/reports/validation_report.html", "data/reports/validation_report.json"]
    assert not any((root / out).exists() for out in outputs)
