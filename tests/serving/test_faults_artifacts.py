"""Fault: a registered version's stored files edited after registration (issue 13, item 11).

Editing a version's policy in the MLflow artifact store (tier cut-offs 0.95/0.99) used to be
served: every customer became "low". The digest recorded at registration (version tag
``artifacts_sha256``) is checked at every load: a reload refuses the version and the old one
keeps serving; a fresh start refuses it. A version registered before digests were recorded is
still served, marked unverified.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from serving_support import NAME, Registry, fit, make_settings

from models.contract.digest import DIGEST_TAG
from serving.app import create_app
from serving.scoring.model_store import ModelLoadError

pytestmark = pytest.mark.faults
ADMIN = {"X-API-Key": "admin-key-0123456789abcdef0123456789ab"}
CHANGED = "stored artifacts changed since registration"


def register_logistic(registry: Registry, **options: bool) -> str:
    return registry.register(
        fit(registry.config, registry.parts["train"], "logistic"), {}, **options
    )


def loosen_tiers(registry: Registry, version: str) -> None:
    """What the incident did: tier cut-offs 0.95/0.99 written into the stored policy."""
    path = registry.stored_file(version, "artifacts/policy")
    policy = json.loads(path.read_text(encoding="utf-8"))
    policy["tiers"] = {"low_max_pd": 0.95, "medium_max_pd": 0.99}
    path.write_text(json.dumps(policy), encoding="utf-8")


@pytest.fixture(scope="module")
def tampered(registry: Registry) -> str:
    """A registered version whose stored policy was edited afterwards."""
    version = register_logistic(registry)
    loosen_tiers(registry, version)
    return version


def test_reload_refuses_a_tampered_version_and_keeps_serving(
    client: TestClient, registry: Registry, tampered: str
) -> None:
    serving = client.get("/v1/model").json()["version"]
    registry.set_champion(tampered)
    response = client.post("/v1/admin/reload", headers=ADMIN)
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["status"] == "failed" and body["version"] == serving
    assert f"models:/{NAME}/{tampered}" in body["error"] and CHANGED in body["error"]
    assert DIGEST_TAG in body["error"]
    assert client.get("/v1/model").json()["version"] == serving
    tiers = {
        client.post("/v1/score", json={"customer": c}).json()["tier"]
        for c in registry.records(n=40)
    }
    assert tiers != {"low"}  # still the old policy
    registry.set_champion(serving)


def test_fresh_start_refuses_a_tampered_version(
    registry: Registry, tampered: str, tmp_path: Path
) -> None:
    registry.set_champion(tampered)
    try:
        with (
            pytest.raises(ModelLoadError, match=CHANGED),
            TestClient(create_app(make_settings(registry, tmp_path))),
        ):
            pass
    finally:
        registry.set_champion("1")


def test_registered_versions_are_verified(client: TestClient, registry: Registry) -> None:
    body = client.get("/v1/model").json()
    recorded = MlflowClient(registry.uri).get_model_version(NAME, body["version"]).tags
    assert body["artifacts_verified"] is True
    assert body["tags"][DIGEST_TAG] == recorded[DIGEST_TAG]


def test_a_version_without_a_digest_is_served_unverified(
    client: TestClient, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    """Versions registered before digests were recorded keep loading, with a warning."""
    serving = client.get("/v1/model").json()["version"]
    old = register_logistic(registry, digest=False)
    registry.set_champion(old)
    with caplog.at_level(logging.WARNING, logger="riskgrade.serving"):
        response = client.post("/v1/admin/reload", headers=ADMIN)
    assert response.status_code == 200 and response.json()["version"] == old
    assert f"models:/{NAME}/{old}: no {DIGEST_TAG} tag" in caplog.text
    assert "served unverified" in caplog.text
    assert client.get("/v1/model").json()["artifacts_verified"] is False
    registry.set_champion(serving)
    assert client.post("/v1/admin/reload", headers=ADMIN).json()["version"] == serving
