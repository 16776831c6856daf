"""The validation report's fairness section on German Credit (issue 16, item 2): the declared
protected attributes (sex / marital status, foreign worker) and their intersection, on the
test split, with every figure equal to an independent computation from the registered
version's own PDs, and every number the HTML shows taken from the JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

PROTECTED = ["personal_status_and_sex", "foreign_worker"]
# `reported_version` (tests/pipeline/conftest.py): the challenger's report, built once.
Reported = Any


@pytest.fixture(scope="module")
def section(reported_version: Reported) -> dict[str, Any]:
    numbers: dict[str, Any] = json.loads(reported_version.json.read_text(encoding="utf-8"))
    result: dict[str, Any] = numbers["fairness"]
    return result


@pytest.fixture(scope="module")
def scored_test(reported_version: Reported) -> pd.DataFrame:
    """The test split with the version's pd and tier, scored here through MLflow."""
    test = pd.read_parquet(reported_version.root / "split" / "test.parquet")
    uri = f"models:/{reported_version.model_name}/{reported_version.version}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", reported_version.tracking_uri)
        model = mlflow.pyfunc.load_model(uri)
        schema = reported_version.config.data
        scored = model.predict(test[schema.features], params={"reason_codes": 0})
    return test.reset_index(drop=True).assign(
        y=test[schema.target].to_numpy(), pd=scored["pd"].to_numpy(), tier=scored["tier"]
    )


def independent(frame: pd.DataFrame, columns: list[str], min_size: int) -> pd.DataFrame:
    """Per group: pandas groupby, sklearn AUC, the four-fifths rule against the large group
    with the highest low-tier share."""
    rows = []
    for key, part in frame.groupby(columns):
        y, p = part["y"].to_numpy(), part["pd"].to_numpy()
        rows.append(
            {
                "group": " & ".join(key),
                "n": len(part),
                "share": len(part) / len(frame),
                "observed_default_rate": y.mean(),
                "mean_pd": p.mean(),
                "roc_auc": roc_auc_score(y, p) if 0 < y.sum() < len(y) else None,
                "tier_share_low": (part["tier"] == "low").mean(),
                "tier_share_high": (part["tier"] == "high").mean(),
            }
        )
    table = pd.DataFrame(rows).set_index("group")
    large = table[table["n"] >= min_size]
    table["adverse_impact_ratio"] = table["tier_share_low"] / large["tier_share_low"].max()
    return table


def test_the_section_reviews_each_declared_attribute_and_their_intersection(
    section: dict[str, Any],
) -> None:
    assert section["split"] == "test" and section["n"] == 200
    assert section["protected"] == PROTECTED
    assert [g["name"] for g in section["groupings"]] == [
        "personal_status_and_sex",
        "foreign_worker",
        "personal_status_and_sex & foreign_worker",
    ]
    assert section["config"] == {
        "min_group_size": 30,
        "min_adverse_impact_ratio": None,
        "max_calibration_gap": None,
    }


@pytest.mark.parametrize("index", [0, 1, 2])
def test_figures_equal_an_independent_computation(
    section: dict[str, Any], scored_test: pd.DataFrame, index: int
) -> None:
    grouping = section["groupings"][index]
    expected = independent(scored_test, grouping["attributes"], section["config"]["min_group_size"])
    found = pd.DataFrame(grouping["groups"]).set_index("group")

    assert found.index.tolist() == expected.index.tolist()
    for column in expected.columns:
        np.testing.assert_allclose(
            found[column].to_numpy(dtype=float),
            expected[column].to_numpy(dtype=float),
            rtol=1e-9,
            err_msg=f"{grouping['name']}: {column}",
        )
    assert (found["small"] == (expected["n"] < 30)).all()


def test_small_groups_are_shown_and_marked(section: dict[str, Any]) -> None:
    foreign = {row["group"]: row for row in section["groupings"][1]["groups"]}
    # 37 of 1,000 applicants are not foreign workers: a handful in the test split
    assert foreign["no"]["small"] and foreign["no"]["n"] < 30
    assert not foreign["yes"]["small"]


def test_the_html_shows_the_section_with_the_json_s_numbers(
    reported_version: Reported, section: dict[str, Any]
) -> None:
    page = reported_version.html.read_text(encoding="utf-8")
    body = page[page.index('<section id="fairness">') :]
    body = body[: body.index("</section>")]

    assert "Fairness review (test split)" in body
    assert 'data-figure="fairness"' in body
    keyed = re.findall(r'data-key="(fairness\.[^"]+)">([^<]*)<', body)
    first = section["groupings"][0]["groups"][0]
    shown = dict(keyed)
    assert shown["fairness.groupings.0.groups.0.n"] == str(first["n"])
    assert len(keyed) == sum(len(g["groups"]) for g in section["groupings"]) * 12 + 2


def test_the_gate_applies_the_thresholds_once_set_with_the_section_s_figures(
    reported_version: Reported, section: dict[str, Any]
) -> None:
    from experiments.registry.versions import load_split, measure
    from models.evaluation.fairness import FairnessConfig
    from models.governance.gate import GateConfig, evaluate_gate

    split_dir = reported_version.root / "split"
    uri = f"models:/{reported_version.model_name}/{reported_version.version}"
    worst_air = section["lowest_adverse_impact_ratio"]["value"]
    fairness = FairnessConfig(min_adverse_impact_ratio=worst_air + 0.01, max_calibration_gap=0.5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", reported_version.tracking_uri)
        measured = measure(
            uri,
            reported_version.config.data,
            load_split(split_dir, "train"),
            load_split(split_dir, "test"),
            fairness=fairness,
        )
    criteria = {c.name: c for c in evaluate_gate(measured, None, GateConfig(), fairness)}

    air = criteria["adverse impact ratio of the low tier"]
    gap = criteria["calibration gap by protected group"]
    assert air.value == pytest.approx(worst_air) and not air.passed
    assert air.detail == section["lowest_adverse_impact_ratio"]["detail"]
    assert gap.value == pytest.approx(section["largest_calibration_gap"]["value"]) and gap.passed
