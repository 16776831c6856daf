"""The one way riskgrade opens a database: the audit trail and the portfolio store alike.

``make_engine`` gives an engine with riskgrade's settings (SQLite: WAL journal, a busy
timeout, usable from the writer's threads; other databases: connections checked before use);
``shared_engine`` keeps one such engine per URL and process for readers (queries, the
portfolio store), so a CLI command or an endpoint does not pay a new connection pool per call.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Engine, create_engine, event

SQLITE_BUSY_TIMEOUT_SECONDS = 10


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` (the audit writer owns one; readers use ``shared_engine``)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


@functools.lru_cache(maxsize=8)
def shared_engine(url: str) -> Engine:
    """One engine per URL and process, for reading and for the portfolio store."""
    return make_engine(url)
