"""A registered optbinning scorecard, served: on the compiled fast path, and -- for a family
without a compiler -- through its registered pipeline, with the same answers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_support import SCORER_KEY, Registry, build_registry, make_settings

from experiments.config import ProjectConfig
from models.families.registry import FAMILIES
from models.fastpath.compiled import CompiledPipeline
from models.fastpath.uncompiled import PipelineScorer
from serving.app import create_app
from serving.scoring.model_store import load_version


@pytest.fixture(scope="module")
def scorecard_registry(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
) -> Registry:
    root = tmp_path_factory.mktemp("scorecard-registry")
    families = {"scorecard": {"model_family": "scorecard"}}
    return build_registry(root, project_config, german_credit, "sc", families)


@pytest.fixture(scope="module")
def client(
    scorecard_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = make_settings(scorecard_registry, tmp_path_factory.mktemp("app"))
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as test_client:
        yield test_client


def test_scorecard_is_served_on_the_fast_path_with_points_lost_reasons(
    client: TestClient, scorecard_registry: Registry
) -> None:
    customer = scorecard_registry.records(n=1)[0]
    scored = client.post("/v1/score", json={"customer": customer}).json()
    body = client.post("/v1/explain", json={"customer": customer}).json()
    assert "points lost" in body["method"]
    assert all(c["contribution"] >= -1e-12 for c in body["contributions"])  # points lost
    total = body["base_value"] + sum(c["contribution"] for c in body["contributions"])
    assert total == pytest.approx(body["margin"], abs=1e-9)
    assert 1 / (1 + math.exp(-body["margin"])) == pytest.approx(scored["pd"], abs=1e-9)
    expected = scorecard_registry.pipelines["1"].predict_proba(pd.DataFrame([customer]))[0, 1]
    assert scored["pd"] == pytest.approx(expected, abs=1e-9)
    assert client.get("/v1/model").json()["model_family"] == "scorecard"


def test_a_family_without_a_compiler_is_served_through_its_pipeline(
    scorecard_registry: Registry,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(scorecard_registry, tmp_path_factory.mktemp("slow"))
    compiled = load_version(settings, "1")
    assert isinstance(compiled.compiled, CompiledPipeline)
    monkeypatch.setitem(FAMILIES, "scorecard", replace(FAMILIES["scorecard"], compile=None))
    slow = load_version(settings, "1")  # the smoke test against the pyfunc still runs
    assert isinstance(slow.compiled, PipelineScorer)
    assert "no compiled fast path" in slow.compiled.reason
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as app:
        customers = scorecard_registry.records(n=3)
        items = [{"customer": c} for c in customers]
        batch = app.post("/v1/score/batch", json={"items": items})
        assert batch.status_code == 200, batch.text
        pds = [d["pd"] for d in batch.json()["results"]]
    fast = compiled.compiled.predict_record
    assert pds == pytest.approx([fast(c).pd[0] for c in customers], abs=1e-9)
