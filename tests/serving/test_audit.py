"""The audit trail: one row per decision, keyed-hash customer ids, 503 when it cannot write."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from serving_support import SCORER_KEY, SECRET, Registry, make_settings

from serving.app import create_app
from serving.stores.audit import create_tables, decision_row, decisions, metadata
from serving.stores.audit_writer import AuditLog


@pytest.fixture(scope="module")
def audited(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, sa.Engine, Path]]:
    registry.set_champion("1")
    tmp = tmp_path_factory.mktemp("audit")
    settings = make_settings(registry, tmp)
    engine = sa.create_engine(settings.audit_url)
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        yield client, engine, tmp / "audit.db"
    engine.dispose()


def rows_for(engine: sa.Engine, request_id: str) -> list[Any]:
    with engine.connect() as connection:
        query = sa.select(decisions).where(decisions.c.request_id == request_id)
        return list(connection.execute(query.order_by(decisions.c.item)))


def test_every_decision_is_recorded(
    audited: tuple[TestClient, sa.Engine, Path], registry: Registry
) -> None:
    client, engine, _ = audited
    customer = registry.records(n=1)[0]
    body = client.post("/v1/score", json={"customer_id": "C-77", "customer": customer}).json()
    (row,) = rows_for(engine, body["request_id"])
    assert (row.pd, row.score, row.tier) == (body["pd"], body["score"], body["tier"])
    assert (row.model_name, row.model_version, row.endpoint) == ("serving-test", "1", "score")
    assert row.reason_codes == [r["feature"] for r in body["reasons"]]
    expected_hash = hmac.new(SECRET.encode(), b"C-77", hashlib.sha256).hexdigest()
    assert row.customer_hash == expected_hash and row.latency_ms > 0
    assert row.caller == "scorer" and row.decided_at is not None


def test_batch_and_explain_are_recorded(
    audited: tuple[TestClient, sa.Engine, Path], registry: Registry
) -> None:
    client, engine, _ = audited
    items = [{"customer": c, "customer_id": f"B-{i}"} for i, c in enumerate(registry.records(n=3))]
    batch = client.post("/v1/score/batch", json={"items": items}).json()
    rows = rows_for(engine, batch["request_id"])
    assert [r.pd for r in rows] == [r["pd"] for r in batch["results"]]
    assert [r.item for r in rows] == [0, 1, 2]
    explained = client.post("/v1/explain", json={"customer": items[0]["customer"]}).json()
    (row,) = rows_for(engine, explained["request_id"])
    assert row.endpoint == "explain" and row.customer_hash is None


def test_customer_ids_are_not_stored_in_clear(
    audited: tuple[TestClient, sa.Engine, Path], registry: Registry
) -> None:
    client, engine, path = audited
    marker = "CLEAR-ID-31337"
    client.post("/v1/score", json={"customer_id": marker, "customer": registry.records(n=1)[0]})
    engine.dispose()  # checkpoint nothing away: read every byte the database wrote
    stored = b"".join(p.read_bytes() for p in path.parent.glob("audit.db*"))
    assert marker.encode() not in stored


def test_audit_store_down_means_503_and_no_score(
    audited: tuple[TestClient, sa.Engine, Path], registry: Registry
) -> None:
    client, engine, _ = audited
    customer = registry.records(n=1)[0]
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE decisions"))
    try:
        response = client.post("/v1/score", json={"customer": customer})
        assert response.status_code == 503
        assert "audit store" in response.json()["message"] and "pd" not in response.json()
        assert client.get("/readyz").status_code == 503
    finally:
        metadata.create_all(engine)
    assert client.post("/v1/score", json={"customer": customer}).status_code == 200


def test_table_creation_survives_a_concurrent_creator(tmp_path: Path) -> None:
    """Two workers on a fresh database: the other one creates the table between our check
    and our CREATE TABLE (reproduced deterministically with a before_create hook)."""
    raced: list[str] = []

    def race(name: str, create: Any) -> None:
        url = f"sqlite:///{tmp_path / name}"
        ours, theirs = sa.create_engine(url), sa.create_engine(url)

        def other_worker_wins(*_: Any, **__: Any) -> None:
            if name not in raced:
                raced.append(name)
                metadata.create_all(theirs)

        sa.event.listen(decisions, "before_create", other_worker_wins)
        try:
            create(ours)
            assert "decisions" in sa.inspect(ours).get_table_names()
        finally:
            sa.event.remove(decisions, "before_create", other_worker_wins)
            ours.dispose()
            theirs.dispose()

    with pytest.raises(sa.exc.OperationalError, match="already exists"):
        race("plain.db", metadata.create_all)  # what a plain create_all does in this race
    race("riskgrade.db", lambda engine: create_tables(metadata, engine))
    assert raced == ["plain.db", "riskgrade.db"]


def test_sqlite_checkpoints_run_outside_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits only append to the WAL; the checkpoint copies it into the database file."""
    monkeypatch.setattr("serving.stores.audit_writer.CHECKPOINT_SECONDS", 3600.0)  # we call it
    database = tmp_path / "audit.db"
    audit = AuditLog(f"sqlite:///{database}")
    audit.start()
    audit.checkpoint()  # the table itself

    def rows_in_file_alone() -> int:  # the database file without its WAL
        shutil.copy(database, tmp_path / "copy.db")
        with sqlite3.connect(tmp_path / "copy.db") as copy:
            count: int = copy.execute("SELECT count(*) FROM decisions").fetchone()[0]
        return count

    try:
        row = decision_row(
            request_id="r1", item=0, endpoint="score", model_name="m", model_version="1",
            customer_hash=None, pd=0.1, score=600, tier="low", reason_codes=["duration"],
            unseen_categories=[], latency_ms=1.0, caller="test",
        )  # fmt: skip
        assert audit.write([row] * 3) is None
        assert audit.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert rows_in_file_alone() == 0  # committed, but still only in the WAL
        audit.checkpoint()
        assert rows_in_file_alone() == 3
    finally:
        audit.stop()
    assert audit.checkpointer is not None and not audit.checkpointer.is_alive()
