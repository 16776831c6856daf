"""The audit and portfolio stores on a real PostgreSQL server (issue 15, item 1).

The SQLite tests of the stores run on PostgreSQL too (``store_url``: test_alerts_store,
test_audit_time, test_report_paging); this module covers what only a server has:

- the audit writer's PostgreSQL path under load: ``riskgrade serve --workers 2`` (real uvicorn
  processes), 200 concurrent ``POST /v1/score``: 200 answers, 200 rows, grouped commits (rows
  committed together share a transaction id, ``xmin``), reason codes stored as JSON arrays;
- the server stopped mid-run (``pg_ctl stop -m immediate``: a crash) and started again:
  every answer is a 200 with its row or a 503, ``/readyz`` turns not ready within the
  timeout, ``/healthz`` stays fast, and scoring resumes by itself; no password in any answer
  or log line;
- a commit held up by a lock is abandoned before its request gives up (no row after a 503);
  an insert the server refuses keeps ``/readyz`` not ready (the idle probe inserts too);
- a history page bounded by the cursor's "any id" on the server's integer ids, and
  ``riskgrade audit`` / ``alerts`` on PostgreSQL, in one line when it cannot be reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from postgres_support import PostgresServer, free_port
from serving_support import NAME, SCORER_KEY, Registry, make_settings
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from serving.app import create_app
from serving.stores.audit import (
    create_tables,
    customer_decisions,
    decision_row,
    decisions,
    metadata,
    query_decisions,
)
from serving.stores.audit_writer import PROBE_SECONDS
from serving.stores.portfolio import open_store, record_run

pytestmark = pytest.mark.postgres
PASSWORD = "s3cret-pw"  # in the service's URL; trust authentication ignores it
TIMEOUT = 2.0  # RISKGRADE_AUDIT_TIMEOUT_SECONDS of the service
STARTED = "Application startup complete."


def with_password(url: str) -> str:
    return url.replace("://riskgrade@", f"://riskgrade:{PASSWORD}@")


def driver(url: str) -> str:
    """The psycopg connection string of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def rows_of(url: str, request_ids: list[str]) -> list[tuple[str, str, str]]:
    """(request id, transaction id, JSON type of the reason codes) of those requests' rows."""
    with psycopg.connect(driver(url)) as connection:
        return connection.execute(
            "SELECT request_id, xmin::text, json_typeof(reason_codes) FROM decisions "
            "WHERE request_id = ANY(%s)",
            (request_ids,),
        ).fetchall()


@dataclass
class Service:
    """A ``riskgrade serve`` on its own PostgreSQL server, and what the service printed."""

    base: str
    url: str  # the audit database (with the password)
    server: PostgresServer
    lines: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def own_server(postgres_server: PostgresServer) -> Iterator[PostgresServer]:
    """A server of this module's own, stopped and started by the outage test (the session's
    ``postgres_server`` says whether one can run here)."""
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def service(
    own_server: PostgresServer, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """``riskgrade serve --workers 2`` on v1, development mode, its audit store on PostgreSQL."""
    registry.set_champion("1")
    url = with_password(own_server.create_database("served"))
    port, folder = free_port(), tmp_path_factory.mktemp("pg-serve")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RISKGRADE_")}
    environment |= {
        "RISKGRADE_MODE": "development",
        "RISKGRADE_MODEL_NAME": NAME,
        "RISKGRADE_TRACKING_URI": registry.uri,
        "RISKGRADE_AUDIT_URL": url,
        "RISKGRADE_AUDIT_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    riskgrade = str(Path(sys.executable).parent / "riskgrade")
    process = subprocess.Popen(
        [riskgrade, "serve", "--workers", "2", "--port", str(port)],
        cwd=folder, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    running = Service(f"http://127.0.0.1:{port}", url, own_server)
    reader = threading.Thread(target=lambda: running.lines.extend(process.stdout or ()))
    reader.start()
    try:
        deadline = time.monotonic() + 300  # a loaded machine
        while sum(STARTED in line for line in running.lines) < 2:
            assert process.poll() is None, "".join(running.lines)
            assert time.monotonic() < deadline, "".join(running.lines)
            time.sleep(0.2)
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(timeout=10)


def score(base: str, customer: dict[str, Any], customer_id: str) -> httpx.Response:
    body = {"customer_id": customer_id, "customer": customer}
    return httpx.post(f"{base}/v1/score", json=body, timeout=30)


def test_concurrent_scores_are_each_recorded_once_in_grouped_commits(
    service: Service, registry: Registry
) -> None:
    customers = registry.records(n=20)
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda i: score(service.base, customers[i % 20], f"L-{i}"), range(200))
        )
    assert [a.status_code for a in answers] == [200] * 200, answers[0].text
    ids = [a.json()["request_id"] for a in answers]
    rows = rows_of(service.url, ids)
    assert sorted(r[0] for r in rows) == sorted(ids)  # each answer's row, once
    transactions = {r[1] for r in rows}
    assert len(transactions) < len(rows), "every decision was committed on its own"
    assert {r[2] for r in rows} == {"array"}  # JSON, not JSON text in a string
    read = {r["request_id"]: r for r in query_decisions(service.url, limit=1000)}
    for answer in (a.json() for a in answers[:5]):
        row = read[answer["request_id"]]
        assert row["reason_codes"] == [r["feature"] for r in answer["reasons"]]
        assert all(row[k] == answer[k] for k in ("pd", "score", "tier"))
        assert row["decided_at"].utcoffset() == timedelta(0)


@dataclass
class Traffic:
    """Scoring requests sent without pause from a thread: (status, request id or None)."""

    base: str
    customer: dict[str, Any]
    answers: list[tuple[int, str | None, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            try:
                answer = score(self.base, self.customer, f"O-{number}")
            except httpx.HTTPError as error:  # the service itself must never fail
                self.answers.append((0, None, type(error).__name__))
                continue
            body = answer.json() if answer.headers.get("content-type") == "application/json" else {}
            self.answers.append((answer.status_code, body.get("request_id"), answer.text))
            time.sleep(0.02)


def readiness(base: str, times: int = 4) -> list[int]:
    """``/readyz`` asked ``times`` times on new connections (either worker may answer)."""
    return [httpx.get(f"{base}/readyz", timeout=30).status_code for _ in range(times)]


def wait_for(check: Any, seconds: float) -> float:
    """Seconds until ``check()`` is true; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_server_outage_means_503_and_scoring_resumes_when_it_is_back(
    service: Service, registry: Registry
) -> None:
    traffic = Traffic(service.base, registry.records(n=1)[0])
    sender = threading.Thread(target=traffic.run)
    sender.start()
    try:
        wait_for(lambda: len(traffic.answers) >= 5, 60)
        service.server.stop("immediate")  # as if the database server crashed
        down = wait_for(lambda: readiness(service.base) == [503] * 4, TIMEOUT + 10)
        assert down < TIMEOUT + PROBE_SECONDS + 3, f"/readyz said ready {down:.1f} s after"
        for _ in range(5):
            started = time.monotonic()
            assert httpx.get(f"{service.base}/healthz").status_code == 200
            assert time.monotonic() - started < 1.0, "/healthz waited for the database"
        not_ready = httpx.get(f"{service.base}/readyz").json()
        assert not_ready["audit"].startswith("unavailable: the database server cannot be reached")
        refused = score(service.base, registry.records(n=1)[0], "during")
        assert refused.status_code == 503 and "pd" not in refused.json(), refused.text
        assert "audit store" in refused.json()["message"]
        during = len(traffic.answers)

        service.server.start()
        wait_for(lambda: readiness(service.base) == [200] * 4, 60)
        wait_for(lambda: len(traffic.answers) > during and traffic.answers[-1][0] == 200, 30)
    finally:
        traffic.stop.set()
        sender.join(timeout=60)
    statuses = [status for status, _, _ in traffic.answers]
    assert set(statuses) <= {200, 503}, [a for a in traffic.answers if a[0] not in (200, 503)]
    assert 503 in statuses and statuses[-1] == 200
    answered = [request_id for status, request_id, _ in traffic.answers if status == 200]
    assert answered and sorted(r[0] for r in rows_of(service.url, answered)) == sorted(answered)
    shown = "".join(text for _, _, text in traffic.answers) + "".join(service.lines)
    assert PASSWORD not in shown and "Traceback" not in shown, shown[-3000:]


@pytest.fixture(scope="module")
def app_on_postgres(
    registry: Registry,
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, str]]:
    """The app (in process) on v1 with its audit store on the session's PostgreSQL server."""
    registry.set_champion("1")
    url = postgres_server.create_database("app_on_postgres")
    settings = make_settings(
        registry, tmp_path_factory.mktemp("pg-app"), audit_url=url, audit_timeout_seconds=TIMEOUT
    )
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        yield client, url


def count_rows(url: str) -> int:
    with psycopg.connect(driver(url)) as connection:
        found = connection.execute("SELECT count(*) FROM decisions").fetchone()
    return int(found[0]) if found else 0


def test_a_commit_held_up_by_a_lock_is_abandoned_before_its_request_gives_up(
    app_on_postgres: tuple[TestClient, str], registry: Registry
) -> None:
    """Was: the INSERT waited for the lock as long as it was held and committed then, after
    its request had been answered 503 (a row for a decision no one received)."""
    client, url = app_on_postgres
    customer = registry.records(n=1)[0]
    assert client.post("/v1/score", json={"customer": customer}).status_code == 200
    before = count_rows(url)
    with psycopg.connect(driver(url)) as other:  # e.g. a maintenance job
        other.execute("LOCK TABLE decisions IN EXCLUSIVE MODE")
        started = time.monotonic()
        answer = client.post("/v1/score", json={"customer": customer})
        assert answer.status_code == 503, answer.text
        assert time.monotonic() - started < TIMEOUT + 1.0
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "did not commit in time" in ready.json()["audit"]
        time.sleep(0.5)
    time.sleep(0.5)  # lock released: an INSERT still waiting would commit now
    assert count_rows(url) == before
    wait_for(lambda: client.get("/readyz").status_code == 200, 10 * TIMEOUT)
    assert client.post("/v1/score", json={"customer": customer}).status_code == 200


def test_readiness_follows_the_inserts_not_a_select(
    app_on_postgres: tuple[TestClient, str], registry: Registry
) -> None:
    """Inserts refused (a trigger; what a read-only or full server does), reads fine: not
    ready, also after the idle writer's probes (a SELECT probe said ready again)."""
    client, url = app_on_postgres
    customer = registry.records(n=1)[0]
    with psycopg.connect(driver(url), autocommit=True) as other:
        other.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$"
        )
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON decisions "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
        try:
            answer = client.post("/v1/score", json={"customer": customer})
            assert answer.status_code == 503, answer.text
            time.sleep(3 * PROBE_SECONDS)
            ready = client.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert "RaiseException" in ready.json()["audit"]
            assert client.get("/healthz").status_code == 200
        finally:
            other.execute("DROP TRIGGER refuse ON decisions")
            other.execute("DROP FUNCTION refuse()")
    wait_for(lambda: client.get("/readyz").status_code == 200, 10 * TIMEOUT)
    assert client.post("/v1/score", json={"customer": customer}).status_code == 200


def test_a_page_bound_with_any_id_reads_on_both_databases(store_url: str) -> None:
    """The report's cursor bounds the other source's entries at the same instant by
    2**63 - 1 ("any id"); PostgreSQL's integer ids refused that bound (integer out of range:
    the report answered 503 for the page after a batch entry)."""
    engine = sa.create_engine(store_url)
    create_tables(metadata, engine)
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    rows = [
        decision_row(
            now=moment + timedelta(seconds=i // 2), request_id=f"r{i}", item=0,
            endpoint="score", model_name="m", model_version="1", customer_hash="k", pd=0.1,
            score=600 + i, tier="low", reason_codes=["duration"], unseen_categories=[],
            latency_ms=1.0, caller="test",
        )
        for i in range(4)
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.insert(decisions), rows)
    engine.dispose()
    page = customer_decisions(store_url, "k", (moment + timedelta(seconds=1), 2**63 - 1), 10)
    assert [r["score"] for r in page] == [603, 602, 601, 600]


def test_audit_and_alerts_commands_read_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = open_store(postgres_url)
    scored = pd.DataFrame(
        [("a", 0.6, 480, "high"), ("b", 0.1, 700, "low")],
        columns=["customer_hash", "pd", "score", "tier"],
    )
    found = pd.DataFrame([{
        "customer_key": "a", "alert": "pd_ceiling", "severity": "high", "previous_tier": None,
        "tier": "high", "previous_score": None, "score": 480, "pd": 0.6,
        "detail": "PD 0.600 >= ceiling 0.5", "previous_run_id": None,
    }])  # fmt: skip
    run = record_run(engine, ("credit", "3"), "jan.csv", scored, found)
    for name in list(os.environ):
        if name.startswith("RISKGRADE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RISKGRADE_MODEL_NAME", "credit")
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", with_password(postgres_url))
    register_commands()
    listed = CliRunner().invoke(app, ["alerts", "--severity", "high"])
    assert listed.exit_code == 0, listed.output
    assert "1 alert(s)" in listed.output and run[:8] in listed.output
    audited = CliRunner().invoke(app, ["audit"])
    assert audited.exit_code == 0 and "0 decision(s)" in audited.output, audited.output

    unreachable = f"postgresql+psycopg://riskgrade:{PASSWORD}@127.0.0.1:{free_port()}/none"
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", unreachable)
    for command in ("audit", "alerts"):
        refused = CliRunner().invoke(app, [command])
        lines = refused.output.strip().splitlines()
        assert refused.exit_code == 1 and len(lines) == 1, refused.output
        assert "riskgrade:***@127.0.0.1" in lines[0] and PASSWORD not in refused.output
