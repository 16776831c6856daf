"""The one way riskgrade opens a database: the audit trail and the portfolio store alike.

Every riskgrade database is the one ``RISKGRADE_AUDIT_URL`` names. ``make_engine`` gives an
engine with riskgrade's settings (SQLite: WAL journal, a busy timeout, usable from the writer's
threads; other databases: connections checked before use; PostgreSQL: a connect timeout);
``shared_engine`` keeps one such engine per URL and process for readers (queries, the
portfolio store), so a CLI command or an endpoint does not pay a new connection pool per call.
A URL that cannot work (not a URL, an unknown database, a driver that is not installed, a
SQLite file in a missing directory) is refused with ``DatabaseConfigError``: one line naming
the variable and what to do.
"""

from __future__ import annotations

import functools
import math
import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_SECONDS = 10
VARIABLE = "RISKGRADE_AUDIT_URL"
EXAMPLES = "sqlite:///riskgrade-audit.db or postgresql+psycopg://user@host/database"


class DatabaseConfigError(ValueError):
    """The configured database URL cannot work; the message is one line saying what to do."""


def make_engine(
    url: str, busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS, create: bool = True
) -> Engine:
    """A new engine for ``url`` (the audit writer owns one; readers use ``shared_engine``).

    ``busy_timeout_seconds``: how long a SQLite statement waits for another writer's lock
    (PostgreSQL: how long connecting may take).
    ``create=False``: a SQLite file is opened only if it exists (never created empty), so a
    deleted database cannot be replaced silently by a new one; connections are not pooled
    (one kept in a pool would hold on to a deleted file).
    """
    parsed = parse_url(url)
    file = sqlite_file(parsed)
    if file is not None and not file.parent.is_dir():
        raise DatabaseConfigError(
            f"{VARIABLE}={shown(parsed)}: the directory {file.parent} does not exist; create "
            "it or point the URL at an existing one"
        )
    try:
        if not parsed.drivername.startswith("sqlite"):
            server = server_options(parsed, busy_timeout_seconds)
            return create_engine(parsed, pool_pre_ping=True, connect_args=server)
        options: dict[str, Any] = {
            "connect_args": {"timeout": busy_timeout_seconds, "check_same_thread": False}
        }
        if file is not None and not create:
            options = {
                "creator": functools.partial(open_existing, file, busy_timeout_seconds),
                "poolclass": NullPool,
            }
        engine = create_engine(parsed, **options)
    except NoSuchModuleError:
        raise DatabaseConfigError(
            f"{VARIABLE}={shown(parsed)}: unknown database {parsed.drivername!r}; use {EXAMPLES}"
        ) from None
    except ImportError as missing:
        raise DatabaseConfigError(
            f"{VARIABLE}={shown(parsed)}: its driver (Python module {missing.name!r}) is not "
            "installed in this environment; install it (for postgresql+psycopg: pip install "
            "'psycopg[binary]')"
        ) from None
    event.listen(engine, "connect", sqlite_pragmas)
    return engine


def server_options(url: URL, timeout_seconds: float) -> dict[str, Any]:
    """Driver options for a database server: PostgreSQL (libpq) gives up connecting after
    ``timeout_seconds`` (rounded up; libpq's minimum is 2 s) instead of the operating system's
    minutes when the host does not answer, so the audit writer hears of it in time."""
    if not url.drivername.startswith("postgresql") or "connect_timeout" in url.query:
        return {}
    return {"connect_timeout": max(2, math.ceil(timeout_seconds))}


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        value = "" if "@" in url else f"={url!r}"  # never a password, even a garbled one
        raise DatabaseConfigError(
            f"{VARIABLE}{value} is not a database URL; give e.g. {EXAMPLES}"
        ) from None


def shown(url: URL) -> str:
    """The URL for messages, without its password."""
    return repr(url.render_as_string(hide_password=True))


def sqlite_file(url: str | URL) -> Path | None:
    """The absolute path of a SQLite database file, None for other databases or memory."""
    parsed = parse_url(url) if isinstance(url, str) else url
    database = parsed.database
    if not parsed.drivername.startswith("sqlite") or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # a SQLite URI: left to SQLite
        return None
    return Path(os.path.abspath(database))


def open_existing(file: Path, busy_timeout_seconds: float) -> sqlite3.Connection:
    """A connection to ``file`` if it exists (SQLite's ``mode=rw``: never creates it)."""
    return sqlite3.connect(
        f"file:{urllib.parse.quote(str(file))}?mode=rw",
        uri=True,
        timeout=busy_timeout_seconds,
        check_same_thread=False,
    )


def sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@functools.lru_cache(maxsize=8)
def shared_engine(url: str) -> Engine:
    """One engine per URL and process, for reading and for the portfolio store."""
    return make_engine(url)
