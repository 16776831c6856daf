"""``riskgrade audit --since/--until`` (issue 13, item 7): the same instant written with any
offset, with ``Z`` or without an offset (UTC) gives the same rows, on a machine whose local
time is not UTC. The writer stores ``decided_at`` in UTC (SQLite: text without an offset;
PostgreSQL: ``timestamptz``); both databases are tested."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from serving.stores.audit import (
    InsertStatement,
    decision_row,
    prepare_audit_store,
    query_decisions,
)
from serving.stores.engine import make_engine

START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
TIMES = [START + timedelta(minutes=10 * i) for i in range(37)]  # 06:00 to 12:00 UTC
EIGHT_UTC = START + timedelta(hours=2)
SAME_INSTANT = [  # 08:00 UTC, spelled as users spell it
    "2026-03-01T10:00:00+02:00",
    "2026-03-01T08:00:00Z",
    "2026-03-01T08:00:00+00:00",
    "2026-03-01T03:00:00-05:00",
    "2026-03-01T08:00:00",  # no offset: UTC, never the machine's local time
    "2026-03-01 08:00:00",
    str(int(EIGHT_UTC.timestamp())),  # seconds since the epoch
]
SINCE_EIGHT = sum(t >= EIGHT_UTC for t in TIMES)  # 25
BEFORE_EIGHT = sum(t < EIGHT_UTC for t in TIMES)  # 12


@pytest.fixture
def local_time_not_utc() -> Iterator[None]:
    """The process's local time zone is New York's (UTC-5 in March) for the test."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def store(
    store_url: str, tmp_path: Path, local_time_not_utc: None, monkeypatch: pytest.MonkeyPatch
) -> str:
    """An audit store with one decision every 10 minutes, written as the writer writes them."""
    url = store_url
    prepare_audit_store(url)  # as the service creates it
    engine = make_engine(url)
    insert = InsertStatement(engine)
    rows = [
        decision_row(
            now=moment, request_id=f"r{i}", item=0, endpoint="score", model_name="m",
            model_version="1", customer_hash=None, pd=0.1, score=600, tier="low",
            reason_codes=None, unseen_categories=[], latency_ms=1.0, caller="test",
        )
        for i, moment in enumerate(TIMES)
    ]  # fmt: skip
    connection = engine.raw_connection()
    try:
        values: Any = [insert.params(row) for row in rows]  # SQLite: tuples; else dicts
        connection.cursor().executemany(insert.sql, values)
        connection.commit()
    finally:
        connection.close()
    engine.dispose()
    for name in list(os.environ):
        if name.startswith("RISKGRADE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", url)
    monkeypatch.setenv("RISKGRADE_MODEL_NAME", "m")
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return url


def listed(*args: str) -> tuple[int, str]:
    """How many decisions ``riskgrade audit`` lists, and what it printed."""
    register_commands()
    result = CliRunner().invoke(app, ["audit", "--limit", "1000", *args])
    assert result.exit_code == 0, result.output
    found = re.search(r"(\d+) decision\(s\)", result.output)
    assert found is not None, result.output
    return int(found.group(1)), result.output


@pytest.mark.parametrize("instant", SAME_INSTANT)
def test_since_and_until_honour_the_offset(store: str, instant: str) -> None:
    assert listed("--since", instant)[0] == SINCE_EIGHT
    assert listed("--until", instant)[0] == BEFORE_EIGHT


def test_query_compares_in_utc_and_returns_utc(store: str) -> None:
    since = datetime.fromisoformat("2026-03-01T10:00:00+02:00")
    rows = query_decisions(store, since=since, limit=1000)
    assert len(rows) == SINCE_EIGHT
    assert min(r["decided_at"] for r in rows) == EIGHT_UTC  # aware, in UTC
    assert all(r["decided_at"].utcoffset() == timedelta(0) for r in rows)
    naive = query_decisions(store, until=datetime(2026, 3, 1, 8, 0), limit=1000)
    assert len(naive) == BEFORE_EIGHT


def test_listed_times_say_they_are_utc(store: str) -> None:
    _, output = listed("--since", "2026-03-01T13:50:00+02:00")  # 11:50 and 12:00 UTC
    assert "decided_at (UTC)" in output
    assert "2026-03-01 12:00:00" in output and "2026-03-01 11:50:00" in output


def test_a_limit_beyond_the_maximum_is_refused_without_a_traceback(store: str) -> None:
    """Was: OverflowError from SQLite (a 64-bit integer) and a traceback."""
    register_commands()
    result = CliRunner().invoke(app, ["audit", "--limit", str(2**64)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Invalid value for '--limit'" in result.output
    assert listed("--limit", "100000")[0] == len(TIMES)
