"""The portfolio store: each customer's last scored state, and a run seen only whole, with its
alerts (``serving.stores.portfolio``), on a SQLite file and on PostgreSQL, with literal runs."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from serving.stores import portfolio
from serving.stores.portfolio import (
    last_states,
    list_runs,
    load_run,
    open_store,
    query_alerts,
    record_run,
)

MODEL = ("credit", "3")


@pytest.fixture
def engine(store_url: str) -> Engine:
    return open_store(store_url)


def scored(*rows: tuple[str, float, int, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_hash", "pd", "score", "tier"])


def states(engine: Engine) -> set[tuple[str, float, int, str, str]]:
    frame = last_states(engine)
    return set(frame[["customer_hash", "pd", "score", "tier", "run_id"]].itertuples(index=False))


def test_an_empty_store_has_no_state(engine: Engine) -> None:
    frame = last_states(engine)
    assert frame.empty
    assert list(frame.columns) == ["customer_hash", "pd", "score", "tier", "run_id"]


def test_a_customer_missing_from_a_run_keeps_their_last_scored_state(engine: Engine) -> None:
    first = record_run(
        engine, MODEL, "jan.csv", scored(("a", 0.1, 700, "low"), ("b", 0.6, 480, "high"))
    )
    second = record_run(engine, MODEL, "feb.csv", scored(("a", 0.2, 680, "medium")))
    assert states(engine) == {
        ("a", 0.2, 680, "medium", second),
        ("b", 0.6, 480, "high", first),  # not in February's file: January is still their state
    }
    third = record_run(engine, MODEL, "mar.csv", scored(("b", 0.3, 560, "medium")))
    assert states(engine) == {("a", 0.2, 680, "medium", second), ("b", 0.3, 560, "medium", third)}


def alert_row(customer: str, previous_run: str | None) -> dict[str, object]:
    return {
        "customer_key": customer, "alert": "pd_ceiling", "severity": "high",
        "previous_tier": None, "tier": "high", "previous_score": None, "score": 480,
        "pd": 0.6, "detail": "PD 0.600 >= ceiling 0.5", "previous_run_id": previous_run,
    }  # fmt: skip


def test_alerts_are_stored_with_their_run_and_the_state_they_compare_with(engine: Engine) -> None:
    first = record_run(engine, MODEL, "jan.csv", scored(("a", 0.1, 700, "low")))
    found = pd.DataFrame([alert_row("a", first), alert_row("n", None)])
    second = record_run(engine, MODEL, "feb.csv", scored(("a", 0.6, 480, "high")), found)
    stored = query_alerts(engine, run_id=second)
    assert stored["customer_hash"].tolist() == ["a", "n"]
    assert stored["previous_run_id"].iloc[0] == first
    assert pd.isna(stored["previous_run_id"].iloc[1])  # a customer not scored before
    assert query_alerts(engine, run_id=first).empty


def test_a_run_whose_alerts_cannot_be_stored_is_not_stored(engine: Engine) -> None:
    broken = pd.DataFrame([alert_row("a", None) | {"severity": None}])  # NOT NULL column
    with pytest.raises(IntegrityError):
        record_run(engine, MODEL, "jan.csv", scored(("a", 0.6, 480, "high")), broken)
    assert list_runs(engine).empty and last_states(engine).empty  # nothing half-recorded


def test_a_large_run_is_recorded_in_short_transactions_and_seen_only_when_whole(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite locks the whole database per writer: one transaction for a large run made every
    audited scoring request of the service wait and fail (503). The rows go in in chunks; no
    reader sees the run, its customers or its alerts before its own row is committed last
    (on PostgreSQL too, where the recorder does not pause)."""
    monkeypatch.setattr(portfolio, "CHUNK_ROWS", 10)
    before = record_run(engine, MODEL, "jan.csv", scored(("c0", 0.1, 700, "low")))
    customers = scored(*((f"c{i}", 0.6, 480, "high") for i in range(45)))
    found = pd.DataFrame([alert_row(f"c{i}", before) for i in range(15)])
    seen: list[tuple[int, int, int]] = []

    def pause(seconds: float) -> None:  # after each committed chunk: look, from outside
        assert seconds >= 0 if engine.dialect.name == "sqlite" else seconds == 0
        seen.append((len(list_runs(engine)), len(query_alerts(engine)), len(states(engine))))

    monkeypatch.setattr(portfolio, "give_way", pause)
    run = record_run(engine, MODEL, "feb.csv", customers, found)
    assert seen == [(1, 0, 1)] * (5 + 2)  # 45 customers and 15 alerts by 10: only January seen
    assert len(load_run(engine, run)) == 45 and len(query_alerts(engine, run_id=run)) == 15
    assert states(engine) == {(f"c{i}", 0.6, 480, "high", run) for i in range(45)}
