"""``riskgrade score``: versions by alias, the id column checked before scoring, and output
files that follow the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from serving_support import NAME, Registry
from typer.testing import CliRunner

from experiments.cli import app, register_commands


@pytest.fixture
def cli_env(cli_env: Path, registry: Registry) -> Path:
    """conftest's ``cli_env`` (v1 champion, the registry and an audit store in the
    environment), with v2 as @challenger."""
    MlflowClient(registry.uri).set_registered_model_alias(NAME, "challenger", "2")
    return cli_env


@pytest.fixture
def customers(cli_env: Path, registry: Registry) -> Path:
    """Ten test customers with an id column ``customer_id``."""
    frame = registry.parts["test"][registry.features].head(10).reset_index(drop=True)
    frame.insert(0, "customer_id", [f"C-{i}" for i in range(10)])
    path = cli_env / "customers.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def run(*args: str) -> tuple[int, str]:
    register_commands()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("challenger", "2"),
        (f"{NAME}@challenger", "2"),
        ("champion", "1"),
        ("2", "2"),
        (f"{NAME}/1", "1"),
    ],
)
def test_version_is_a_number_an_alias_or_a_reference(
    customers: Path, version: str, expected: str
) -> None:
    output = customers.parent / "scored.parquet"
    code, out = run(
        "score", "--input", str(customers), "--output", str(output), "--version", version,
        "--no-record", "--no-reasons",
    )  # fmt: skip
    assert code == 0, out
    assert f"scored 10 rows with {NAME} v{expected} -> {output}" in out
    assert set(pd.read_parquet(output)["model_version"]) == {expected}


def test_unknown_alias_is_one_line(customers: Path) -> None:
    code, out = run(
        "score", "--input", str(customers), "--output", str(customers.parent / "o.parquet"),
        "--version", "staging",
    )  # fmt: skip
    assert (code, out) == (
        1,
        f"error: model '{NAME}' has no version or alias 'staging'; run `dvc repro` (register "
        "stage) or check `riskgrade history`\n",
    )


def test_id_column_missing_from_the_file_is_refused_before_scoring(customers: Path) -> None:
    output = customers.parent / "scored.parquet"
    code, out = run(
        "score", "--input", str(customers), "--output", str(output), "--id-column", "client_no"
    )
    assert (code, out) == (
        1,
        f"error: {customers}: id column 'client_no' not found (columns: ['customer_id', "
        "'duration_in_month', 'credit_amount', "
        "'installment_rate_in_percentage_of_disposable_income', 'present_residence_since', "
        "'age_in_years', 'number_of_existing_credits_at_this_bank', "
        "'number_of_people_being_liable_to_provide_maintenance_for', "
        "'status_of_existing_checking_account', 'credit_history']) (--id-column); pass the "
        "file's id column with --id-column, or --no-record to score without storing the run\n",
    )
    assert not output.exists()
    assert not list(customers.parent.glob("*.rejects.csv"))


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)], indirect=["umask"])
def test_outputs_follow_the_umask(customers: Path, umask: int, mode: int) -> None:
    output = customers.parent / "out" / "scored.parquet"
    code, out = run(
        "score", "--input", str(customers), "--output", str(output), "--id-column",
        "customer_id", "--no-reasons",
    )  # fmt: skip
    assert code == 0, out
    for path in (output, output.with_suffix(".rejects.csv")):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_scores_outside_a_project(
    customers: Path, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engineer with a registered version and no project: the environment names the model
    and its store, there is no params.yaml; the run (with its alerts) is stored all the same."""
    monkeypatch.chdir(cli_env)
    assert not Path("params.yaml").exists()
    code, out = run(
        "score", "--input", str(customers), "--output", "scored.parquet", "--id-column",
        "customer_id", "--no-reasons",
    )  # fmt: skip
    assert code == 0, out
    assert f"scored 10 rows with {NAME} v1" in out
    assert "stored run" in out
    assert len(pd.read_parquet("scored.parquet")) == 10


def test_outside_a_project_without_the_model_in_the_environment_names_the_file(
    customers: Path, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cli_env)
    monkeypatch.delenv("RISKGRADE_MODEL_NAME")
    code, out = run("score", "--input", str(customers), "--output", "scored.parquet")
    assert (code, out) == (
        1,
        "error: params.yaml: configuration file not found; run in the project directory, pass "
        "--params, or set RISKGRADE_MODEL_NAME and RISKGRADE_TRACKING_URI to use a registered "
        "version without a project\n",
    )


def test_an_old_audit_schema_is_refused_before_scoring(customers: Path, cli_env: Path) -> None:
    """The run is recorded in the audit database: an out-of-date schema is one line naming the
    command before anything is scored or written, not an error after the work."""
    from alembic import command

    from serving.stores.schema_version import migrations_config, schema_lock

    with schema_lock(os.environ["RISKGRADE_AUDIT_URL"]) as connection:  # as 0001 created it
        config = migrations_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    output = cli_env / "scored.parquet"
    code, out = run(
        "score", "--input", str(customers), "--output", str(output), "--id-column",
        "customer_id", "--no-reasons",
    )  # fmt: skip
    assert code == 1
    assert "this riskgrade needs" in out and "run `riskgrade db upgrade`" in out
    assert len(out.strip().splitlines()) == 1
    assert not output.exists()
