"""The schema version of riskgrade's database (audit trail and portfolio store) and the rule
every process that opens it follows.

The schema is built and changed by the Alembic revisions of ``serving.stores.migrations``;
the version is recorded in the table ``riskgrade_schema_version`` (``VERSION_TABLE``). What a
process finds when it opens the database (``ensure_schema``: the service at start-up, the
portfolio store for ``riskgrade score``'s run recording and ``riskgrade alerts``;
``riskgrade audit`` checks without creating anything):

- no riskgrade table: the schema is created at head (the quick start needs no command);
- the head revision: it goes ahead;
- an older revision: it refuses in one line, naming ``riskgrade db upgrade`` (``upgrade``),
  because an upgrade may rebuild an index over the whole audit trail: the operator runs it,
  once, not every worker at start-up;
- riskgrade 0.1's tables without a version table: that release's schema, revision 0001
  (``RELEASE_REVISION``), an older revision like any other;
- a revision this riskgrade does not know (a newer riskgrade upgraded the database): refused.

Creating and upgrading run in one transaction that first takes the database's schema lock
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock; both roll DDL
back with the transaction): several workers starting on an empty database do not race; the
others wait, then find the schema at head. The check itself only reads.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, inspect, text

from serving.stores.engine import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    VARIABLE,
    DatabaseConfigError,
    make_engine,
    parse_url,
    shown,
)
from serving.stores.migrations import LOCATION

VERSION_TABLE = "riskgrade_schema_version"
RELEASE_REVISION = "0001"  # riskgrade 0.1's schema, created without a version table
RELEASE_TABLES = frozenset({"decisions", "scoring_runs", "scored_customers", "alerts"})
ADVISORY_LOCK = 0x7269736B67726164  # "riskgrad": PostgreSQL's lock id for schema changes
UPGRADE = "run `riskgrade db upgrade`"

StepCallback = Callable[[str, str, float], None]  # revision, what it does, seconds


class SchemaVersionError(DatabaseConfigError):
    """The database's schema is not the one this riskgrade needs; one line saying what to do."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: ``revision`` None when it has no riskgrade table;
    ``recorded`` False when no version table says so (empty, or made by riskgrade 0.1)."""

    revision: str | None
    recorded: bool

    def describe(self) -> str:
        if self.revision is None:
            return "empty (no riskgrade table)"
        if not self.recorded:
            return f"revision {self.revision} (riskgrade 0.1's tables, no version recorded)"
        return f"revision {self.revision}"


def migrations_config() -> Config:
    """Alembic's configuration, in code: the migrations package, no ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(LOCATION).replace("%", "%%"))
    return config


@functools.cache
def migrations() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrations_config())


def head_revision() -> str:
    """The revision this riskgrade's code needs."""
    head = migrations().get_current_head()
    assert head is not None, "serving/stores/migrations/versions has no revision"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in migrations().walk_revisions())


def read_state(connection: Connection) -> SchemaState:
    """The database's revision, recorded or (riskgrade 0.1's tables) inferred."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        recorded = context.get_current_revision()
        if recorded is not None:
            return SchemaState(recorded, recorded=True)
    return SchemaState(RELEASE_REVISION if tables & RELEASE_TABLES else None, recorded=False)


def refusal(state: SchemaState, head: str, known: Collection[str]) -> str | None:
    """Why a riskgrade whose migrations end at ``head`` (of ``known`` revisions) cannot use a
    database in ``state``; None when it can (at head, or empty: created at head)."""
    if state.revision is None or state.revision == head:
        return None
    if state.revision not in known:
        return (
            f"the database schema is at revision {state.revision}, this riskgrade needs {head} "
            "and does not know that revision: a newer riskgrade upgraded the database; use it"
        )
    return f"the database schema is at {state.describe()}, this riskgrade needs {head}: {UPGRADE}"


def ensure_schema(
    url: str, busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS, create: bool = True
) -> None:
    """Make ``url``'s database ready for this riskgrade or refuse (the rule above):
    ``SchemaVersionError`` (a ``DatabaseConfigError``) naming the variable and the command;
    the database's own errors (``SQLAlchemyError``) pass through. ``create=False``: an empty
    database is left empty (a reader finds nothing in it rather than creating it)."""
    engine = make_engine(url, busy_timeout_seconds)
    try:
        with engine.connect() as connection:
            state = read_state(connection)
    finally:
        engine.dispose()
    if state.revision is None and create:  # empty: create it, unless another process does
        with schema_lock(url, busy_timeout_seconds) as connection:
            state = read_state(connection)
            if state.revision is None:
                apply_migrations(connection)
                return
    problem = refusal(state, head_revision(), known_revisions())
    if problem is not None:
        raise SchemaVersionError(f"{VARIABLE}={shown(parse_url(url))}: {problem}")


@functools.lru_cache(maxsize=8)
def check_schema_once(url: str) -> None:
    """``ensure_schema`` for readers called again and again (``riskgrade audit``): once per
    URL and process, creating nothing (a refusal is not cached: the next call checks again)."""
    ensure_schema(url, create=False)


def current_state(url: str) -> SchemaState:
    """Where ``url``'s database stands; nothing is created (a missing SQLite file is refused
    by the engine factory's ``create=False``, as ``sqlite3.OperationalError``)."""
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as connection:
            return read_state(connection)
    finally:
        engine.dispose()


def upgrade(url: str, on_step: StepCallback | None = None) -> tuple[SchemaState, SchemaState]:
    """Bring ``url``'s database to head under the schema lock; ``(before, after)``.

    riskgrade 0.1's tables become revision 0001 (the tables it lacks are created) on the way;
    ``on_step(revision, what it does, seconds)`` after each revision applied; a database
    ahead of head is refused (``SchemaVersionError``), and nothing is changed then.
    """
    head = head_revision()
    with schema_lock(url) as connection:
        before = read_state(connection)
        if before.revision is not None and before.revision not in known_revisions():
            problem = refusal(before, head, known_revisions())
            raise SchemaVersionError(f"{VARIABLE}={shown(parse_url(url))}: {problem}")
        if before.revision != head or not before.recorded:
            apply_migrations(connection, on_step)
        after = read_state(connection)
    return before, after


def apply_migrations(connection: Connection, on_step: StepCallback | None = None) -> None:
    """Run the revisions from the database's recorded one (none: all) to head, on
    ``connection``, inside its transaction (env.py begins none of its own)."""
    config = migrations_config()
    config.attributes["connection"] = connection
    if on_step is not None:
        config.attributes["on_version_apply"] = step_reporter(on_step)
    command.upgrade(config, "head")


def step_reporter(on_step: StepCallback) -> Callable[..., None]:
    """An Alembic ``on_version_apply`` callback: each revision, its docstring's first line
    and the seconds since the previous one."""
    last = [time.monotonic()]

    def report(*, step: Any, **_: Any) -> None:
        now = time.monotonic()
        doc = (getattr(step.up_revision, "doc", "") or "").strip()
        on_step(str(step.up_revision_id), doc.splitlines()[0] if doc else "", now - last[0])
        last[0] = now

    return report


@contextlib.contextmanager
def schema_lock(
    url: str, busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS
) -> Iterator[Connection]:
    """A connection in a transaction that holds the database's lock for schema changes,
    committed when the block ends (rolled back on an error); other databases: no lock, the
    transaction only."""
    engine = make_engine(url, busy_timeout_seconds)
    if engine.dialect.name == "sqlite":
        lock_on_begin(engine)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK})
            yield connection
    finally:
        engine.dispose()


def lock_on_begin(engine: Engine) -> None:
    """SQLite: transactions begin with ``BEGIN IMMEDIATE`` (the write lock, waiting up to the
    busy timeout) and include DDL. Python's sqlite3 would otherwise commit DDL as it goes
    and begin a transaction only before the first INSERT."""

    @event.listens_for(engine, "connect")
    def no_implicit_transactions(connection: Any, _: Any) -> None:
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
