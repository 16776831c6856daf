"""The portfolio store: each customer's last scored state, and a run stored with its alerts in
one transaction (``serving.stores.portfolio``), on a SQLite file with literal runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from serving.stores.portfolio import (
    last_states,
    list_runs,
    open_store,
    query_alerts,
    record_run,
)

MODEL = ("credit", "3")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path / 'audit.db'}")


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
