"""The API's customer report words its reasons with the served version's reason template
(``scorecard.reasons.template``, kept in the version's scoring policy), as the CLI's does."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from serving_support import Registry, fit

from experiments.config import ProjectConfig

TEMPLATE = "Risk driver: {label}"  # no {value}: the audit trail does not keep the values


@pytest.fixture(scope="module")
def champion(registry: Registry) -> str:
    """A logistic version fitted with ``TEMPLATE`` instead of params.yaml's template."""
    raw = registry.config.model_dump(mode="json")
    raw["scorecard"]["reasons"]["template"] = TEMPLATE
    config = ProjectConfig.model_validate(raw)
    return registry.register(fit(config, registry.parts["train"], "logistic"), {})


def test_report_uses_the_configured_reason_template(
    client: TestClient, registry: Registry, champion: str
) -> None:
    customer = registry.records(n=1)[0]
    scored = client.post("/v1/score", json={"customer_id": "C-template", "customer": customer})
    assert scored.status_code == 200, scored.text
    assert scored.json()["model"]["version"] == champion
    sentences = [reason["sentence"] for reason in scored.json()["reasons"]]
    assert sentences and all(s.startswith("Risk driver: ") for s in sentences)

    report = client.get("/v1/customers/C-template/report").json()

    assert report["risk_factors"] == sentences  # the words the score reply (and CLI) use
    assert [r["feature"] for r in report["reason_codes"]] == [
        r["feature"] for r in scored.json()["reasons"]
    ]
    page = client.get("/v1/customers/C-template/report", params={"format": "html"}).text
    assert all(sentence in page for sentence in sentences)
