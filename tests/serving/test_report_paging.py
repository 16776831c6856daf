"""``GET /v1/customers/{id}/report`` on a customer with a long history: bounded pages with a
cursor to the next (older) one, and the event loop stays free while reports are built.

The history (5,000 service decisions and 30 batch scorings, with ties within and across the
two sources) is inserted straight into the app's temporary audit database: a SQLite file, and
a PostgreSQL database (``postgres`` tests).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_support import SCORER_KEY, SECRET, STORES, Registry, make_settings, new_store_url
from sqlalchemy import insert

from serving.app import create_app
from serving.stores.audit import decisions, hash_customer_id
from serving.stores.engine import shared_engine
from serving.stores.portfolio import open_store, scored_customers, scoring_runs

CUSTOMER = "C-long-history"
N_DECISIONS, N_BATCH = 5_000, 30
START = datetime(2026, 1, 1, tzinfo=UTC)
PAGE = 100  # RISKGRADE_REPORT_HISTORY_LIMIT's default


def decision_rows(key: str) -> list[dict[str, Any]]:
    """Two decisions per second (same timestamp: ties broken by id); the newest is last."""
    return [
        {"request_id": f"r{i}", "item": 0, "decided_at": START + timedelta(seconds=i // 2),
         "endpoint": "score", "model_name": "serving-test", "model_version": "1",
         "customer_hash": key, "pd": 0.1 + i / 100_000, "score": 600 + i % 200,
         "tier": ("low", "medium", "high")[i % 3], "reason_codes": ["duration_in_month"],
         "unseen_categories": [], "latency_ms": 1.0, "caller": "test"}
        for i in range(N_DECISIONS)
    ]  # fmt: skip


def record_history(url: str) -> None:
    key = hash_customer_id(CUSTOMER, SECRET.encode())
    with shared_engine(url).begin() as connection:
        connection.execute(insert(decisions), decision_rows(key or ""))
    runs = [
        {"run_id": f"run-{j}", "started_at": START + timedelta(seconds=40 * j),  # = a decision
         "model_name": "serving-test", "model_version": "1", "source": "test.csv",
         "n_customers": 1}
        for j in range(N_BATCH)
    ]  # fmt: skip
    scored = [
        {"run_id": f"run-{j}", "customer_hash": key, "pd": 0.2, "score": 650, "tier": "medium"}
        for j in range(N_BATCH)
    ]
    with open_store(url).begin() as connection:
        connection.execute(insert(scoring_runs), runs)
        connection.execute(insert(scored_customers), scored)


@pytest.fixture(scope="module", params=STORES)
def client(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("paging")
    settings = make_settings(registry, folder, audit_url=new_store_url(request, folder))
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as test_client:
        record_history(settings.audit_url)
        yield test_client


def report(client: TestClient, **params: Any) -> Any:
    response = client.get(f"/v1/customers/{CUSTOMER}/report", params=params)
    assert response.status_code == 200, response.text[:300]
    return response


def test_a_long_history_comes_in_bounded_pages(client: TestClient) -> None:
    first = report(client)
    body = first.json()
    assert len(first.content) < 50_000  # 15 kB; was 0.75 MB for 5,000 decisions
    assert len(body["history"]) == body["history_limit"] == PAGE
    assert body["history_next"]
    newest = body["history"][-1]  # a page runs oldest first, like the whole history did
    assert (body["score"], body["tier"]) == (newest["score"], newest["tier"])
    assert body["score"] == 600 + (N_DECISIONS - 1) % 200 and newest["source"] == "service"


def test_following_the_cursor_gives_every_entry_once_in_order(client: TestClient) -> None:
    pages, cursor = [], None
    while True:
        body = report(client, **({"before": cursor} if cursor else {})).json()
        pages.append(body["history"])
        assert (body["score"], body["tier"]) == (pages[0][-1]["score"], pages[0][-1]["tier"])
        cursor = body["history_next"]
        if cursor is None:
            break
    entries = [e for page in reversed(pages) for e in page]  # oldest first
    assert len(entries) == N_DECISIONS + N_BATCH
    assert all(len(page) == PAGE for page in pages[:-1])
    assert [e["time"] for e in entries] == sorted(e["time"] for e in entries)
    service = [e["score"] for e in entries if e["source"] == "service"]
    assert service == [600 + i % 200 for i in range(N_DECISIONS)]  # none lost or repeated
    assert sum(e["source"] == "batch" for e in entries) == N_BATCH


def test_the_page_size_is_capped_by_the_setting(client: TestClient) -> None:
    assert len(report(client, limit=7).json()["history"]) == 7
    capped = report(client, limit=1_000_000).json()
    assert len(capped["history"]) == capped["history_limit"] == PAGE
    page = report(client, limit=7, format="html").text
    assert page.split('<section id="history">')[1].count("<li>") == 7


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"before": "yesterday"}, {"before": "1-x2"}, {"format": "pdf"}]
)
def test_bad_paging_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get(f"/v1/customers/{CUSTOMER}/report", params=params)
    assert response.status_code == 422, response.text
    assert next(iter(params)) in response.json()["message"]


def test_health_stays_fast_while_reports_are_built(client: TestClient) -> None:
    """8 callers ask for reports without pause; /healthz must not wait for them (it waited
    for whole reports on the event loop: a median of 1.9 s with 50,000 decisions)."""
    stop, refused = threading.Event(), []

    def ask_reports() -> None:
        while not stop.is_set():
            response = client.get(f"/v1/customers/{CUSTOMER}/report")
            if response.status_code != 200:
                refused.append(response.status_code)

    callers = [threading.Thread(target=ask_reports) for _ in range(8)]
    for caller in callers:
        caller.start()
    try:
        time.sleep(0.5)
        latencies = []
        for _ in range(15):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
    finally:
        stop.set()
        for caller in callers:
            caller.join()
    assert statistics.median(latencies) < 0.5, latencies  # 2.5 s before, 0.1 s after
    assert not refused
