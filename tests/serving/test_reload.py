"""Hot reload: atomic swap under concurrent requests, failed loads keep the old model, and
start-up refuses without a champion or with insecure production settings."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from serving_support import ADMIN_KEY, NAME, SCORER_KEY, Registry, fit, make_settings

from serving.app import create_app
from serving.scoring.model_store import ModelHolder, ModelLoadError
from serving.settings import Settings

ADMIN = {"X-API-Key": ADMIN_KEY}


def hammer(client: TestClient, customer: dict, stop: threading.Event, seen: list) -> None:
    while not stop.is_set():
        response = client.post("/v1/score", json={"customer": customer})
        body = response.json()
        seen.append((response.status_code, body.get("model", {}).get("version"), body.get("pd")))


def test_reload_under_concurrent_requests_fails_none(
    client: TestClient, registry: Registry
) -> None:
    customer = registry.records(n=1)[0]
    frame = registry.parts["test"][registry.features].head(1)
    expected = {v: registry.pipelines[v].predict_proba(frame)[0, 1] for v in ("1", "2")}
    stop, seen = threading.Event(), []
    workers = [
        threading.Thread(target=hammer, args=(client, customer, stop, seen)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        for version in ("2", "1", "2"):
            registry.set_champion(version)
            response = client.post("/v1/admin/reload", headers=ADMIN)
            assert response.json()["status"] == "reloaded" and response.json()["version"] == version
            time.sleep(0.2)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert len(seen) > 20 and all(code == 200 for code, _, _ in seen)
    # every answer comes wholly from the version it names: never a mix of two models
    assert all(pd == pytest.approx(expected[v], abs=1e-12) for _, v, pd in seen)
    assert {v for _, v, _ in seen} == {"1", "2"}
    assert client.get("/v1/model").json()["version"] == "2"
    assert (
        'riskgrade_model_info{name="serving-test",version="2"} 1.0' in client.get("/metrics").text
    )


def test_unchanged_alias_is_a_no_op(client: TestClient) -> None:
    response = client.post("/v1/admin/reload", headers=ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "unchanged"


def test_failed_reload_keeps_the_old_model(client: TestClient, registry: Registry) -> None:
    serving = client.get("/v1/model").json()["version"]
    # without a digest (an old version), so that loading the pipeline itself fails
    fitted = fit(registry.config, registry.parts["train"], "logistic")
    broken = registry.register(fitted, {}, digest=False)
    registry.stored_file(broken, "artifacts/pipeline").write_bytes(b"not a pipeline")
    registry.set_champion(broken)
    response = client.post("/v1/admin/reload", headers=ADMIN)
    assert response.status_code == 502
    body = response.json()
    assert body["status"] == "failed" and body["version"] == serving
    assert f"{NAME}/{broken}" in body["error"]
    assert client.get("/v1/model").json()["version"] == serving
    customer = registry.records(n=1)[0]
    assert client.post("/v1/score", json={"customer": customer}).status_code == 200
    assert 'riskgrade_reloads_total{status="failed"} 1.0' in client.get("/metrics").text


def test_polling_leaves_a_failed_version_alone_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Polling is on by default with several workers: a version that cannot be served is not
    loaded again every few seconds; an admin's reload still tries it at once."""
    loads = []

    def refuse(settings: Settings, version: str) -> None:
        loads.append(version)
        raise ModelLoadError(f"version {version} refused")

    monkeypatch.setattr("serving.scoring.model_store.resolve_alias", lambda settings: "3")
    monkeypatch.setattr("serving.scoring.model_store.load_version", refuse)
    holder = ModelHolder(Settings(), SimpleNamespace(version="1"))  # type: ignore[arg-type]
    polled = [asyncio.run(holder.reload(retry_after=60)).status for _ in range(3)]
    assert polled == ["failed", "skipped", "skipped"] and loads == ["3"]
    assert asyncio.run(holder.reload()).status == "failed" and loads == ["3", "3"]
    assert holder.current.version == "1"


def test_polling_picks_up_a_new_champion(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> None:
    registry.set_champion("1")
    settings = make_settings(registry, tmp_path_factory.mktemp("poll"), reload_interval_seconds=0.2)
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        assert client.get("/v1/model").json()["version"] == "1"
        registry.set_champion("2")
        deadline = time.monotonic() + 20
        while client.get("/v1/model").json()["version"] != "2":
            assert time.monotonic() < deadline, "polling did not reload within 20 s"
            time.sleep(0.1)
    registry.set_champion("1")


def test_no_champion_refuses_to_start(registry: Registry, tmp_path: Path) -> None:
    settings = make_settings(registry, tmp_path, model_name="no-such-model")
    expected = "no @champion version of model 'no-such-model'"
    with pytest.raises(ModelLoadError, match=expected), TestClient(create_app(settings)):
        pass


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_keys": []}, "RISKGRADE_API_KEYS is empty"),
        ({"customer_id_secret": None}, "RISKGRADE_CUSTOMER_ID_SECRET is missing"),
        ({"customer_id_secret": "changeme"}, "RISKGRADE_CUSTOMER_ID_SECRET is missing"),
        ({"customer_id_secret": "short-secret"}, "at least 32"),
        (
            {"api_keys": [{"name": "x", "sha256": "0" * 64, "roles": ["scorer"]}]},
            "placeholders",
        ),
    ],
)
def test_production_refuses_insecure_settings(overrides: dict, message: str) -> None:
    values = {
        "mode": "production",
        "customer_id_secret": "s" * 40,
        "api_keys": [{"name": "k", "sha256": "a" * 64, "roles": ["scorer"]}],
    }
    with pytest.raises(ValidationError, match="refusing to start in production mode") as error:
        Settings(**(values | overrides))
    assert message in str(error.value)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKGRADE_BATCH_LIMIT", "7")
    monkeypatch.setenv(
        "RISKGRADE_API_KEYS", '[{"name": "app", "sha256": "' + "b" * 64 + '", "roles": ["scorer"]}]'
    )
    settings = Settings()
    assert settings.batch_limit == 7 and settings.api_keys[0].roles == ("scorer",)
    assert Settings(mode="development").open_access is False
