"""Scoring runs, per-customer results and early-warning alerts, in the audit database.

Same SQL store as the audit trail (SQLite file by default, PostgreSQL by URL), so one
database holds every decision about a customer. Customers are keyed by the HMAC of their id
(``serving.stores.audit.hash_customer_id``), never the clear id. Runs are append-only.
"""

from __future__ import annotations

import functools
import uuid
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
    String,
    Table,
    insert,
    select,
)

from serving.stores.audit import create_tables
from serving.stores.engine import shared_engine

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
    """The shared engine of ``url`` with the portfolio tables created if missing (once per
    URL and process)."""
    engine = shared_engine(url)
    create_tables(metadata, engine)
    return engine


def record_run(engine: Engine, model: tuple[str, str], source: str, scored: pd.DataFrame) -> str:
    """Store one batch run (``customer_hash``, ``pd``, ``score``, ``tier``); return its id."""
    run_id = str(uuid.uuid4())
    rows = [
        {"run_id": run_id, "customer_hash": h, "pd": float(p), "score": int(s), "tier": str(t)}
        for h, p, s, t in zip(
            scored["customer_hash"], scored["pd"], scored["score"], scored["tier"], strict=True
        )
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(scoring_runs),
            [
                {
                    "run_id": run_id,
                    "started_at": datetime.now(UTC),
                    "model_name": model[0],
                    "model_version": model[1],
                    "source": source[:500],
                    "n_customers": len(rows),
                }
            ],
        )
        if rows:
            connection.execute(insert(scored_customers), rows)
    return run_id


def list_runs(engine: Engine) -> pd.DataFrame:
    """Every scoring run, oldest first."""
    with engine.connect() as connection:
        rows = (
            connection.execute(select(scoring_runs).order_by(scoring_runs.c.started_at))
            .mappings()
            .all()
        )
    return pd.DataFrame(rows, columns=[c.name for c in scoring_runs.columns])


def previous_run_id(engine: Engine, run_id: str) -> str | None:
    runs = list_runs(engine)["run_id"].tolist()
    position = runs.index(run_id) if run_id in runs else -1
    return runs[position - 1] if position > 0 else None


def load_run(engine: Engine, run_id: str) -> pd.DataFrame:
    query = select(
        scored_customers.c.customer_hash,
        scored_customers.c.pd,
        scored_customers.c.score,
        scored_customers.c.tier,
    ).where(scored_customers.c.run_id == run_id)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=["customer_hash", "pd", "score", "tier"])


def store_alerts(engine: Engine, run_id: str, previous: str | None, found: pd.DataFrame) -> int:
    """Append the alerts of ``run_id`` (``models.monitoring.early_warning.compare_runs`` output)."""
    rows = [
        {
            "run_id": run_id,
            "previous_run_id": previous,
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
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(alerts), rows)
    return len(rows)


def query_alerts(
    engine: Engine, severity: str | None = None, tier: str | None = None, run_id: str | None = None
) -> pd.DataFrame:
    query = select(alerts).order_by(alerts.c.id)
    for column, value in (("severity", severity), ("tier", tier), ("run_id", run_id)):
        if value is not None:
            query = query.where(alerts.c[column] == value)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in alerts.columns])


def customer_history(engine: Engine, customer_hash: str) -> list[dict[str, Any]]:
    """Past batch scores of one customer, oldest first."""
    query = (
        select(
            scoring_runs.c.started_at,
            scoring_runs.c.model_version,
            scored_customers.c.pd,
            scored_customers.c.score,
            scored_customers.c.tier,
        )
        .join(scoring_runs, scoring_runs.c.run_id == scored_customers.c.run_id)
        .where(scored_customers.c.customer_hash == customer_hash)
        .order_by(scoring_runs.c.started_at)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            "time": r["started_at"].isoformat(timespec="seconds"),
            "model_version": r["model_version"],
            "pd": float(r["pd"]),
            "score": int(r["score"]),
            "tier": r["tier"],
        }
        for r in rows
    ]


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
