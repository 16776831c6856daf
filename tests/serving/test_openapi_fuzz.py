"""Property-based runs (schemathesis) against the served ``/openapi.json``: the contract holds.

The schema is the one the running app publishes for the loaded model, so the generated
bodies use the real customer fields. On every operation, in both generation modes:

- ``not_a_server_error``: never a 5xx;
- ``status_code_conformance``: every status answered is documented for that operation;
- positive mode only, ``positive_data_acceptance``: a request the schema allows is accepted
  (2xx, or 401/403/404: the scorer key may not reload, an unknown customer has no report).

Run on the current version (numbers typed MLflow ``Any``: nullable JSON numbers) and, for the
scoring bodies, on a version registered as before missing values were scored (integer columns
typed ``long`` and required), whose schema says ``integer``: JSON Schema counts ``71295.0``
as one. The body limit is set above the largest body the schema allows (``batch_limit`` 3),
since a size limit cannot be written in JSON Schema. Bounded: 20 examples per operation and
mode: 20-35 s on 2 shared cores, besides the registry the serving tests share.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import mlflow
import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from mlflow.models import infer_signature
from mlflow.types.schema import Schema
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance
from serving_support import SCORER_KEY, Registry, fit, make_settings

import experiments.tracking
from serving.app import create_app

MAX_EXAMPLES = 20
BATCH_LIMIT = 3
MAX_BODY_BYTES = 1_000_000  # above any body the schema allows at BATCH_LIMIT (text <= 200)
SCORING_PATHS = {"/v1/score", "/v1/score/batch", "/v1/explain"}
Mode = schemathesis.GenerationMode


@dataclass(frozen=True)
class Served:
    """The app on one version: its published schema, and a client (scorer key)."""

    schema: Any
    client: TestClient


def serve(
    registry: Registry, version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    registry.set_champion(version)
    tmp = tmp_path_factory.mktemp("fuzz")
    limits = {"batch_limit": BATCH_LIMIT, "max_body_bytes": MAX_BODY_BYTES}
    app = create_app(make_settings(registry, tmp, **limits))
    try:
        # the client runs the lifespan: model loaded, audit writer started
        with TestClient(app, headers={"X-API-Key": SCORER_KEY}) as client:
            yield Served(schemathesis.openapi.from_asgi("/openapi.json", app), client)
    finally:
        registry.set_champion("1")


@pytest.fixture(scope="module")
def current(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve(registry, "1", tmp_path_factory)


@pytest.fixture(scope="module")
def long_typed_version(registry: Registry) -> str:
    """A version logged with the signature riskgrade wrote before commit 826acd1: inferred
    from the example, so integer columns are ``long`` and every column is required."""

    def inferred_inputs(example: pd.DataFrame) -> Schema:
        inputs = infer_signature(example).inputs
        assert isinstance(inputs, Schema)
        return inputs

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(experiments.tracking, "nullable_inputs", inferred_inputs)
        version = registry.register(fit(registry.config, registry.parts["train"], "logistic"), {})
    mlflow.set_tracking_uri(registry.uri)
    return version


@pytest.fixture(scope="module")
def long_typed(
    registry: Registry, long_typed_version: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    yield from serve(registry, long_typed_version, tmp_path_factory)


def checks_for(mode: Mode) -> list[Any]:
    checks = [not_a_server_error, status_code_conformance]
    return [*checks, positive_data_acceptance] if mode is Mode.POSITIVE else checks


def fuzz(operation: Any, mode: Mode) -> list[int]:
    """Bounded hypothesis run of one operation with ``checks_for(mode)``; the statuses seen."""
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        response = case.call_and_validate(
            headers={"X-API-Key": SCORER_KEY}, checks=checks_for(mode)
        )
        statuses.append(response.status_code)

    check()
    return statuses


def has_inputs(operation: Any) -> bool:
    """Something a negative case can get wrong: a body or a query/path parameter."""
    return bool(operation.body or operation.query or operation.path_parameters)


@pytest.mark.parametrize("mode", list(Mode), ids=lambda m: m.value)
def test_every_operation_keeps_the_contract(current: Served, mode: Mode) -> None:
    operations = [result.ok() for result in current.schema.get_all_operations()]
    assert {op.path for op in operations} >= SCORING_PATHS | {"/v1/customers/{customer_id}/report"}
    seen: dict[str, set[int]] = {}
    for operation in operations:
        if mode is Mode.NEGATIVE and not has_inputs(operation):
            continue  # nothing to get wrong in a GET without parameters
        seen[operation.label] = set(fuzz(operation, mode))
    expected = 200 if mode is Mode.POSITIVE else 422
    assert expected in seen["POST /v1/score"], seen  # the run did reach the model / the checks


def test_long_typed_version_accepts_what_its_schema_allows(long_typed: Served) -> None:
    operations = [r.ok() for r in long_typed.schema.get_all_operations()]
    scoring = [op for op in operations if op.path in SCORING_PATHS]
    customer = long_typed.schema.raw_schema["components"]["schemas"]["Customer"]
    assert customer["properties"]["credit_amount"]["type"] == "integer"
    seen = {op.label: set(fuzz(op, Mode.POSITIVE)) for op in scoring}
    assert all(statuses == {200} for statuses in seen.values()), seen


def test_long_typed_version_takes_an_integral_float(registry: Registry, long_typed: Served) -> None:
    """``71295.0`` is a JSON Schema integer; ``71295.5``, ``"71295"`` and ``true`` are not."""
    customer = registry.records(n=1)[0]
    amount = customer["credit_amount"]

    def score(value: Any) -> Any:
        body = {"customer": customer | {"credit_amount": value}}
        return long_typed.client.post("/v1/score", json=body)

    whole, exact = score(float(amount)), score(amount)
    assert whole.status_code == 200, whole.text
    assert whole.json()["pd"] == exact.json()["pd"]
    for bad in (amount + 0.5, str(amount), True):
        refused = score(bad)
        assert refused.status_code == 422, (bad, refused.text)
        # German Credit's data.ranges: credit_amount at least 1, stored with the version
        assert refused.json()["errors"][0]["expected"] == "an integer at least 1"
