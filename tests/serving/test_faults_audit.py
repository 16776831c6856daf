"""Faults of the audit store (issue 13, items 1, 2, 3 and 13), on a real SQLite file.

1. Another process holding the write lock (``riskgrade score --id-column`` writes to the same
   database) used to stall every endpoint for the 10 s busy timeout: the commit ran on the event
   loop. Now health answers at once and a scoring request waits at most
   ``RISKGRADE_AUDIT_TIMEOUT_SECONDS``, then gets 503.
2. ``/readyz`` answered "ready" while every write failed (its ``SELECT 1`` still worked). Now
   it reports whether a decision can be recorded: the writer's last outcome.
3. Deleting (or replacing) the database file left the service writing into the unlinked
   file: answers with 200 whose rows no one could read. Now it refuses to score until a
   database is back at the configured path.
13. A bad ``RISKGRADE_AUDIT_URL`` stopped start-up with a long traceback; now one line.

The lock is a second ``sqlite3`` connection in ``BEGIN EXCLUSIVE``; "every write fails" is a
trigger refusing inserts (what a full disk does to the writer, while reads still work).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from serving_support import SCORER_KEY, Registry, make_settings
from typer.testing import CliRunner

from serving.app import create_app
from serving.stores.audit_writer import PROBE_SECONDS

pytestmark = pytest.mark.faults
TIMEOUT = 2.0  # RISKGRADE_AUDIT_TIMEOUT_SECONDS in these tests
PROMPT = 1.0  # an endpoint that does not need the store answers well within this (seconds)


@contextlib.contextmanager
def serving(
    registry: Registry, tmp_path: Path, **overrides: Any
) -> Iterator[tuple[TestClient, Path]]:
    """The app on v1 with its own audit database; the client and the database's path."""
    registry.set_champion("1")
    settings = make_settings(registry, tmp_path, audit_timeout_seconds=TIMEOUT, **overrides)
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        yield client, tmp_path / "audit.db"


@contextlib.contextmanager
def other_connection(database: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the audit database (autocommit: we say BEGIN)."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """What a long batch run does to the service: hold SQLite's write lock."""
    with other_connection(database) as connection:
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")


def score(client: TestClient, registry: Registry) -> httpx.Response:
    return client.post("/v1/score", json={"customer": registry.records(n=1)[0]})


def timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = call()
    return time.monotonic() - started, response


def recorded(database: Path, request_id: str) -> int:
    """Rows of ``request_id`` in the file at ``database``, read by a new connection."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        query = "SELECT count(*) FROM decisions WHERE request_id = ?"
        count: int = connection.execute(query, (request_id,)).fetchone()[0]
    return count


def wait_until_ready(client: TestClient, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while (response := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    return response


def assert_refused(response: httpx.Response) -> None:
    """503, saying the audit store did not record it, and no score."""
    assert response.status_code == 503, response.text
    assert "audit store" in response.json()["message"] and "pd" not in response.json()


def test_a_locked_store_stalls_no_other_endpoint_and_scoring_waits_at_most_the_timeout(
    registry: Registry, tmp_path: Path
) -> None:
    with serving(registry, tmp_path) as (client, database):
        assert score(client, registry).status_code == 200
        with write_lock_held(database), ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            pending = pool.submit(score, client, registry)
            time.sleep(0.3)  # the scoring request is now waiting for the lock
            for path in ("/healthz", "/readyz", "/metrics", "/v1/model"):
                elapsed, response = timed(lambda p=path: client.get(p))  # type: ignore[misc]
                assert elapsed < PROMPT, f"{path} waited {elapsed:.1f} s for the audit store"
                assert response.status_code in (200, 503)
            locked_out = pending.result(timeout=60)
            waited = time.monotonic() - started
            assert_refused(locked_out)
            assert waited < TIMEOUT + 2.0, f"a scoring request waited {waited:.1f} s"
            not_ready = client.get("/readyz")  # the last write failed: not ready
            assert not_ready.status_code == 503, not_ready.text
            assert not_ready.json()["audit"].startswith("unavailable")
        # lock released: ready again without any scoring traffic, then scores are recorded
        assert wait_until_ready(client, 10 * TIMEOUT).json()["audit"] == "ok"
        answer = score(client, registry)
        assert answer.status_code == 200 and recorded(database, answer.json()["request_id"]) == 1


def test_readiness_follows_the_writes_not_a_select(registry: Registry, tmp_path: Path) -> None:
    with serving(registry, tmp_path) as (client, database):
        assert client.get("/readyz").status_code == 200
        with other_connection(database) as other:  # every insert now fails; reads still work
            other.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON decisions "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        for _ in range(3):
            assert_refused(score(client, registry))
        for pause in (0.0, 3 * PROBE_SECONDS):  # still so after the idle writer's probes
            time.sleep(pause)
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["status"] == "not ready"
            assert ready.json()["audit"].startswith("unavailable")
        assert client.get("/healthz").status_code == 200
        with other_connection(database) as other:
            other.execute("DROP TRIGGER refuse")
        assert wait_until_ready(client, 10 * TIMEOUT).status_code == 200
        answer = score(client, registry)
        assert answer.status_code == 200 and recorded(database, answer.json()["request_id"]) == 1


def test_a_deleted_database_refuses_scoring_until_one_is_back(
    registry: Registry, tmp_path: Path
) -> None:
    with serving(registry, tmp_path) as (client, database):
        assert score(client, registry).status_code == 200
        backup = tmp_path / "backup.db"
        with (
            contextlib.closing(sqlite3.connect(database)) as source,
            contextlib.closing(sqlite3.connect(backup)) as copy,
        ):
            source.backup(copy)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)

        for _ in range(5):
            assert_refused(score(client, registry))
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "deleted" in ready.json()["audit"], ready.text
        time.sleep(3 * PROBE_SECONDS)  # the idle writer probes: still refused, no empty file
        assert_refused(score(client, registry))
        assert not database.exists(), "the service started a new, empty audit database"
        assert client.get("/healthz").status_code == 200

        shutil.copy(backup, database)  # the store is back
        answer = score(client, registry)
        assert answer.status_code == 200, answer.text
        assert recorded(database, answer.json()["request_id"]) == 1
        assert client.get("/readyz").status_code == 200


def test_a_replaced_database_gets_the_rows_and_keeps_its_own_files(
    registry: Registry, tmp_path: Path
) -> None:
    """A restore done with ``mv`` while the service runs, another process already using the
    restored database: the rows go to it, and that process's WAL survives the service closing
    its connection to the old file."""
    with serving(registry, tmp_path) as (client, database):
        assert score(client, registry).status_code == 200
        replacement = tmp_path / "replacement.db"
        with (
            contextlib.closing(sqlite3.connect(database)) as source,
            contextlib.closing(sqlite3.connect(replacement)) as copy,
        ):
            source.backup(copy)
        replacement.replace(database)
        for suffix in ("-wal", "-shm"):  # the old database's; the service still has them open
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        with other_connection(database) as other:  # e.g. a batch run, on the restored file
            other.execute("PRAGMA journal_mode=WAL")
            other.execute("CREATE TABLE other_process (x INTEGER)")
            other.execute("INSERT INTO other_process VALUES (1)")  # in the WAL, not yet copied
            answers = [score(client, registry) for _ in range(3)]
            for answer in answers:  # refused, or recorded where anyone can read it
                if answer.status_code != 503:
                    assert answer.status_code == 200, answer.text
                    assert recorded(database, answer.json()["request_id"]) == 1
            assert answers[-1].status_code == 200
            with contextlib.closing(sqlite3.connect(database)) as reader:
                rows = reader.execute("SELECT count(*) FROM other_process").fetchone()[0]
            assert rows == 1, "the other process's WAL was deleted"


BAD_URLS = {
    "not a URL": ("riskgrade-audit.db", "not a database URL"),
    "a garbled URL": ("postgresql://scorer:s3cret@localhost:port/audit", "not a database URL"),
    "missing directory": ("sqlite:///{tmp}/no-such-directory/audit.db", "no-such-directory"),
    "missing driver": ("postgresql+psycopg://scorer:s3cret@localhost/audit", "psycopg"),
    "unknown database": ("nosuchdb://localhost/audit", "nosuchdb"),
    "a directory, not a file": ("sqlite:///{tmp}", "cannot open the audit store"),
}


@pytest.mark.parametrize(("url", "names"), BAD_URLS.values(), ids=BAD_URLS.keys())
def test_a_bad_audit_url_refuses_start_up_in_one_line(
    registry: Registry, tmp_path: Path, url: str, names: str
) -> None:
    settings = make_settings(registry, tmp_path, audit_url=url.format(tmp=tmp_path))
    with pytest.raises(Exception) as refused, TestClient(create_app(settings)):
        pass
    message = str(refused.value)
    assert isinstance(refused.value, ValueError), f"{type(refused.value).__name__}: {message}"
    assert "\n" not in message and len(message) < 300, message
    assert "RISKGRADE_AUDIT_URL" in message and names in message
    assert "s3cret" not in message


def test_serve_refuses_a_bad_audit_url_in_one_line(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.cli import app, register_commands

    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(args))
    monkeypatch.setenv("RISKGRADE_MODEL_NAME", "serving-test")
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", registry.uri)
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", f"sqlite:///{tmp_path}/no-such-directory/a.db")
    register_commands()
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code != 0 and not started
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "RISKGRADE_AUDIT_URL" in lines[0], result.output
