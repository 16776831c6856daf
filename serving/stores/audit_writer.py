"""Group-committing audit writer: a request awaits, for a bounded time, the commit of its rows.

One writer thread owns the database connection. A request hands it its rows (already turned
into driver parameters) and awaits a future; the thread inserts every row waiting at that
moment in one transaction (``executemany``: one commit for many decisions) and wakes them. The
event loop never touches the database, so nothing but scoring waits for it (another process's
lock, a slow disk, a network round trip):

- a request waits at most ``timeout`` seconds (``RISKGRADE_AUDIT_TIMEOUT_SECONDS``), then gets
  ``AuditUnavailableError`` (503, nothing scored). SQLite's busy timeout for a commit is the
  time left to its oldest request (less ``MARGIN_SECONDS``), so the writer gives up before the
  requests do and they hear why; rows of requests that gave up before their turn are not
  written.
- ``problem()`` says why a decision could not be recorded now (readiness): the outcome of the
  writer's last attempt, a commit stuck beyond the timeout, or a SQLite file that is not the
  one open. No database access, so ``/readyz`` never waits for the store. When idle for
  ``PROBE_SECONDS`` the writer probes the store (the decision INSERT, rolled back; on a
  server it leaves a gap in the ids), so a worker that gets no traffic because it is not
  ready sees the store come back, and one whose inserts are refused stays not ready. A probe
  cannot see a full disk (nothing reaches it): that shows at the next real commit.
- PostgreSQL: each commit's statements give up at the time left to its oldest request (less
  ``MARGIN_SECONDS``; ``SET LOCAL statement_timeout``), as SQLite's busy timeout does, so a
  row held up by a lock or a slow server is never committed after its request heard 503. A
  failed connection is discarded, never reused; a reason names the SQLSTATE, never the
  server's message (which names hosts and users), since it reaches clients in 503 answers;
  the log line gets the message's first line, without the URL's password.
- SQLite: the files at the configured path (database, WAL, shared memory) must be the ones
  open (device and inode, compared before and after every commit). Deleted or replaced: the
  connection is dropped, that commit's requests get 503, and a new connection opens the file
  at the path only if there is one (``make_engine(create=False)``): scoring resumes when a
  database is back there (restored, or moved into place), never on a new empty file.
- SQLite WAL checkpoints (copying the log into the database file, with an fsync: milliseconds)
  do not run inside a commit, where every queued request would wait for them; a background
  thread runs a passive checkpoint every ``CHECKPOINT_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.stores.audit import (
    AuditUnavailableError,
    InsertStatement,
    decision_row,
    prepare_audit_store,
)
from serving.stores.engine import make_engine, parse_url, shown, sqlite_file

log = logging.getLogger("riskgrade.audit")
CHECKPOINT_SECONDS = 1.0
PROBE_SECONDS = 1.0
MARGIN_SECONDS = 0.1  # the writer gives up this much before its requests do: they hear why
NOT_RECORDED = "the audit store did not record the decision"
FILE_GONE = "its database file was deleted or replaced; restore it (scoring resumes then)"
LOCKED = "it is locked by another writer"
TOO_SLOW = "it did not commit in time: locked or overloaded"
UNREACHABLE = "the database server cannot be reached"
CONNECTION_LOST = ("57P01", "57P02", "57P03")  # shutdown (admin, crash), cannot connect now
PROBE_ROW = decision_row(
    now=datetime(2000, 1, 1, tzinfo=UTC), request_id="readiness-probe", item=0,
    endpoint="probe", model_name="", model_version="", customer_hash=None, pd=0.0, score=0,
    tier="", reason_codes=None, unseen_categories=[], latency_ms=0.0, caller="probe",
)  # fmt: skip
SUFFIXES = ("", "-wal", "-shm")  # a SQLite database in WAL mode: its three files
FileIds = tuple[tuple[int, int] | None, ...]  # (device, inode) of each, None: absent


@dataclass(frozen=True)
class Waiter:
    """One request's rows (driver parameters), its future and when it stops waiting."""

    params: list[Any]
    done: asyncio.Future[None]
    deadline: float  # time.monotonic()


class AuditLog:
    """Writer of decision rows (see module docstring)."""

    def __init__(self, url: str, timeout_seconds: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout_seconds
        self.engine = make_engine(url, timeout_seconds, create=False)
        self.insert = InsertStatement(self.engine)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.postgres = self.engine.dialect.name == "postgresql"
        self.file = sqlite_file(url)
        self.connection: Any = None  # DBAPI connection, opened lazily, dropped on failure
        self.opened: FileIds | None = None  # the files that connection has open
        self.outcome: str | None = None  # why the last attempt failed; None: it succeeded
        self.busy_since: float | None = None
        self.write_lock = threading.Lock()
        self.batches: dict[asyncio.AbstractEventLoop, list[Waiter]] = {}
        self.pending: queue.SimpleQueue[list[Waiter] | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.checkpointer: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        """Create the table if needed (``DatabaseConfigError`` if the store cannot be opened);
        start the writer thread and, for SQLite, the checkpointer."""
        prepare_audit_store(self.url, self.timeout)
        self.thread = threading.Thread(target=self.run, name="audit-writer", daemon=True)
        self.thread.start()
        if self.file is not None:
            self.checkpointer = threading.Thread(
                target=self.checkpoint_loop, name="audit-checkpoint", daemon=True
            )
            self.checkpointer.start()

    def stop(self) -> None:
        self.pending.put(None)
        if self.thread is not None:
            self.thread.join(timeout=self.timeout + 10)
        self.stopping.set()
        if self.checkpointer is not None:
            self.checkpointer.join(timeout=10)
            if self.problem() is None:
                self.checkpoint()  # leave the database file complete
        with self.write_lock:
            self.drop_connection()
        self.engine.dispose()

    async def record(self, rows: list[dict[str, Any]]) -> None:
        """Write ``rows`` and wait for the commit, at most ``timeout`` seconds;
        ``AuditUnavailableError`` if it fails or takes longer."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        params = [self.insert.params(row) for row in rows]
        batch = self.batches.setdefault(loop, [])
        batch.append(Waiter(params, done, time.monotonic() + self.timeout))
        if len(batch) == 1:  # first of this loop iteration: one hand-off for all of them
            loop.call_soon(self.hand_over, loop)
        try:
            await asyncio.wait_for(done, self.timeout)
        except TimeoutError:
            reason = f"no answer within {self.timeout:g} s"
            raise AuditUnavailableError(f"{NOT_RECORDED} ({reason})") from None

    def hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give this loop iteration's requests to the writer thread (one wake-up)."""
        self.pending.put(self.batches.pop(loop, []))

    def problem(self) -> str | None:
        """Why a decision could not be recorded now, or None (no database access)."""
        busy = self.busy_since
        if busy is not None and time.monotonic() - busy > self.timeout:
            return f"no answer for {time.monotonic() - busy:.0f} s"
        return self.file_problem() or self.outcome

    def run(self) -> None:
        """Writer thread: commit everything pending at once, then wake the requests."""
        while True:
            try:
                batches = [self.pending.get(timeout=PROBE_SECONDS)]
            except queue.Empty:
                self.probe()
                continue
            while not self.pending.empty():
                batches.append(self.pending.get())
            live = [w for b in batches if b is not None for w in b if not w.done.done()]
            if live:  # oldest first: its deadline bounds the commit
                problem = self.attempt([p for w in live for p in w.params], live[0].deadline)
                wake(live, None if problem is None else f"{NOT_RECORDED} ({problem})")
            if None in batches:
                return

    def write(self, rows: list[dict[str, Any]]) -> str | None:
        """Insert and commit ``rows`` from the calling thread; why it failed, or None."""
        params = [self.insert.params(row) for row in rows]
        return self.attempt(params, time.monotonic() + self.timeout)

    def probe(self) -> None:
        """What a write would meet now, recording nothing (the idle writer's check)."""
        self.attempt([self.insert.params(PROBE_ROW)], time.monotonic() + self.timeout, False)

    def attempt(self, params: list[Any], deadline: float, commit: bool = True) -> str | None:
        """Insert ``params`` and commit (roll back: ``commit=False``) by ``deadline``; the
        reason it failed, or None. The outcome is kept for ``problem``."""
        with self.write_lock:
            self.busy_since = time.monotonic()
            detail = None
            try:
                problem = self.execute(params, deadline, commit)
            except Exception as failure:  # any database failure means "not recorded"
                problem = reason_for(failure, self.file_problem())
                detail = None if self.sqlite else first_line(failure)
            finally:
                self.busy_since = None
            if problem is not None:
                self.drop_connection(broken=True)
            if problem != self.outcome:
                log_change(problem, self.url, detail)
            self.outcome = problem
            return problem

    def execute(self, params: list[Any], deadline: float, commit: bool) -> str | None:
        if self.connection is not None and self.file_problem() is not None:
            self.drop_connection()  # open the file at the path now, if there is one
        connection = self.connect()
        wait_ms = max(1, int((deadline - time.monotonic() - MARGIN_SECONDS) * 1000))
        if self.sqlite:
            connection.execute(f"PRAGMA busy_timeout = {wait_ms}")
        cursor = connection.cursor()
        try:
            if self.postgres:  # this transaction only
                cursor.execute(f"SET LOCAL statement_timeout = {wait_ms}")
            cursor.executemany(self.insert.sql, params)
            if commit:
                connection.commit()
            else:
                connection.rollback()
        finally:
            cursor.close()
        return self.file_problem()  # committed into the file at the path, not an unlinked one

    def connect(self) -> Any:
        if self.connection is None:
            before = file_ids(self.file)
            if self.file is not None and before[0] is None:
                raise FileNotFoundError(self.file)
            self.connection = self.engine.raw_connection()
            if self.sqlite:  # checkpoints are the checkpointer thread's job
                self.connection.execute("PRAGMA wal_autocheckpoint=0")
            self.opened = file_ids(self.file)
            if self.file is not None and self.opened[0] != before[0]:
                raise FileNotFoundError(self.file)  # replaced while we opened it: retry
        return self.connection

    def file_problem(self) -> str | None:
        """SQLite: the file at the path is missing or is not the one open."""
        if self.file is None:
            return None
        now, opened = file_ids(self.file), self.opened
        if now[0] is None or (opened is not None and now != opened):
            return FILE_GONE
        return None

    def drop_connection(self, broken: bool = False) -> None:
        """Close the writer's connection (SQLite: not pooled). SQLite does not checkpoint or
        delete ``<path>-wal`` when the file it has open is no longer the one at the path.
        ``broken`` (a failed attempt): a server's connection is discarded, not returned to
        the pool, where the pool's reset would fail on it with a logged traceback."""
        connection, self.connection, self.opened = self.connection, None, None
        if connection is not None:
            try:
                if broken and not self.sqlite:
                    connection.invalidate()
                else:
                    connection.close()
            except Exception:
                log.warning("audit connection did not close cleanly")

    def checkpoint_loop(self) -> None:
        while not self.stopping.wait(CHECKPOINT_SECONDS):
            if self.problem() is None:
                self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the SQLite WAL into the database file without blocking the writer."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as failure:  # the next round retries; writes are unaffected
            log.warning("audit checkpoint failed: %s", type(failure).__name__)


def file_ids(file: Path | None) -> FileIds:
    """Device and inode of a SQLite database file, its WAL and its shared memory."""
    if file is None:
        return ()
    return tuple(file_id(Path(f"{file}{suffix}")) for suffix in SUFFIXES)


def file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def reason_for(failure: Exception, file_problem: str | None) -> str:
    """Why a write failed, in a few words fit for a 503 and ``/readyz`` (no SQL, no path)."""
    if isinstance(failure, FileNotFoundError) or file_problem is not None:
        return FILE_GONE
    error = getattr(failure, "orig", None) or failure  # SQLAlchemy wraps the driver's error
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return LOCKED
    if isinstance(error, sqlite3.Error):
        return f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
    return server_reason(error)


def server_reason(error: BaseException) -> str:
    """A database server's failure by its class and SQLSTATE (PostgreSQL's error code), not
    its message, which names hosts and users."""
    name = type(error).__name__
    code = getattr(error, "sqlstate", None)  # psycopg; None: no answer from the server
    if code == "57014":  # query_canceled: the statement timeout of the commit
        return TOO_SLOW
    described = name if code is None else f"{name}, SQLSTATE {code}"
    if code in CONNECTION_LOST or (code or "").startswith("08"):  # 08: connection exception
        return f"{UNREACHABLE}: {described}"
    if code is None and name in ("OperationalError", "InterfaceError"):
        return f"{UNREACHABLE}: {described}"
    return described


def first_line(failure: Exception) -> str:
    """The driver's own first line of a failure, for the log."""
    error = getattr(failure, "orig", None) or failure
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def log_change(problem: str | None, url: str, detail: str | None = None) -> None:
    parsed = parse_url(url)
    where = shown(parsed)
    if problem is None:
        log.info("audit store %s records decisions again", where)
        return
    if detail and parsed.password:
        detail = detail.replace(str(parsed.password), "***")
    suffix = f" [{detail}]" if detail and detail not in problem else ""
    log.error("audit store %s cannot record decisions: %s%s", where, problem, suffix)


def wake(waiting: list[Waiter], problem: str | None) -> None:
    """Settle each request's future in its own event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = defaultdict(list)
    for waiter in waiting:
        by_loop[waiter.done.get_loop()].append(waiter.done)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: no one waits any more
            loop.call_soon_threadsafe(settle_all, futures, problem)


def settle_all(futures: list[asyncio.Future[None]], problem: str | None) -> None:
    for done in futures:
        if done.done():  # gave up waiting (timed out or cancelled)
            continue
        if problem is None:
            done.set_result(None)
        else:
            done.set_exception(AuditUnavailableError(problem))
