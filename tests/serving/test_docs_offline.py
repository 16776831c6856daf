"""``/docs`` and ``/redoc`` work without any outside host, and show complete request examples.

Every URL the two pages reference (scripts, styles, favicon, the OpenAPI document) is a path on
the service itself, and the service answers each with the file: the pages work where the
network is unreachable (the test client never leaves the process). The examples are complete
request bodies, built from the served version's input example, that the service accepts.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

REFERENCE = re.compile(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""")
BODIES = {"/v1/score": "ScoreRequest", "/v1/score/batch": "BatchScoreRequest",
          "/v1/explain": "ExplainRequest"}  # fmt: skip


def references(html: str) -> list[str]:
    return REFERENCE.findall(html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_comes_from_the_service(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert "text/html" in answer.headers["content-type"]
    urls = references(answer.text)
    assert any(url.endswith(".js") for url in urls), urls
    assert "/openapi.json" in urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
        fetched = client.get(url)
        assert fetched.status_code == 200, url
        assert len(fetched.content) > 100, url
    assert "googleapis" not in answer.text and "cdn." not in answer.text


def test_swagger_ui_sends_nothing_to_its_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_every_request_body_shows_a_complete_example_the_service_accepts(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json").json()
    customer_fields = set(schema["components"]["schemas"]["Customer"]["properties"])
    for path, component in BODIES.items():
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        example = body["example"]
        assert example == schema["components"]["schemas"][component]["examples"][0]
        customer = example["items"][0]["customer"] if "items" in example else example["customer"]
        assert set(customer) == customer_fields  # every field, as the service requires
        answer = client.post(path, json=example)
        assert answer.status_code == 200, (path, answer.text)
