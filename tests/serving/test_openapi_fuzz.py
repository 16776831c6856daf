"""Property-based run (schemathesis) against the served ``/openapi.json``: never a 5xx.

The schema is the one the running app publishes for the loaded model, so the generated
bodies use the real customer fields; schemathesis also sends invalid variants (wrong types,
missing fields, extra fields). Bounded: a few dozen examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from serving_support import SCORER_KEY, Registry, make_settings

from serving.app import create_app

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    registry.set_champion("1")
    app = create_app(make_settings(registry, tmp_path_factory.mktemp("fuzz"), batch_limit=3))
    with TestClient(app):  # runs the lifespan: model loaded, audit writer started
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz(operation: Any, mode: schemathesis.GenerationMode) -> list[int]:
    """Bounded hypothesis run of one operation: every response must be below 500."""
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
        response = case.call(headers={"X-API-Key": SCORER_KEY})
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.text[:500])

    check()
    return statuses


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_server_errors(api_schema: Any, mode: schemathesis.GenerationMode) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/score", "/v1/score/batch", "/v1/explain"}
    seen: dict[str, set[int]] = {}
    for operation in operations:
        if mode is schemathesis.GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to get wrong in a GET without parameters
        seen[operation.path] = set(fuzz(operation, mode))
    expected = 200 if mode is schemathesis.GenerationMode.POSITIVE else 422
    assert expected in seen["/v1/score"], seen  # the run did reach the model / the checks
