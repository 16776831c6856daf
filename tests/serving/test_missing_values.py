"""Missing values are scored everywhere alike: the pyfunc model, the API and batch scoring.

A registry of its own: the three families trained on German Credit with holes punched into
the training data (numbers and categories) and ``data.na_values`` declaring four tokens. The
expected PD of every customer is the fitted model's own ``predict_proba`` on the frame with
real missing values (NaN / None), computed here without any serving code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_support import NAME, SCORER_KEY, Registry, build_registry, make_settings

from experiments.config import ProjectConfig
from serving.app import create_app
from serving.scoring.batch import score_file
from serving.scoring.model_store import load_version

TOKENS = ("", "NA", "n/a", "null")
NUMBERS = ("duration_in_month", "credit_amount", "age_in_years")
CATEGORIES = ("savings_account_and_bonds", "purpose", "property")
FAMILIES = ("lightgbm", "logistic", "scorecard")


def punch_holes(frame: pd.DataFrame, columns: tuple[str, ...], seed: int) -> pd.DataFrame:
    """About one value in eight set to missing in each of ``columns``."""
    rng = np.random.default_rng(seed)
    holed = frame.copy()
    for column in columns:
        mask = rng.random(len(holed)) < 0.125
        holed[column] = holed[column].astype(object).where(~mask, None)
    return holed


@pytest.fixture(scope="module")
def na_registry(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
) -> Registry:
    raw = project_config.model_dump(mode="json")
    raw["data"]["na_values"] = list(TOKENS)
    config = ProjectConfig.model_validate(raw)
    data = punch_holes(german_credit, NUMBERS + CATEGORIES, seed=3)
    for column in NUMBERS:
        data[column] = data[column].astype("float64")
    families = {family: {"model_family": family} for family in FAMILIES}
    root = tmp_path_factory.mktemp("na-registry")
    return build_registry(root, config, data, "missing", families)


@pytest.fixture(scope="module")
def customers(na_registry: Registry) -> pd.DataFrame:
    """Test customers, each with at least one missing value, some written as a token."""
    frame = na_registry.parts["test"][na_registry.features].head(40).reset_index(drop=True)
    frame = frame.astype({c: object for c in CATEGORIES})
    for i in range(len(frame)):
        frame.loc[i, NUMBERS[i % 3]] = np.nan
        frame.loc[i, CATEGORIES[(i // 3) % 3]] = None
    return frame


def with_tokens(frame: pd.DataFrame) -> pd.DataFrame:
    """The same customers with missing categories written as the declared tokens."""
    written = frame.copy()
    for i, column in enumerate(CATEGORIES):
        missing = written[column].isna()
        written.loc[missing, column] = TOKENS[1 + i % 3]
    return written


def expected_pd(registry: Registry, version: str, frame: pd.DataFrame) -> np.ndarray:
    return registry.pipelines[version].predict_proba(frame)[:, 1]


def load_pyfunc(registry: Registry, version: str) -> Any:
    mlflow.set_tracking_uri(registry.uri)
    return mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")


def version_of(family: str) -> str:
    return str(FAMILIES.index(family) + 1)


@pytest.fixture(scope="module")
def api(na_registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = make_settings(
        na_registry, tmp_path_factory.mktemp("na-app"), batch_limit=100, max_body_bytes=200_000
    )
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        yield client


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON: NaN and None become null."""
    return [
        {k: None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_pyfunc_scores_missing_values_and_tokens_as_training_does(
    na_registry: Registry, customers: pd.DataFrame, family: str
) -> None:
    version = version_of(family)
    expected = expected_pd(na_registry, version, customers)
    model = load_pyfunc(na_registry, version)

    for frame in (customers, with_tokens(customers)):
        scored = model.predict(frame, params={"reason_codes": 0})
        np.testing.assert_allclose(scored["pd"].to_numpy(), expected, rtol=0, atol=1e-12)


def test_the_api_accepts_null_and_tokens_and_agrees_with_the_pipeline(
    na_registry: Registry, customers: pd.DataFrame, api: TestClient
) -> None:
    expected = expected_pd(na_registry, "1", customers)  # the app serves @champion = v1
    for frame in (customers, with_tokens(customers)):
        items = [{"customer": record} for record in json_records(frame)]
        answer = api.post("/v1/score/batch", json={"items": items, "reason_codes": False})
        assert answer.status_code == 200, answer.text
        served = [result["pd"] for result in answer.json()["results"]]
        np.testing.assert_allclose(served, expected, rtol=0, atol=1e-9)
        assert all(result["unseen_categories"] == [] for result in answer.json()["results"])
        one = api.post("/v1/score", json={"customer": json_records(frame)[0]}).json()
        assert one["pd"] == pytest.approx(expected[0], abs=1e-9)


def test_the_api_documents_nullable_fields_and_refuses_an_omitted_one(
    na_registry: Registry, customers: pd.DataFrame, api: TestClient
) -> None:
    schema = api.get("/openapi.json").json()["components"]["schemas"]["Customer"]
    field = schema["properties"]["credit_amount"]
    assert {"type": "null"} in field["anyOf"]
    assert (
        "or null (missing: scored the way the model learnt in training)" in (field["description"])
    )
    record = json_records(customers)[0]
    del record["credit_amount"]

    answer = api.post("/v1/score", json={"customer": record})

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "customer.credit_amount"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_batch_scores_every_customer_with_missing_values_like_the_pipeline(
    na_registry: Registry, customers: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    expected = expected_pd(na_registry, "1", customers)
    source = tmp_path / f"customers{suffix}"
    written = with_tokens(customers)
    if suffix == ".csv":
        written.to_csv(source, index=False)  # NaN and None: empty fields
    else:
        written.to_parquet(source)
    settings = make_settings(na_registry, tmp_path)
    output, rejects = tmp_path / "scored.parquet", tmp_path / "rejects.csv"

    summary = score_file(load_version(settings, "1"), (source, output, rejects), reasons=True)

    assert (summary.scored, summary.rejected) == (len(customers), 0)
    scored = pd.read_parquet(output)
    np.testing.assert_allclose(scored["pd"].to_numpy(), expected, rtol=0, atol=1e-9)
    assert (scored["unseen_categories"] == "[]").all()
    reasons = [json.loads(r) for r in scored["reasons"]]
    missing_reasons = [r for row in reasons for r in row if r["value"] is None]
    assert all(r["sentence"].endswith("missing raises risk") for r in missing_reasons)


def test_without_declared_tokens_na_text_is_a_category_everywhere(
    registry: Registry, client: TestClient, tmp_path: Path
) -> None:
    """The session registry declares no tokens (default: empty field only): ``NA`` in a
    category is text, scored as an unseen category by the API and batch alike, and the
    pyfunc agrees on the PD."""
    record = registry.records(n=1)[0] | {"purpose": "NA", "credit_amount": None}
    served = client.post("/v1/score", json={"customer": record}).json()
    source = tmp_path / "one.csv"
    pd.DataFrame([record]).to_csv(source, index=False)
    settings = make_settings(registry, tmp_path)
    output, rejects = tmp_path / "scored.parquet", tmp_path / "rejects.csv"

    summary = score_file(load_version(settings, "1"), (source, output, rejects))

    assert summary.rejected == 0
    row = pd.read_parquet(output).iloc[0]
    assert served["unseen_categories"] == json.loads(row["unseen_categories"]) == ["purpose"]
    assert row["pd"] == pytest.approx(served["pd"], abs=1e-12)
    pyfunc = load_pyfunc(registry, "1")
    frame = pd.DataFrame([record]).astype({"credit_amount": "float64"})
    assert pyfunc.predict(frame)["pd"].iloc[0] == pytest.approx(served["pd"], abs=1e-9)
