"""Group-committing audit writer: a request awaits the commit of its own decision rows.

Rows from requests that are ready at the same time are inserted in one transaction through
the driver's ``executemany`` (one commit for many decisions). Where the commit runs:

- **SQLite** (a local file, microseconds per commit): inline, in the event loop, once per
  loop iteration (``call_soon``). No thread hand-off, so no GIL contention with the requests.
  WAL checkpoints (copying the log into the database file, with an fsync: milliseconds) do
  not run inside a commit, where every queued request would wait for them (they set the p99
  latency); a background thread runs a passive checkpoint every ``CHECKPOINT_SECONDS``
  (``sqlite3`` releases the GIL while it works).
- **Other databases** (a network round trip per commit): in one writer thread, so the event
  loop never blocks on the database.

If the commit fails, every waiting request gets ``AuditUnavailableError`` (the service
answers 503): no score leaves the service unrecorded.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from sqlalchemy import text

from serving.stores.audit import (
    AuditUnavailableError,
    InsertStatement,
    create_tables,
    metadata,
)
from serving.stores.engine import make_engine

log = logging.getLogger("riskgrade.audit")
CHECKPOINT_SECONDS = 1.0
Waiter = tuple[list[dict[str, Any]], asyncio.Future[None]]


class AuditLog:
    """Writer of decision rows (see module docstring)."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.insert = InsertStatement(self.engine)
        self.inline = self.engine.dialect.name == "sqlite"
        self.connection: Any = None  # DBAPI connection, opened lazily, dropped on failure
        self.write_lock = threading.Lock()
        self.batches: dict[asyncio.AbstractEventLoop, list[Waiter]] = {}
        self.pending: queue.SimpleQueue[list[Waiter] | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.checkpointer: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        """Create the table if needed; start the writer thread for non-SQLite stores."""
        create_tables(metadata, self.engine)
        if not self.inline:
            self.thread = threading.Thread(target=self.run, name="audit-writer", daemon=True)
            self.thread.start()
        else:
            self.checkpointer = threading.Thread(
                target=self.checkpoint_loop, name="audit-checkpoint", daemon=True
            )
            self.checkpointer.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.pending.put(None)
            self.thread.join(timeout=10)
        self.stopping.set()
        if self.checkpointer is not None:
            self.checkpointer.join(timeout=10)
            self.checkpoint()  # leave the database file complete
        with self.write_lock:
            self.close_connection()
        self.engine.dispose()

    async def record(self, rows: list[dict[str, Any]]) -> None:
        """Write ``rows`` and wait for the commit; ``AuditUnavailableError`` if it fails."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        batch = self.batches.setdefault(loop, [])
        batch.append((rows, done))
        if len(batch) == 1:  # first of this loop iteration: schedule one flush for all
            loop.call_soon(self.flush, loop)
        await done

    def flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand this iteration's rows to the writer (inline for SQLite)."""
        batch = self.batches.pop(loop, [])
        if not batch:
            return
        if self.inline:
            settle_all(batch, self.write([row for rows, _ in batch for row in rows]))
        else:
            self.pending.put(batch)

    def run(self) -> None:
        """Writer thread: commit everything pending at once, then wake the requests."""
        while True:
            batches = [self.pending.get()]
            while not self.pending.empty():
                batches.append(self.pending.get())
            waiting = [w for batch in batches if batch is not None for w in batch]
            if waiting:
                error = self.write([row for rows, _ in waiting for row in rows])
                for _, done in waiting:
                    done.get_loop().call_soon_threadsafe(settle, done, error)
            if None in batches:
                return

    def write(self, rows: list[dict[str, Any]]) -> Exception | None:
        """Insert and commit ``rows``; the error to report, or None."""
        with self.write_lock:
            try:
                if self.connection is None:
                    self.connection = self.engine.raw_connection()
                    if self.inline:  # checkpoints are the checkpointer thread's job
                        self.connection.execute("PRAGMA wal_autocheckpoint=0")
                cursor = self.connection.cursor()
                cursor.executemany(self.insert.sql, [self.insert.params(r) for r in rows])
                self.connection.commit()
                cursor.close()
                return None
            except Exception as failure:  # any database failure means "not recorded"
                log.error("audit write failed: %s", type(failure).__name__)
                self.close_connection()
                return AuditUnavailableError(
                    f"the audit store did not record the decision ({type(failure).__name__})"
                )

    def checkpoint_loop(self) -> None:
        while not self.stopping.wait(CHECKPOINT_SECONDS):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the SQLite WAL into the database file without blocking the writer."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as failure:  # the next round retries; writes are unaffected
            log.warning("audit checkpoint failed: %s", type(failure).__name__)

    def close_connection(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:
                log.warning("audit connection did not close cleanly")
            self.connection = None

    def ping(self) -> bool:
        """True if the audit database answers and has the decisions table."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1 FROM decisions LIMIT 1"))
            return True
        except Exception:
            return False


def settle(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def settle_all(batch: list[Waiter], error: Exception | None) -> None:
    for _, done in batch:
        settle(done, error)
