"""Scoring runs, per-customer results and early-warning alerts, in the audit database.

Same SQL store as the audit trail (SQLite file by default, PostgreSQL by URL), so one
database holds every decision about a customer. Customers are keyed by the HMAC of their id
(``serving.stores.audit.hash_customer_id``), never the clear id. Runs are append-only; a new
run is compared with each customer's last scored state (``last_states``) and stored together
with the alerts that comparison raised (``record_run``).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    func,
    insert,
    select,
)

from serving.stores.audit import newest_first
from serving.stores.engine import shared_engine
from serving.stores.schema_version import ensure_schema

CHUNK_ROWS = 2_000  # rows per transaction of record_run
metadata = MetaData()
scoring_runs = Table(
    "scoring_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("source", String(500), nullable=False),
    Column("n_customers", Integer, nullable=False),
)
scored_customers = Table(
    "scored_customers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False, index=True),
    Column("customer_hash", String(64), nullable=False, index=True),
    Column("pd", Float, nullable=False),
    Column("score", Integer, nullable=False),
    Column("tier", String(16), nullable=False),
)
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False, index=True),
    Column("previous_run_id", String(36), nullable=True),
    Column("customer_hash", String(64), nullable=False, index=True),
    Column("alert", String(32), nullable=False),
    Column("severity", String(16), nullable=False, index=True),
    Column("previous_tier", String(16), nullable=True),
    Column("tier", String(16), nullable=False, index=True),
    Column("previous_score", Integer, nullable=True),
    Column("score", Integer, nullable=False),
    Column("pd", Float, nullable=False),
    Column("detail", String(200), nullable=False),
)


@functools.lru_cache(maxsize=8)
def open_store(url: str) -> Engine:
    """The shared engine of ``url``, its schema made ready once per URL and process: created
    at head if the database is empty, ``SchemaVersionError`` (run ``riskgrade db upgrade``)
    if it is out of date (``serving.stores.schema_version.ensure_schema``)."""
    ensure_schema(url)
    return shared_engine(url)


def record_run(
    engine: Engine,
    model: tuple[str, str],
    source: str,
    scored: pd.DataFrame,
    found: pd.DataFrame | None = None,
) -> str:
    """Store one batch run (``customer_hash``, ``pd``, ``score``, ``tier``) and the alerts it
    raised (``models.monitoring.early_warning.compare_runs`` output); return the run's id.

    The customers and alerts go in in transactions of ``CHUNK_ROWS`` rows, the run's own row
    last: every reader joins ``scoring_runs``, so a run is seen whole, with its alerts, or not
    at all (a run that died half-way leaves rows no query reads), and the next run is never
    compared with a run stored without its alerts. Short transactions matter on SQLite, where
    a writer locks the whole database: one transaction for 200,000 customers held the lock
    for seconds, and every scoring request of the service, whose decision must be audited in
    the same database, waited and got 503. On SQLite the recorder also pauses after each
    chunk as long as the chunk took, so a waiting writer gets its turn.
    """
    run_id = str(uuid.uuid4())
    rows = [
        {"run_id": run_id, "customer_hash": h, "pd": float(p), "score": int(s), "tier": str(t)}
        for h, p, s, t in zip(
            scored["customer_hash"], scored["pd"], scored["score"], scored["tier"], strict=True
        )
    ]
    raised = alert_rows(run_id, found) if found is not None else []
    share = engine.dialect.name == "sqlite"
    for table, values in ((scored_customers, rows), (alerts, raised)):
        for start in range(0, len(values), CHUNK_ROWS):
            began = time.monotonic()
            with engine.begin() as connection:
                connection.execute(insert(table), values[start : start + CHUNK_ROWS])
            give_way(time.monotonic() - began if share else 0.0)  # a server locks rows only
    run = {
        "run_id": run_id,
        "started_at": datetime.now(UTC),
        "model_name": model[0],
        "model_version": model[1],
        "source": source[:500],
        "n_customers": len(rows),
    }
    with engine.begin() as connection:
        connection.execute(insert(scoring_runs), [run])
    return run_id


def give_way(seconds: float) -> None:
    """Pause between two chunks of a run (SQLite; 0 s on a server): other writers get the
    lock meanwhile."""
    time.sleep(seconds)


def alert_rows(run_id: str, found: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the ``alerts`` table; ``previous_run_id`` is the run of the state compared with."""
    return [
        {
            "run_id": run_id,
            "previous_run_id": _text(r.get("previous_run_id")),
            "customer_hash": r["customer_key"],
            "alert": r["alert"],
            "severity": r["severity"],
            "previous_tier": _text(r["previous_tier"]),
            "tier": r["tier"],
            "previous_score": _int(r["previous_score"]),
            "score": int(r["score"]),
            "pd": float(r["pd"]),
            "detail": str(r["detail"])[:200],
        }
        for r in found.to_dict("records")
    ]


def list_runs(engine: Engine) -> pd.DataFrame:
    """Every scoring run, oldest first."""
    with engine.connect() as connection:
        rows = (
            connection.execute(select(scoring_runs).order_by(scoring_runs.c.started_at))
            .mappings()
            .all()
        )
    return pd.DataFrame(rows, columns=[c.name for c in scoring_runs.columns])


def last_states(engine: Engine) -> pd.DataFrame:
    """Each customer's last scored state: ``customer_hash``, ``pd``, ``score``, ``tier`` and the
    ``run_id`` of the latest run that scored them.

    This, not the portfolio's previous run, is what a new run is compared with: a customer
    missing from one run (a partial extract, a row rejected that month) keeps the state they
    were last seen in, so one who comes back unchanged raises nothing again, and a change since
    that state is still raised. Two runs recorded at the same moment compare with the same
    earlier states.
    """
    newest = (
        func.row_number()
        .over(
            partition_by=scored_customers.c.customer_hash,
            order_by=(scoring_runs.c.started_at.desc(), scored_customers.c.id.desc()),
        )
        .label("newest")
    )
    columns = ["customer_hash", "pd", "score", "tier", "run_id"]
    ranked = (
        select(*(scored_customers.c[c] for c in columns), newest)
        .select_from(
            scored_customers.join(scoring_runs, scoring_runs.c.run_id == scored_customers.c.run_id)
        )
        .subquery()
    )
    query = select(*(ranked.c[c] for c in columns)).where(ranked.c.newest == 1)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame.from_records(rows, columns=columns)


def load_run(engine: Engine, run_id: str) -> pd.DataFrame:
    query = (
        select(
            scored_customers.c.customer_hash,
            scored_customers.c.pd,
            scored_customers.c.score,
            scored_customers.c.tier,
        )
        .join(scoring_runs, scoring_runs.c.run_id == scored_customers.c.run_id)
        .where(scored_customers.c.run_id == run_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=["customer_hash", "pd", "score", "tier"])


def query_alerts(
    engine: Engine, severity: str | None = None, tier: str | None = None, run_id: str | None = None
) -> pd.DataFrame:
    """Alerts of recorded runs (``record_run``: a run being recorded is not one yet)."""
    recorded = alerts.c.run_id.in_(select(scoring_runs.c.run_id))
    query = select(alerts).where(recorded).order_by(alerts.c.id)
    for column, value in (("severity", severity), ("tier", tier), ("run_id", run_id)):
        if value is not None:
            query = query.where(alerts.c[column] == value)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    frame = pd.DataFrame(rows, columns=[c.name for c in alerts.columns])
    return frame.astype({"previous_score": "Int64"})  # missing for a first state, not 0.0


def customer_history(engine: Engine, customer_hash: str) -> list[dict[str, Any]]:
    """Past batch scores of one customer, oldest first."""
    query = history_query(customer_hash).order_by(scoring_runs.c.started_at, scored_customers.c.id)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [history_entry(r) for r in rows]


def customer_history_page(
    engine: Engine,
    customer_hash: str,
    before: tuple[datetime, int] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Past batch scores of one customer as rows (``id``, ``started_at``, ...), newest first:
    at most ``limit``, all before ``before`` (``started_at``, ``id``) when given."""
    key = (scoring_runs.c.started_at, scored_customers.c.id)
    query = newest_first(history_query(customer_hash), key, before, limit)
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def history_query(customer_hash: str) -> Select[Any]:
    return (
        select(
            scored_customers.c.id,
            scoring_runs.c.started_at,
            scoring_runs.c.model_version,
            scored_customers.c.pd,
            scored_customers.c.score,
            scored_customers.c.tier,
        )
        .join(scoring_runs, scoring_runs.c.run_id == scored_customers.c.run_id)
        .where(scored_customers.c.customer_hash == customer_hash)
    )


def history_entry(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row of ``history_query`` as a customer report's history entry."""
    return {
        "time": row["started_at"].isoformat(timespec="seconds"),
        "model_version": row["model_version"],
        "pd": float(row["pd"]),
        "score": int(row["score"]),
        "tier": row["tier"],
    }


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
