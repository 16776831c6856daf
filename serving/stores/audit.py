"""The audit table: every scoring decision is a row, written BEFORE the score is returned.

SQLAlchemy 2.x Core over any database it supports: a SQLite file by default (WAL journal), or
PostgreSQL (``postgresql+psycopg://...``, driver installed separately). Customer identifiers
are stored only as HMAC-SHA256 with the service's secret (``hash_customer_id``). The writer
that group-commits rows is ``serving.stores.audit_writer.AuditLog``; ``query_decisions`` reads them
back (``riskgrade audit``); ``prepare_audit_store`` opens the store and makes its schema ready
(``serving.stores.schema_version``: created at head if empty, refused if out of date), or says
in one line why it cannot. The tables are declared here; the migrations build them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from serving.stores.engine import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    VARIABLE,
    DatabaseConfigError,
    parse_url,
    shared_engine,
    shown,
)
from serving.stores.schema_version import check_schema_once, ensure_schema

log = logging.getLogger("riskgrade.audit")
metadata = MetaData()
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("item", Integer, nullable=False, default=0),  # position in a batch
    Column("decided_at", DateTime(timezone=True), nullable=False, index=True),
    Column("endpoint", String(16), nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(32), nullable=False, index=True),
    Column("customer_hash", String(64), nullable=True),
    Column("pd", Float, nullable=False),
    Column("score", Integer, nullable=False),
    Column("tier", String(16), nullable=False, index=True),
    Column("reason_codes", JSON, nullable=True),  # features named as reasons, in order
    Column("unseen_categories", JSON, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("caller", String(64), nullable=False),
    # a customer's decisions newest first, a page at a time (customer_decisions; revision 0002)
    Index("ix_decisions_customer_history", "customer_hash", "decided_at", "id"),
)


def create_tables(tables: MetaData, engine: Engine, attempts: int = 3) -> None:
    """``create_all`` that survives a concurrent creator (riskgrade 0.1's way to create the
    stores; they are now built by the migrations, ``serving.stores.schema_version``).

    Several server workers (or a worker and a batch run) starting on a fresh database race
    between "does the table exist?" and "CREATE TABLE"; the loser sees "already exists". The
    tables are then there, so the next check-first pass finds them; anything else is re-raised.
    """
    for attempt in range(attempts):
        try:
            tables.create_all(engine)
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            log.info("tables were created concurrently; checking again")


def prepare_audit_store(
    url: str, busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS
) -> None:
    """Open the audit store and make its schema ready, as the service does at start-up: an
    empty database is created at the head revision, an out-of-date one is refused
    (``schema_version.ensure_schema``).

    ``DatabaseConfigError`` (a ``ValueError`` with a one-line message naming
    ``RISKGRADE_AUDIT_URL`` and what to do) if the URL cannot work, the store cannot be
    opened or its schema is not this riskgrade's (``SchemaVersionError``: run ``riskgrade db
    upgrade``), so a command can refuse to start in one line instead of a traceback per worker.
    """
    try:
        ensure_schema(url, busy_timeout_seconds)
    except SQLAlchemyError as failure:
        cause = getattr(failure, "orig", None) or failure
        raise DatabaseConfigError(
            f"{VARIABLE}={shown(parse_url(url))}: cannot open the audit store "
            f"({type(cause).__name__}: {str(cause).splitlines()[0][:200]}); check that the "
            "database is reachable and writable"
        ) from None


class InsertStatement:
    """The INSERT compiled once for the engine's dialect, and rows turned into its parameters.

    The writer sends rows through the driver's ``executemany`` directly: SQLAlchemy's
    per-row type processing would cost more than the scoring itself. JSON columns are sent as
    JSON text; SQLite gets timestamps in SQLAlchemy's own text format.
    """

    def __init__(self, engine: Engine) -> None:
        columns = [c.name for c in decisions.columns if c.name != "id"]
        compiled = insert(decisions).compile(dialect=engine.dialect, column_keys=columns)
        self.sql = str(compiled)
        self.order = list(compiled.positiontup or []) if compiled.positional else None
        self.sqlite = engine.dialect.name == "sqlite"
        self.json_columns = {c.name for c in decisions.columns if isinstance(c.type, JSON)}

    def params(self, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = dict(row)
        for column in self.json_columns:
            values[column] = None if values[column] is None else json.dumps(values[column])
        if self.sqlite:
            values["decided_at"] = values["decided_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
        return tuple(values[c] for c in self.order) if self.order is not None else values


class AuditUnavailableError(RuntimeError):
    """The audit store did not record the decision."""


def hash_customer_id(customer_id: str | None, secret: bytes) -> str | None:
    """Keyed hash (HMAC-SHA256, hex) of a customer id: same id, same hash; not reversible."""
    if customer_id is None:
        return None
    return hmac.new(secret, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


def decision_row(now: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A row of the ``decisions`` table (``decided_at`` defaults to now, UTC)."""
    return {"decided_at": now or datetime.now(UTC), **fields}


def query_decisions(
    url: str,
    since: datetime | None = None,
    until: datetime | None = None,
    tier: str | None = None,
    model_version: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Recorded decisions, newest first, filtered by time range, tier and model version.

    ``since`` (inclusive) and ``until`` (exclusive) are compared in UTC, the time the writer
    stores (SQLite: text without an offset; PostgreSQL: ``timestamptz``): a bound with an
    offset is converted, one without is taken as UTC. ``decided_at`` comes back in UTC.
    ``SchemaVersionError`` if the database's schema is not this riskgrade's.
    """
    query = select(decisions).order_by(decisions.c.decided_at.desc(), decisions.c.id.desc())
    if since is not None:
        query = query.where(decisions.c.decided_at >= as_utc(since))
    if until is not None:
        query = query.where(decisions.c.decided_at < as_utc(until))
    if tier is not None:
        query = query.where(decisions.c.tier == tier)
    if model_version is not None:
        query = query.where(decisions.c.model_version == model_version)
    check_schema_once(url)  # an out-of-date schema: refused, naming the command
    with shared_engine(url).connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query.limit(limit))]
    for row in rows:
        row["decided_at"] = as_utc(row["decided_at"])
    return rows


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, aware; a naive one is UTC already (SQLite gives those back), never
    the machine's local time, which ``datetime.astimezone`` would assume."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def customer_decisions(
    url: str,
    customer_hash: str,
    before: tuple[datetime, int] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The service's decisions about one customer (by keyed hash), newest first: at most
    ``limit`` of them, all before ``before`` (``decided_at``, ``id``) when given."""
    query = (
        select(decisions.c.id, decisions.c.decided_at, decisions.c.model_version,
               decisions.c.pd, decisions.c.score, decisions.c.tier, decisions.c.reason_codes)
        .where(decisions.c.customer_hash == customer_hash)
    )  # fmt: skip
    query = newest_first(query, (decisions.c.decided_at, decisions.c.id), before, limit)
    with shared_engine(url).connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def newest_first(
    query: Select[Any],
    key: tuple[ColumnElement[datetime], ColumnElement[int]],
    before: tuple[datetime, int] | None,
    limit: int | None,
) -> Select[Any]:
    """``query`` newest first by ``key`` (a time and a row id, which breaks ties), keeping the
    rows strictly before ``before`` and at most ``limit`` of them: keyset paging, so a page
    deep in a long history costs what the first one does."""
    time, row_id = key
    if before is not None:
        at, last = before
        # a BIGINT bound: the cursor's "any id" (2**63 - 1) against PostgreSQL's integer ids
        last_id = literal(last, BigInteger())
        query = query.where(or_(time < at, and_(time == at, row_id < last_id)))
        query = query.where(time <= at)  # the same rows, as a range the index starts the scan at
    return query.order_by(time.desc(), row_id.desc()).limit(limit)
