"""`riskgrade monitor` on a real registered version (temporary MLflow store)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_support import NewProject, register_fitted
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig

NAME = "monitor-credit"


@pytest.fixture(scope="module")
def project(new_project: NewProject) -> Path:
    """params.yaml, train/test parquet files and a champion logistic model in a tmp store."""
    root, config, parts = new_project(NAME, write_parts=True)
    tags = {"test_roc_auc": "0.79"}
    register_fitted(config, config.models.logistic, parts["train"], champion=True, tags=tags)
    return root


def monitor(root: Path, current: Path) -> tuple[int, str, dict]:
    """`riskgrade monitor` of ``current`` against the training split: exit code, output and
    the JSON report."""
    register_commands()
    out = root / f"out-{current.stem}"
    args = [
        "monitor",
        "--reference",
        str(root / "train.parquet"),
        "--current",
        str(current),
        "--out-dir",
        str(out),
        "--params",
        str(root / "params.yaml"),
        "--project-dir",
        str(root),
    ]
    result = CliRunner().invoke(app, args)
    payload = (
        json.loads((out / "monitoring.json").read_text())
        if (out / "monitoring.json").exists()
        else {}
    )
    return result.exit_code, result.output, payload


def test_sample_from_the_training_distribution_is_stable(project: Path) -> None:
    code, output, payload = monitor(project, project / "test.parquet")
    assert code == 0, output
    assert payload["status"] in {"stable", "watch"}
    assert payload["score_psi"] < 0.1
    assert all(row["psi"] <= 0.25 for row in payload["features"])
    assert payload["outcomes"]["roc_auc"] > 0.7  # outcomes present in the test split
    calibration = payload["outcomes"]["calibration"]
    assert not calibration["calibration_in_the_large"]["rejected"]
    assert [row["group"] for row in calibration["groups"]["tier"]] == ["low", "medium", "high"]
    assert sum(row["n"] for row in calibration["groups"]["grade"]) == 200
    assert '<section id="features">' in (project / "out-test/monitoring.html").read_text()


def test_shifted_feature_is_flagged_and_exits_non_zero(project: Path) -> None:
    shifted = pd.read_parquet(project / "test.parquet")
    shifted["credit_amount"] = shifted["credit_amount"] * 3  # the amounts triple
    path = project / "shifted.parquet"
    shifted.to_parquet(path)
    code, output, payload = monitor(project, path)
    assert code == 2, output
    row = next(r for r in payload["features"] if r["feature"] == "credit_amount")
    assert row["psi"] > 0.25 and row["band"] == "act"
    assert payload["status"] == "act"
    assert "[act] feature 'credit_amount' PSI" in output


def test_missing_values_rising_are_flagged(project: Path) -> None:
    current = pd.read_parquet(project / "test.parquet")
    current["savings_account_and_bonds"] = current["savings_account_and_bonds"].astype(object)
    current.loc[current.index[: len(current) // 5], "savings_account_and_bonds"] = None
    path = project / "missing.parquet"
    current.to_parquet(path)
    code, _, payload = monitor(project, path)
    quality = {r["feature"]: r for r in payload["data_quality"]}
    assert np.isclose(quality["savings_account_and_bonds"]["missing_current"], 0.2)
    assert code == 2


def test_more_defaults_than_predicted_fail_calibration_in_the_large(project: Path) -> None:
    current = pd.read_parquet(project / "test.parquet")
    good = current.index[current["creditability"] == 0]
    worse = np.random.default_rng(0).choice(good, size=len(good) // 3, replace=False)
    current.loc[worse, "creditability"] = 1  # a third of the good customers now default
    path = project / "defaults.parquet"
    current.to_parquet(path)
    code, output, payload = monitor(project, path)
    assert code == 2, output
    assert payload["outcomes"]["calibration"]["calibration_in_the_large"]["rejected"]
    assert "[act] calibration in the large rejected" in output


def test_raw_file_with_labelled_outcomes_is_monitored_like_the_encoded_split(
    project: Path, repo_root: Path, project_config: ProjectConfig
) -> None:
    """The test customers as the raw file holds them (outcomes `bad` / `good`, the
    dataset's data.positive_label / negative_label) give the same figures as the split."""
    schema = project_config.data
    rows = pd.read_parquet(project / "test.parquet")[schema.id_name].astype(int) - 1
    raw = pd.read_csv(repo_root / schema.source).iloc[rows.to_numpy()]
    assert set(raw[schema.target]) == {"bad", "good"}
    path = project / "raw-test.csv"
    raw.to_csv(path, index=False)

    code, output, payload = monitor(project, path)
    _, _, encoded = monitor(project, project / "test.parquet")

    assert code == 0, output
    assert payload["outcomes"]["roc_auc"] == encoded["outcomes"]["roc_auc"]
    auc = payload["outcomes"]["roc_auc"]
    level = "stable" if 0.79 - auc < 0.03 else "watch"
    assert f"[{level}] AUC {auc:.3f} vs the version's test AUC 0.790 ({level})" in output
    assert payload["outcomes"]["version_test_roc_auc"] == 0.79


def test_outcomes_with_unknown_labels_are_one_line_error(project: Path) -> None:
    current = pd.read_parquet(project / "test.parquet")
    current["creditability"] = np.where(current["creditability"] == 1, "default", "paid")
    path = project / "unknown-labels.parquet"
    current.to_parquet(path)

    code, output, payload = monitor(project, path)

    assert code == 1, output
    assert output == (
        f"error: {path}: outcome column 'creditability' holds ['default', 'paid']; expected "
        "'bad' (default) and 'good' (no default), as data.positive_label and "
        "data.negative_label say, or 1 and 0\n"
    )
    assert payload == {}


def test_a_file_that_does_not_fit_the_model_is_one_line(project: Path) -> None:
    """Numbers in a text column: MLflow's own error prints the frame and the whole schema."""
    current = pd.read_parquet(project / "test.parquet")
    current["housing"] = 1
    path = project / "numbered-housing.parquet"
    current.to_parquet(path)

    code, output, _ = monitor(project, path)

    assert (code, output) == (
        1,
        f"error: {path}: column 'housing' holds integer (int64), but version 1 of '{NAME}' "
        "expects string (its MLflow signature)\n",
    )
