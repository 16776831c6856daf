"""Schema migrations of the audit and portfolio database (issue 15, item 2), on SQLite and
PostgreSQL: an empty database is created at head; a database made by riskgrade 0.1 (its DDL,
frozen below, and rows written by the stores' code) is upgraded by ``riskgrade db upgrade``
with its rows intact; an out-of-date or newer schema is refused, in one line naming what to
do, by the service, ``riskgrade serve``, the portfolio store, ``audit`` and ``alerts``; the
migrated schema equals the tables' metadata; concurrent starters do not race."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from serving_support import SCORER_KEY, Registry, make_settings
from typer.testing import CliRunner, Result

from experiments.cli import app, register_commands
from serving.app import create_app
from serving.stores import portfolio, schema_version
from serving.stores.audit import InsertStatement, decision_row, query_decisions
from serving.stores.engine import make_engine
from serving.stores.migrations import target_metadata
from serving.stores.schema_version import (
    RELEASE_REVISION,
    SchemaState,
    SchemaVersionError,
    ensure_schema,
    head_revision,
    migrations_config,
    read_state,
    refusal,
    schema_lock,
)

HEAD = head_revision()
UPGRADE = "run `riskgrade db upgrade`"
PASSWORD = "Hunter2-pw-7Gq9Xz"

# riskgrade 0.1's tables exactly as its ``create_all`` made them: SQLAlchemy 2.1's DDL for the
# tables of that release's serving/stores/audit.py and portfolio.py, where the two databases
# differ only in the types of ``id`` and of times.
RELEASE_DDL = """
CREATE TABLE decisions (id {id}, request_id VARCHAR(36) NOT NULL, item INTEGER NOT NULL,
  decided_at {time} NOT NULL, endpoint VARCHAR(16) NOT NULL, model_name VARCHAR(200) NOT NULL,
  model_version VARCHAR(32) NOT NULL, customer_hash VARCHAR(64), pd FLOAT NOT NULL,
  score INTEGER NOT NULL, tier VARCHAR(16) NOT NULL, reason_codes JSON,
  unseen_categories JSON NOT NULL, latency_ms FLOAT NOT NULL, caller VARCHAR(64) NOT NULL,
  PRIMARY KEY (id));
CREATE INDEX ix_decisions_customer_hash ON decisions (customer_hash);
CREATE INDEX ix_decisions_decided_at ON decisions (decided_at);
CREATE INDEX ix_decisions_model_version ON decisions (model_version);
CREATE INDEX ix_decisions_request_id ON decisions (request_id);
CREATE INDEX ix_decisions_tier ON decisions (tier);
CREATE TABLE alerts (id {id}, run_id VARCHAR(36) NOT NULL, previous_run_id VARCHAR(36),
  customer_hash VARCHAR(64) NOT NULL, alert VARCHAR(32) NOT NULL, severity VARCHAR(16) NOT NULL,
  previous_tier VARCHAR(16), tier VARCHAR(16) NOT NULL, previous_score INTEGER,
  score INTEGER NOT NULL, pd FLOAT NOT NULL, detail VARCHAR(200) NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_alerts_customer_hash ON alerts (customer_hash);
CREATE INDEX ix_alerts_run_id ON alerts (run_id);
CREATE INDEX ix_alerts_severity ON alerts (severity);
CREATE INDEX ix_alerts_tier ON alerts (tier);
CREATE TABLE scored_customers (id {id}, run_id VARCHAR(36) NOT NULL,
  customer_hash VARCHAR(64) NOT NULL, pd FLOAT NOT NULL, score INTEGER NOT NULL,
  tier VARCHAR(16) NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_scored_customers_customer_hash ON scored_customers (customer_hash);
CREATE INDEX ix_scored_customers_run_id ON scored_customers (run_id);
CREATE TABLE scoring_runs (run_id VARCHAR(36) NOT NULL, started_at {time} NOT NULL,
  model_name VARCHAR(200) NOT NULL, model_version VARCHAR(32) NOT NULL,
  source VARCHAR(500) NOT NULL, n_customers INTEGER NOT NULL, PRIMARY KEY (run_id));
CREATE INDEX ix_scoring_runs_started_at ON scoring_runs (started_at)
"""
RELEASE_TYPES = {
    "sqlite": {"id": "INTEGER NOT NULL", "time": "DATETIME"},
    "postgresql": {"id": "SERIAL NOT NULL", "time": "TIMESTAMP WITH TIME ZONE"},
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in ``tmp_path``, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, url: str) -> str:
    """The CLI on ``url`` without a project (model and store named), no other RISKGRADE_*."""
    for name in list(os.environ):
        if name.startswith("RISKGRADE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RISKGRADE_MODEL_NAME", "riskgrade-credit")
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", "sqlite:///unused-mlflow.db")
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", url)
    return url


def riskgrade(*args: str) -> Result:
    register_commands()
    return CliRunner().invoke(app, list(args))


def state(url: str) -> SchemaState:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return read_state(connection)
    finally:
        engine.dispose()


def differences(url: str, tables: list[sa.MetaData] | None = None) -> list[Any]:
    """Alembic's diff between the database's schema and ``tables`` (default: both stores')."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": schema_version.VERSION_TABLE}
            )
            expected = sa.MetaData()
            for metadata in tables or target_metadata():
                for table in metadata.tables.values():
                    table.to_metadata(expected)
            return list(compare_metadata(context, expected))
    finally:
        engine.dispose()


def migrate_to(url: str, revision: str) -> None:
    """The database at ``revision``, as the riskgrade of that revision created it."""
    with schema_lock(url) as connection:
        config = migrations_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def release_database(url: str, tables: str = "all") -> None:
    """A database made by riskgrade 0.1 (its DDL, no version table), with a decision, a
    scoring run and its alert written by the stores' code (``tables="decisions"``: only the
    service ever ran)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in RELEASE_DDL.format(**RELEASE_TYPES[engine.dialect.name]).split(";"):
                if tables == "all" or " decisions " in statement:
                    connection.exec_driver_sql(statement)
        insert = InsertStatement(engine)
        row = decision_row(
            now=datetime(2026, 3, 1, 8, tzinfo=UTC), request_id="r-1", item=0, endpoint="score",
            model_name="credit", model_version="3", customer_hash="c" * 64, pd=0.12,
            score=640, tier="medium", reason_codes=["duration_months"], unseen_categories=[],
            latency_ms=1.5, caller="test",
        )  # fmt: skip
        raw = engine.raw_connection()
        try:
            raw.cursor().execute(insert.sql, insert.params(row))
            raw.commit()
        finally:
            raw.close()
        if tables == "all":
            scored = pd.DataFrame(
                [("c" * 64, 0.12, 640, "medium")], columns=["customer_hash", "pd", "score", "tier"]
            )
            found = pd.DataFrame([{
                "customer_key": "c" * 64, "alert": "tier_worsened", "severity": "high",
                "previous_tier": "low", "tier": "medium", "previous_score": 700, "score": 640,
                "pd": 0.12, "detail": "low -> medium",
            }])  # fmt: skip
            portfolio.record_run(engine, ("credit", "3"), "jan.csv", scored, found)
    finally:
        engine.dispose()


def rows_kept(url: str) -> None:
    (decision,) = query_decisions(url)
    assert (decision["request_id"], decision["customer_hash"], decision["score"]) == (
        "r-1", "c" * 64, 640,
    )  # fmt: skip
    assert decision["reason_codes"] == ["duration_months"]
    assert decision["decided_at"] == datetime(2026, 3, 1, 8, tzinfo=UTC)
    engine = make_engine(url)
    try:
        assert list(portfolio.list_runs(engine)["source"]) == ["jan.csv"]
        assert list(portfolio.query_alerts(engine)["alert"]) == ["tier_worsened"]
        assert [h["score"] for h in portfolio.customer_history(engine, "c" * 64)] == [640]
    finally:
        engine.dispose()


# -- the rule, without a database ---------------------------------------------------------------


def test_the_revisions_form_one_line_from_the_release_to_head() -> None:
    assert HEAD == "0002"
    assert schema_version.known_revisions() == {RELEASE_REVISION, HEAD}
    assert schema_version.migrations().get_base() == RELEASE_REVISION


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (SchemaState(None, recorded=False), None),  # empty: created at head
        (SchemaState("0002", recorded=True), None),
        (SchemaState("0001", recorded=True), "at revision 0001, this riskgrade needs 0002: run"),
        (SchemaState("0001", recorded=False), "riskgrade 0.1's tables, no version recorded"),
        (SchemaState("0007", recorded=True), "a newer riskgrade upgraded the database"),
    ],
)
def test_which_schemas_are_refused(found: SchemaState, expected: str | None) -> None:
    message = refusal(found, "0002", {"0001", "0002"})
    if expected is None:
        assert message is None
    else:
        assert message is not None and expected in message and "\n" not in message
        assert (UPGRADE in message) == (found.revision == "0001")


# -- against the database -------------------------------------------------------------------


def test_an_empty_database_is_created_at_head_as_the_tables_declare(url: str) -> None:
    ensure_schema(url)
    assert state(url) == SchemaState(HEAD, recorded=True)
    assert differences(url) == []
    ensure_schema(url)  # again: nothing to do
    assert state(url) == SchemaState(HEAD, recorded=True)


def test_revision_0001_is_the_release_schema(url: str) -> None:
    """The release's frozen DDL gives the schema revision 0001 declares, with no difference."""
    release = importlib.import_module("serving.stores.migrations.versions.r0001_release_tables")
    release_database(url)
    assert state(url) == SchemaState(RELEASE_REVISION, recorded=False)
    assert differences(url, [release.RELEASE]) == []
    assert differences(url) != []  # and the head's schema is another one


@pytest.mark.parametrize("tables", ["all", "decisions"])
def test_db_upgrade_brings_a_release_database_to_head_with_its_rows(
    environment: str, tables: str
) -> None:
    url = environment
    release_database(url, tables)
    with pytest.raises(SchemaVersionError, match=r"revision 0001 .*needs 0002: run `riskgrade"):
        ensure_schema(url)  # what every starter does first
    result = riskgrade("db", "upgrade")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].endswith("upgrading the schema to revision 0002, the head")
    assert [line.split()[1] for line in lines[1:-1]] == ["0001", "0002"]
    assert "upgraded from revision 0001 (riskgrade 0.1's tables" in lines[-1]
    assert state(url) == SchemaState(HEAD, recorded=True)
    assert differences(url) == []  # the missing portfolio tables were created too
    if tables == "all":
        rows_kept(url)
    again = riskgrade("db", "upgrade")
    assert again.exit_code == 0 and "nothing to do" in again.output, again.output


def test_an_old_schema_refuses_the_service_until_upgraded(
    url: str, registry: Registry, tmp_path: Path
) -> None:
    migrate_to(url, "0001")
    settings = make_settings(registry, tmp_path, audit_url=url)
    with (
        pytest.raises(ValueError, match="run `riskgrade db upgrade`") as refused,
        TestClient(create_app(settings)),
    ):
        pass
    message = str(refused.value)
    assert "\n" not in message and "RISKGRADE_AUDIT_URL" in message
    assert "at revision 0001, this riskgrade needs 0002" in message
    schema_version.upgrade(url)
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        answer = client.post("/v1/score", json={"customer": registry.records(n=1)[0]})
        assert answer.status_code == 200, answer.text
    assert len(query_decisions(url)) == 1


def test_riskgrade_serve_refuses_an_old_schema_in_one_line(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{cli_env / 'old.db'}"
    migrate_to(url, "0001")
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", url)
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    result = riskgrade("serve")
    assert result.exit_code == 1 and not started, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: RISKGRADE_AUDIT_URL="), lines
    assert lines[0].endswith("needs 0002: run `riskgrade db upgrade`"), lines


@pytest.mark.parametrize("command", ["audit", "alerts"])
def test_readers_and_the_portfolio_store_refuse_an_old_schema(
    environment: str, command: str
) -> None:
    url = environment
    migrate_to(url, "0001")
    result = riskgrade(command)
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and UPGRADE in result.output, result.output
    portfolio.open_store.cache_clear()
    with pytest.raises(SchemaVersionError, match="needs 0002: run `riskgrade db upgrade`"):
        portfolio.open_store(url)  # riskgrade score's run recording opens it so


def test_a_schema_from_a_newer_riskgrade_is_refused_and_kept(environment: str) -> None:
    url = environment
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE riskgrade_schema_version SET version_num = '0007'"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaVersionError, match="a newer riskgrade upgraded the database"):
        ensure_schema(url)
    result = riskgrade("db", "upgrade")
    assert result.exit_code == 1 and "a newer riskgrade" in result.output, result.output
    assert state(url) == SchemaState("0007", recorded=True)
    current = riskgrade("db", "current")
    assert current.exit_code == 0 and "revision 0007" in current.output, current.output


def test_db_current_says_where_the_database_stands(environment: str) -> None:
    url = environment
    if url.startswith("sqlite"):
        missing = riskgrade("db", "current")
        assert missing.exit_code == 0 and "no file at" in missing.output, missing.output
        assert not Path(url.removeprefix("sqlite:///")).exists()  # nothing created
    release_database(url)
    old = riskgrade("db", "current")
    assert old.exit_code == 0 and "riskgrade 0.1's tables" in old.output and UPGRADE in old.output
    schema_version.upgrade(url)
    now = riskgrade("db", "current")
    assert now.exit_code == 0 and "revision 0002; up to date" in now.output, now.output


def test_db_commands_never_show_the_password(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL (trust authentication here) ignores the password; SQLite refuses a URL
    with one, in one line."""
    parsed = sa.make_url(environment)
    url = parsed.set(username=parsed.username or "bob", password=PASSWORD)
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", url.render_as_string(hide_password=False))
    for args in (("db", "upgrade"), ("db", "current")):
        result = riskgrade(*args)
        assert PASSWORD not in result.output and ":***@" in result.output, result.output
        if parsed.drivername.startswith("sqlite"):
            if args[1] == "current":
                continue  # no file there: nothing to open yet
            assert result.exit_code == 1 and "Invalid SQLite URL" in result.output
            assert result.output.strip().splitlines()[-1].startswith("error: ")
        else:
            assert result.exit_code == 0, result.output
    help_text = riskgrade("db", "--help").output
    assert "upgrade" in help_text and "current" in help_text


def test_concurrent_starters_do_not_race(url: str) -> None:
    """Two workers start on an empty database: the second one reaches the schema lock while
    the first is creating the tables, waits, and then finds the schema at head. Without the
    lock it would create the tables meanwhile and the first one's CREATE TABLE would fail."""
    outcome: dict[str, Any] = {}

    def second_worker() -> None:
        try:
            ensure_schema(url)
            outcome["second"] = "ok"
        except Exception as error:  # pragma: no cover - reported below
            outcome["second"] = error

    other = threading.Thread(target=second_worker)

    def start_the_other_one(_: Any, __: Any, statement: str, *___: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE") and "started" not in outcome:
            outcome["started"] = True
            other.start()
            other.join(0.5)
            outcome["waited"] = other.is_alive()

    sa.event.listen(sa.Engine, "before_cursor_execute", start_the_other_one)
    try:
        ensure_schema(url)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", start_the_other_one)
    other.join(30)
    assert outcome["waited"] is True  # held at the lock while the first one created the tables
    assert outcome["second"] == "ok"
    assert state(url) == SchemaState(HEAD, recorded=True)


def test_the_new_index_pages_a_customers_decisions_without_sorting(tmp_path: Path) -> None:
    """Revision 0002's reason: the customer report's query reads the index in its order, from
    the page on (no sort of the customer's whole history, no scan of its newer part)."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    plans = {}
    for revision in ("0001", "0002"):
        migrate_to(url, revision)
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                compiled = customer_page_query().compile(dialect=engine.dialect)
                values = tuple("x" for _ in compiled.positiontup or ())  # the plan ignores them
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values).all()
        finally:
            engine.dispose()
        plans[revision] = " | ".join(str(row[-1]) for row in plan)
    assert "TEMP B-TREE FOR ORDER BY" in plans["0001"], plans
    assert "ix_decisions_customer_history (customer_hash=? AND decided_at<?)" in plans["0002"]
    assert "TEMP B-TREE" not in plans["0002"], plans


def customer_page_query() -> sa.Select[Any]:
    """The query of ``serving.stores.audit.customer_decisions`` for a page after the first."""
    from serving.stores.audit import decisions, newest_first

    query = sa.select(decisions.c.id, decisions.c.pd).where(decisions.c.customer_hash == "c")
    before = (datetime(2026, 3, 1, tzinfo=UTC), 10)
    return newest_first(query, (decisions.c.decided_at, decisions.c.id), before, 20)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test's database is new: no store opened or checked by an earlier one counts."""
    yield
    portfolio.open_store.cache_clear()
    schema_version.check_schema_once.cache_clear()
