"""The command line: help everywhere, and user mistakes end in a message and exit 1, not a trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.io import file_digest

register_commands()

STAGES = ["ingest", "validate", "split", "train", "evaluate"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def tiny_csv(tmp_path: Path, tiny_raw: pd.DataFrame) -> Path:
    path = tmp_path / "tiny.csv"
    tiny_raw.to_csv(path, index=False)
    return path


def tiny_params(source: Path, **data: Any) -> dict[str, Any]:
    """A minimal params.yaml for the tiny dataset; ``data`` overrides keys of its data section."""
    return {
        "seed": 1,
        "data": {
            "name": "tiny",
            "source": str(source),
            "format": "csv",
            "target": "outcome",
            "positive_label": "bad",
            "negative_label": "good",
            "id_column": "customer_id",
            "numeric": ["duration_months", "amount_dm"],
            "categorical": ["checking_status", "purpose"],
        }
        | data,
    }


def write_params(tmp_path: Path, params: dict[str, Any]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def run_validate(
    runner: CliRunner, tmp_path: Path, source: Path, params: Path
) -> tuple[Result, Path, Path]:
    """``riskgrade validate`` of ``source`` into ``tmp_path/out``: the result, the dataset and
    the report paths."""
    output, report = tmp_path / "out" / "valid.parquet", tmp_path / "out" / "report.json"
    result = runner.invoke(
        app,
        ["validate", "--input", str(source), "--output", str(output), "--report", str(report),
         "--params", str(params)],
    )  # fmt: skip
    return result, output, report


def assert_user_error(output: str, code: int) -> None:
    assert code == 1, output
    assert "error: " in output
    assert "Traceback" not in output


def test_app_help_lists_every_stage(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0, result.output
    assert "Usage: riskgrade [OPTIONS] COMMAND" in result.output
    for stage in STAGES:
        assert stage in result.output


@pytest.mark.parametrize("stage", STAGES)
def test_stage_help_works(runner: CliRunner, stage: str) -> None:
    result = runner.invoke(app, [stage, "--help"])

    assert result.exit_code == 0, result.output
    assert f"Usage: riskgrade {stage} [OPTIONS]" in result.output
    assert "--params" in result.output


def test_validate_writes_the_typed_dataset(
    runner: CliRunner, tmp_path: Path, tiny_csv: Path
) -> None:
    params = write_params(tmp_path, tiny_params(tiny_csv))

    result, output, report = run_validate(runner, tmp_path, tiny_csv, params)

    assert result.exit_code == 0, result.output
    assert "valid: 16 rows, default rate 43.8%" in result.output
    assert pd.read_parquet(output)["outcome"].sum() == 7
    assert report.is_file()


def test_validate_missing_target_column_fails_cleanly(
    runner: CliRunner, tmp_path: Path, tiny_raw: pd.DataFrame
) -> None:
    csv = tmp_path / "tiny.csv"
    tiny_raw.drop(columns="outcome").to_csv(csv, index=False)
    params = write_params(tmp_path, tiny_params(csv))

    result, output, report = run_validate(runner, tmp_path, csv, params)

    assert_user_error(result.output, result.exit_code)
    assert str(csv) in result.output
    assert "target column 'outcome' is missing" in result.output
    assert not output.exists()
    assert not report.exists()


def test_validate_with_a_misspelled_key_names_it(
    runner: CliRunner, tmp_path: Path, tiny_csv: Path
) -> None:
    params = tiny_params(tiny_csv) | {"split": {"valid_sise": 0.2}}
    path = write_params(tmp_path, params)

    result, output, _ = run_validate(runner, tmp_path, tiny_csv, path)

    assert_user_error(result.output, result.exit_code)
    assert "split.valid_sise: unknown key" in result.output
    assert not output.exists()


def test_ingest_copies_a_file_matching_its_pin(
    runner: CliRunner, tmp_path: Path, tiny_csv: Path
) -> None:
    sha256 = file_digest(tiny_csv, "sha256")
    params = write_params(tmp_path, tiny_params(tiny_csv, sha256=sha256))
    output = tmp_path / "raw" / "tiny.csv"

    result = runner.invoke(app, ["ingest", "--output", str(output), "--params", str(params)])

    assert result.exit_code == 0, result.output
    assert output.read_bytes() == tiny_csv.read_bytes()


def test_ingest_refuses_a_file_with_another_sha256(
    runner: CliRunner, tmp_path: Path, tiny_csv: Path
) -> None:
    params = write_params(tmp_path, tiny_params(tiny_csv, sha256="0" * 64))
    output = tmp_path / "raw" / "tiny.csv"

    result = runner.invoke(app, ["ingest", "--output", str(output), "--params", str(params)])

    assert_user_error(result.output, result.exit_code)
    assert "params.yaml pins data.sha256 = " + "0" * 64 in result.output
    assert file_digest(tiny_csv, "sha256") in result.output
    assert not output.exists()
    assert not output.parent.exists() or not any(output.parent.iterdir())


def test_missing_params_file_is_named(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"

    result = runner.invoke(
        app, ["ingest", "--output", str(tmp_path / "raw.csv"), "--params", str(missing)]
    )

    assert_user_error(result.output, result.exit_code)
    assert f"{missing}: configuration file not found" in result.output
