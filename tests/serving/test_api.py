"""The service over HTTP: every endpoint's happy path, every bad input's 4xx, and auth."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_support import ADMIN_KEY, SCORER_KEY, Registry
from sqlalchemy.exc import OperationalError

from serving.routers import customers


@pytest.fixture(scope="module")
def customer(registry: Registry) -> dict[str, Any]:
    return registry.records(n=1)[0]


def test_score_one_customer(client: TestClient, registry: Registry, customer: dict) -> None:
    response = client.post("/v1/score", json={"customer_id": "C-1", "customer": customer})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = registry.pipelines["1"].predict_proba(registry.parts["test"][registry.features])
    assert body["pd"] == pytest.approx(expected[0, 1], abs=1e-12)
    assert body["model"] == {"name": "serving-test", "version": "1"}
    assert body["tier"] in {"low", "medium", "high"} and 300 <= body["score"] <= 850
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert 0 < len(body["reasons"]) <= 4
    assert all(r["contribution"] > 0 and r["sentence"] for r in body["reasons"])
    assert body["unseen_categories"] == []


def test_reason_codes_can_be_turned_off(client: TestClient, customer: dict) -> None:
    body = client.post("/v1/score", json={"customer": customer, "reason_codes": False}).json()
    with_reasons = client.post("/v1/score", json={"customer": customer}).json()
    assert body["reasons"] is None
    assert body["pd"] == with_reasons["pd"]


def test_unseen_category_is_scored_and_flagged(
    client: TestClient, registry: Registry, customer: dict
) -> None:
    odd = customer | {"purpose": "spaceship"}
    body = client.post("/v1/score", json={"customer": odd}).json()
    assert body["unseen_categories"] == ["purpose"]
    frame = registry.parts["test"][registry.features].head(1).assign(purpose="spaceship")
    assert body["pd"] == pytest.approx(registry.pipelines["1"].predict_proba(frame)[0, 1])


def test_batch_matches_single_scores(client: TestClient, registry: Registry) -> None:
    customers = registry.records(n=3)
    response = client.post("/v1/score/batch", json={"items": [{"customer": c} for c in customers]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    singles = [client.post("/v1/score", json={"customer": c}).json() for c in customers]
    assert [r["pd"] for r in results] == [s["pd"] for s in singles]
    assert [r["reasons"] for r in results] == [s["reasons"] for s in singles]


def test_explain_adds_up_to_the_pd(client: TestClient, registry: Registry, customer: dict) -> None:
    body = client.post("/v1/explain", json={"customer": customer}).json()
    assert {c["feature"] for c in body["contributions"]} == set(registry.features)
    total = body["base_value"] + sum(c["contribution"] for c in body["contributions"])
    assert total == pytest.approx(body["margin"], abs=1e-9)
    assert 1 / (1 + math.exp(-body["margin"])) == pytest.approx(body["pd"], abs=1e-9)
    assert body["contributions"][0]["value"] == customer[body["contributions"][0]["feature"]]
    scored = client.post("/v1/score", json={"customer": customer}).json()
    assert (body["pd"], body["score"], body["tier"]) == (
        scored["pd"], scored["score"], scored["tier"]
    )  # fmt: skip


def test_model_info_has_lineage_metrics_and_schema(client: TestClient) -> None:
    body = client.get("/v1/model").json()
    assert (body["name"], body["version"], body["alias"]) == ("serving-test", "1", "champion")
    assert body["metrics"]["test_roc_auc"] == 0.78 and body["data_md5"] == "abc123"
    assert body["model_family"] == "lightgbm"
    purpose = next(c for c in body["input_schema"] if c["name"] == "purpose")
    assert purpose["type"] == "string" and "car (new)" in purpose["categories"]


def test_health_ready_and_metrics(client: TestClient, customer: dict) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/v1/score", json={"customer": customer})
    text = client.get("/metrics").text
    assert 'riskgrade_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert 'riskgrade_request_latency_seconds_bucket{le="0.005",route="/v1/score"}' in text
    assert 'riskgrade_model_info{name="serving-test",version="1"} 1.0' in text
    assert "riskgrade_decisions_total{tier=" in text


def test_openapi_shows_the_model_fields(client: TestClient, registry: Registry) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    fields = schemas["Customer"]["properties"]
    assert set(fields) == set(registry.features)
    # every field is present in the schema's "required" list, and may be null (missing)
    number, null = fields["duration_in_month"]["anyOf"]
    assert (number["type"], null) == ("number", {"type": "null"})
    assert set(schemas["Customer"]["required"]) == set(registry.features)
    assert "car (new)" in fields["purpose"]["x-categories"]
    assert "car (new)" in fields["purpose"]["description"]
    assert schemas["Customer"]["additionalProperties"] is False


BAD_CUSTOMER = [
    ("missing", lambda c: {k: v for k, v in c.items() if k != "age_in_years"}, "Field required"),
    ("wrong type", lambda c: c | {"credit_amount": "lots"}, "valid number"),
    ("bool for number", lambda c: c | {"duration_in_month": True}, "valid number"),
    ("number for text", lambda c: c | {"purpose": 4}, "valid string"),
    ("unknown field", lambda c: c | {"nationality": "x"}, "unknown field"),
]


@pytest.mark.parametrize(
    ("case", "change", "message"), BAD_CUSTOMER, ids=[b[0] for b in BAD_CUSTOMER]
)
def test_bad_customer_fields_are_422_naming_the_field(
    client: TestClient, customer: dict, case: str, change: Any, message: str
) -> None:
    response = client.post("/v1/score", json={"customer": change(customer)})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"].startswith("customer.") and message in error["message"]
    assert error["field"] in response.json()["message"]
    if case != "unknown field":
        assert error["expected"]  # what was expected, e.g. "an integer"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"customer": {', 400, "malformed JSON"),
        (b"", 400, "malformed JSON"),
        (b"[1, 2]", 422, "body: Input should be an object"),
    ],
)
def test_malformed_bodies(client: TestClient, body: bytes, code: int, message: str) -> None:
    response = client.post("/v1/score", content=body)
    assert response.status_code == code and message in response.json()["message"]


def test_batch_limits(client: TestClient, customer: dict) -> None:
    empty = client.post("/v1/score/batch", json={"items": []})
    assert empty.status_code == 422 and "items" in empty.json()["message"]
    assert "1 to 5 customers" in empty.json()["message"]
    many = client.post("/v1/score/batch", json={"items": [{"customer": customer}] * 6})
    assert many.status_code == 422 and "at most 5" in many.json()["message"]
    nested = client.post("/v1/score/batch", json={"items": [{"customer": {}}]})
    assert "items[0].customer.duration_in_month" in nested.json()["message"]


def test_body_over_the_size_limit_is_413(client: TestClient, customer: dict) -> None:
    padding = "x" * 30_000
    response = client.post("/v1/score", json={"customer": customer, "pad": padding})
    assert response.status_code == 413 and "20000 bytes" in response.json()["message"]

    def chunks() -> Any:  # no Content-Length: counted while streaming
        yield b'{"customer": {"purpose": "'
        for _ in range(30):
            yield b"y" * 1000
        yield b'"}}'

    streamed = client.post("/v1/score", content=chunks())
    assert streamed.status_code == 413


def test_extreme_but_valid_numbers_are_never_500(client: TestClient, customer: dict) -> None:
    huge = customer | {"credit_amount": 2**63 - 1, "duration_in_month": -(2**63)}
    response = client.post("/v1/score", json={"customer": huge})
    assert response.status_code in (200, 422)


def test_auth_401_without_or_with_unknown_key(client: TestClient, customer: dict) -> None:
    missing = client.post("/v1/score", json={"customer": customer}, headers={"X-API-Key": ""})
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["message"]
    unknown = client.post("/v1/score", json={"customer": customer}, headers={"X-API-Key": "no"})
    assert unknown.status_code == 401 and "no" not in unknown.json()["message"].split()


def test_auth_403_with_the_wrong_role(client: TestClient, customer: dict) -> None:
    admin = {"X-API-Key": ADMIN_KEY}
    assert client.post("/v1/score", json={"customer": customer}, headers=admin).status_code == 403
    scorer = {"X-API-Key": SCORER_KEY}
    response = client.post("/v1/admin/reload", headers=scorer)
    assert response.status_code == 403 and "'admin' role" in response.json()["message"]
    assert client.get("/v1/model", headers=admin).status_code == 200


def test_keys_and_customer_ids_are_never_logged(
    client: TestClient, customer: dict, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    client.post("/v1/score", json={"customer_id": "SECRET-CUSTOMER-42", "customer": customer})
    client.post("/v1/score", json={"customer": customer}, headers={"X-API-Key": "wrong-key-99"})
    for needle in ("SECRET-CUSTOMER-42", SCORER_KEY, "wrong-key-99"):
        assert needle not in caplog.text


def test_every_score_carries_its_tiers_strategy(client: TestClient, registry: Registry) -> None:
    """Strategy fields come from the policy stored with the version (params.yaml), per tier."""
    project_config = registry.config
    customers = registry.records(n=25)
    results = []
    for start in range(0, len(customers), 5):  # the test app's batch limit is 5
        items = [{"customer": c} for c in customers[start : start + 5]]
        body = client.post("/v1/score/batch", json={"items": items, "reason_codes": False})
        assert body.status_code == 200, body.text
        results += body.json()["results"]
    assert len({r["tier"] for r in results}) >= 2
    for result in results:
        expected = project_config.scorecard.strategies.for_tier(result["tier"])
        assert result["strategy"] == expected.model_dump(mode="json")
    single = client.post("/v1/score", json={"customer": customers[0]}).json()
    assert single["strategy"]["actions"] == list(
        project_config.scorecard.strategies.for_tier(single["tier"]).actions
    )


def test_customer_report_shows_the_latest_recorded_scoring(
    client: TestClient, registry: Registry, customer: dict
) -> None:
    scored = client.post("/v1/score", json={"customer_id": "C-report", "customer": customer})
    assert scored.status_code == 200, scored.text
    response = client.get("/v1/customers/C-report/report")
    assert response.status_code == 200, response.text
    report = response.json()
    body = scored.json()
    assert (report["score"], report["tier"]) == (body["score"], body["tier"])
    assert report["strategy"] == body["strategy"]
    assert report["risk_factors"] and all("raises risk" in f for f in report["risk_factors"])
    assert report["history"][-1]["source"] == "service"
    assert "C-report" not in response.text  # hashed ids only
    page = client.get("/v1/customers/C-report/report", params={"format": "html"})
    assert page.status_code == 200 and '<section id="strategy">' in page.text


def test_customer_report_of_an_unknown_customer_is_404(client: TestClient) -> None:
    response = client.get("/v1/customers/never-scored/report")
    assert response.status_code == 404
    assert "no scoring is recorded" in response.text


def test_a_number_field_takes_an_integral_float(client: TestClient, customer: dict) -> None:
    """Numbers of current versions are typed ``Any`` (a nullable JSON number): 71295.0 too."""
    whole = client.post("/v1/score", json={"customer": customer | {"credit_amount": 71295.0}})
    exact = client.post("/v1/score", json={"customer": customer | {"credit_amount": 71295}})
    assert whole.status_code == 200, whole.text
    assert whole.json()["pd"] == exact.json()["pd"]


def test_the_report_is_documented_as_it_answers(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    report = document["paths"]["/v1/customers/{customer_id}/report"]["get"]
    assert {"200", "401", "403", "404", "422", "503"} <= set(report["responses"])
    assert set(report["responses"]["200"]["content"]) == {"application/json", "text/html"}
    assert report["security"] == [{"APIKeyHeader": []}]
    parameters = {p["name"]: p["schema"] for p in report["parameters"]}
    assert parameters["format"]["enum"] == ["json", "html"]
    assert "RISKGRADE_REPORT_HISTORY_LIMIT" in str(report["parameters"])  # the page size
    assert client.get("/v1/customers/x/report", params={"format": "pdf"}).status_code == 422


def test_the_report_is_503_when_the_audit_store_cannot_be_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_: Any) -> list[dict[str, Any]]:
        raise OperationalError("SELECT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(customers, "customer_decisions", unreadable)
    response = client.get("/v1/customers/C-1/report")
    assert response.status_code == 503, response.text
    assert "audit store cannot be read" in response.json()["message"]


def test_a_number_outside_its_valid_range_is_422_naming_field_and_range(
    client: TestClient, customer: dict
) -> None:
    """German Credit's params.yaml declares data.ranges; the served version carries them and
    publishes them in its schema."""
    response = client.post("/v1/score", json={"customer": customer | {"age_in_years": -1}})

    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "customer.age_in_years"
    assert error["expected"] == "a finite number from 18 to 120 or null"
    assert "greater than or equal to 18" in error["message"]
    fields = client.get("/openapi.json").json()["components"]["schemas"]["Customer"]
    number = fields["properties"]["age_in_years"]["anyOf"][0]
    assert (number["minimum"], number["maximum"]) == (18, 120)
