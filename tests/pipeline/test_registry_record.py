"""DVC's registered.json and the registry's @challenger must name the same version.

The observed case: `dvc repro` registered v2 (trained on bad data) and moved @challenger to
it; the data went back, and the next `dvc repro` restored v1's registered.json from DVC's
cache without running the register stage, so @challenger stayed on v2. Every command that
acts on @challenger refuses that in one line saying what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from registry_support import NewProject, register_fitted
from typer.testing import CliRunner

from experiments.cli import app, register_commands

NAME = "record-credit"
RECORD = Path("data/artifacts/registered.json")  # the default, relative to the working dir
MISMATCH = (
    f"error: @challenger of '{NAME}' is version 2, but {RECORD} (the register stage's output, "
    "as DVC left it) names version 1: run `riskgrade sync-challenger` to point @challenger at "
    f"version 1, or name the version to use it anyway ({NAME}/2)\n"
)


@pytest.fixture(scope="module")
def project(new_project: NewProject) -> Path:
    """v1: logistic on the real outcomes, recorded by DVC; v2: on shuffled outcomes, the
    alias's version. The split (train/test.parquet) is in the project root."""
    root, config, parts = new_project(NAME, write_parts=True)
    train = parts["train"]
    shuffled = pd.Series(np.random.default_rng(0).permutation(train[config.data.target]))
    register_fitted(config, config.models.logistic, train)
    register_fitted(config, config.models.logistic, train, y=shuffled)
    return root


@pytest.fixture
def diverged(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """registered.json names v1 (as DVC restored it), @challenger names v2; the working
    directory is the project, as for a user (the record's default path is relative)."""
    client = MlflowClient()
    client.set_registered_model_alias(NAME, "challenger", "2")
    v1 = client.get_model_version(NAME, "1")
    (project / RECORD).parent.mkdir(parents=True, exist_ok=True)
    record = {"model_name": NAME, "version": "1", "model_family": "logistic", "run_id": v1.run_id}
    (project / RECORD).write_text(json.dumps(record))
    monkeypatch.chdir(project)
    # the commands read the store the versions were registered in, whatever an earlier
    # module left in the environment (`score` reads RISKGRADE_TRACKING_URI first)
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", mlflow.get_tracking_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.get_tracking_uri())
    return project


def cli(root: Path, *args: str) -> tuple[int, str]:
    register_commands()
    common = ["--params", str(root / "params.yaml"), "--project-dir", str(root)]
    result = CliRunner().invoke(app, [*args, *common])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "command",
    [
        ["promote", "--split-dir", "."],
        ["promote", "--version", "challenger", "--split-dir", "."],
        [
            "monitor",
            "--model",
            "challenger",
            "--reference",
            "train.parquet",
            "--current",
            "test.parquet",
        ],
        ["score", "--version", f"{NAME}@challenger", "--input", "test.parquet", "--output", "o.pq"],
        ["reproduce", f"{NAME}@challenger"],
        ["report", f"{NAME}/challenger", "--split-dir", "."],
    ],
    ids=lambda command: " ".join(command[:3]),
)
def test_commands_on_challenger_refuse_a_disagreeing_record(
    diverged: Path, command: list[str]
) -> None:
    code, output = cli(diverged, *command)
    assert (code, output) == (1, MISMATCH)
    assert "champion" not in MlflowClient().get_registered_model(NAME).aliases


def test_a_named_version_is_not_checked(diverged: Path) -> None:
    code, output = cli(diverged, "promote", "--version", "2", "--split-dir", ".")
    assert code == 1 and "promotion of version 2 refused" in output


def test_sync_challenger_follows_the_record(diverged: Path) -> None:
    code, output = cli(diverged, "sync-challenger")
    assert (code, output) == (
        0,
        f"@challenger of '{NAME}' now names version 1 (was version 2), as {RECORD} says\n",
    )
    assert str(MlflowClient().get_model_version_by_alias(NAME, "challenger").version) == "1"
    code, output = cli(diverged, "sync-challenger")
    assert (code, output) == (
        0,
        f"@challenger of '{NAME}' already names version 1, as {RECORD} says\n",
    )


def test_a_record_from_another_store_is_named(diverged: Path) -> None:
    MlflowClient().set_registered_model_alias(NAME, "challenger", "1")
    record = json.loads(RECORD.read_text()) | {"run_id": "f" * 32}
    RECORD.write_text(json.dumps(record))
    run_id = MlflowClient().get_model_version(NAME, "1").run_id
    expected = (
        f"error: {RECORD} names version 1 of '{NAME}' from run ffffffffffff, but version 1 in "
        f"this MLflow store comes from run {run_id[:12]}: the record belongs to another store; "
        "point MLFLOW_TRACKING_URI at that store, or rebuild here with `dvc repro --force`\n"
    )
    assert cli(diverged, "promote", "--split-dir", ".") == (1, expected)
    assert cli(diverged, "sync-challenger") == (1, expected)


def test_a_record_of_a_missing_version_is_named(diverged: Path) -> None:
    RECORD.write_text(json.dumps({"model_name": NAME, "version": "7"}))
    assert cli(diverged, "sync-challenger") == (
        1,
        f"error: {RECORD} names version 7 of '{NAME}', which this MLflow store does not have: "
        "point MLFLOW_TRACKING_URI at the store that registered it, or rebuild here with "
        "`dvc repro --force`\n",
    )


def test_a_split_that_does_not_fit_the_signature_is_one_line(diverged: Path) -> None:
    """Numbers in a text column: MLflow's own error prints the frame and the whole schema
    (800 characters); riskgrade names the file, the column and the expected type."""
    split = diverged / "numbered-purpose"
    split.mkdir()
    for part in ("train", "test"):
        frame = pd.read_parquet(diverged / f"{part}.parquet")
        if part == "test":
            frame["purpose"] = 7
        frame.to_parquet(split / f"{part}.parquet")
    code, output = cli(diverged, "promote", "--version", "1", "--split-dir", str(split))
    assert (code, output) == (
        1,
        f"error: {split / 'test.parquet'}: column 'purpose' holds integer (int64), but version 1 "
        f"of '{NAME}' expects string (its MLflow signature)\n",
    )


def test_promotion_table_goes_to_stdout_and_errors_to_stderr(diverged: Path) -> None:
    client = MlflowClient()
    if "champion" in client.get_registered_model(NAME).aliases:
        client.delete_registered_model_alias(NAME, "champion")
    register_commands()
    common = ["--split-dir", ".", "--params", "params.yaml", "--project-dir", "."]
    refused = CliRunner().invoke(app, ["promote", "--version", "2", *common])
    assert refused.exit_code == 1
    assert f"{NAME}: v2 vs champion (none)" in refused.stdout
    assert refused.stderr.startswith("error: promotion of version 2 refused:\n  roc_auc floor")
    promoted = CliRunner().invoke(app, ["promote", "--version", "1", *common])
    assert promoted.exit_code == 0, promoted.output
    assert f"{NAME}: v1 vs champion (none)" in promoted.stdout
    assert promoted.stdout.endswith("version 1 is now @champion (promoted)\n")
    assert promoted.stderr == ""
