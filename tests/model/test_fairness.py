"""The fairness review (models/evaluation/fairness.py) on tiny literal data: every figure equals
an independent pandas / numpy / sklearn computation written here; adverse impact, the
intersection, small and one-class groups, missing levels, row order; the gate's fairness
criteria and the config that declares them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from sklearn.metrics import roc_auc_score

from experiments.config import ConfigError, parse_config
from models.evaluation.fairness import FairnessConfig, FairnessReview, review_fairness
from models.governance.gate import (
    GateConfig,
    Measurements,
    evaluate_gate,
    fairness_criteria,
    fairness_measurements,
)

PARAMS = Path(__file__).parents[2] / "params.yaml"
TIER_NAMES = ("low", "medium", "high")


def book(n: int = 60, seed: int = 3) -> pd.DataFrame:
    """``n`` customers: sex (f / m, m twice as common), foreign (yes / no, no rare), outcome,
    PD and tier (PD cut-offs 0.2 and 0.4), PDs that rank defaults imperfectly."""
    rng = np.random.default_rng(seed)
    sex = np.where(rng.random(n) < 1 / 3, "f", "m")
    foreign = np.where(rng.random(n) < 0.2, "no", "yes")
    pd_ = np.round(rng.uniform(0.02, 0.7, n) + np.where(sex == "f", 0.05, 0.0), 4)
    y = (rng.random(n) < pd_).astype(int)
    tier = np.asarray(TIER_NAMES, dtype=object)[np.searchsorted([0.2, 0.4], pd_, side="right")]
    return pd.DataFrame({"sex": sex, "foreign": foreign, "y": y, "pd": pd_, "tier": tier})


def review(frame: pd.DataFrame, config: FairnessConfig | None = None, **kw: Any) -> FairnessReview:
    columns = kw.pop("columns", ["sex", "foreign"])
    return review_fairness(
        frame[columns], frame["y"], frame["pd"], frame["tier"], config or FairnessConfig(), **kw
    )


def by_name(result: FairnessReview, name: str) -> pd.DataFrame:
    return next(g for g in result.groupings if g.name == name).table.set_index("group")


def expected_table(frame: pd.DataFrame, columns: list[str], min_size: int) -> pd.DataFrame:
    """The review's figures computed directly: pandas groupby, sklearn AUC, scipy normal test,
    the four-fifths rule against the large group with the highest low-tier share."""
    rows = []
    for key, part in frame.groupby(columns):
        levels = key if isinstance(key, tuple) else (key,)
        y, p = part["y"].to_numpy(), part["pd"].to_numpy()
        z = (y.sum() - p.sum()) / np.sqrt(np.sum(p * (1 - p)))
        rows.append(
            {
                "group": " & ".join(levels),
                "n": len(part),
                "share": len(part) / len(frame),
                "defaults": int(y.sum()),
                "observed_default_rate": y.mean(),
                "mean_pd": p.mean(),
                "calibration_gap": p.mean() - y.mean(),
                "citl_p": 2 * stats.norm.sf(abs(z)),
                "roc_auc": roc_auc_score(y, p) if 0 < y.sum() < len(y) else np.nan,
                **{f"tier_share_{t}": float((part["tier"] == t).mean()) for t in TIER_NAMES},
            }
        )
    table = pd.DataFrame(rows).set_index("group")
    large = table[table["n"] >= min_size]
    reference = (large if len(large) else table)["tier_share_low"].max()
    table["adverse_impact_ratio"] = table["tier_share_low"] / reference
    table["small"] = table["n"] < min_size
    return table


@pytest.mark.parametrize(
    ("name", "columns"),
    [("sex", ["sex"]), ("foreign", ["foreign"]), ("sex & foreign", ["sex", "foreign"])],
)
def test_every_figure_equals_an_independent_computation(name: str, columns: list[str]) -> None:
    frame = book()
    found = by_name(review(frame, FairnessConfig(min_group_size=10)), name)
    expected = expected_table(frame, columns, min_size=10)

    assert found.index.tolist() == expected.index.tolist()
    for column in expected.columns:
        np.testing.assert_allclose(
            found[column].to_numpy(dtype=float),
            expected[column].to_numpy(dtype=float),
            rtol=1e-12,
            err_msg=column,
        )


def test_one_grouping_per_attribute_then_their_intersection() -> None:
    result = review(book())

    assert [g.name for g in result.groupings] == ["sex", "foreign", "sex & foreign"]
    assert [g.attributes for g in result.groupings] == [
        ("sex",),
        ("foreign",),
        ("sex", "foreign"),
    ]
    assert [len(g.table) for g in result.groupings] == [2, 2, 4]
    assert all(g.table["share"].sum() == pytest.approx(1) for g in result.groupings)
    assert len(review(book(), columns=["sex"]).groupings) == 1  # one attribute: no intersection


def test_adverse_impact_ratio_follows_the_four_fifths_rule() -> None:
    # a: 6 of 10 in the low tier, b: 3 of 10 -> b's ratio 0.3 / 0.6 = 0.5 against a
    frame = pd.DataFrame(
        {
            "group": ["a"] * 10 + ["b"] * 10,
            "y": [0, 1] * 10,
            "pd": [0.1] * 20,
            "tier": ["low"] * 6 + ["high"] * 4 + ["low"] * 3 + ["medium"] * 7,
        }
    )
    result = review(frame, FairnessConfig(min_group_size=5), columns=["group"])
    table = by_name(result, "group")

    assert result.groupings[0].reference_group == "a"
    assert table["adverse_impact_ratio"].tolist() == [1.0, 0.5]
    worst = result.lowest_adverse_impact_ratio()
    assert worst is not None and (worst.value, worst.group) == (0.5, "b")
    assert worst.detail == "group 'b': 0.3000 in the low tier (n=10) vs 0.6000 for 'a' (n=10)"


def test_nobody_in_the_low_tier_means_equal_shares_and_ratio_one() -> None:
    frame = book().assign(tier="high")

    assert (by_name(review(frame), "sex")["adverse_impact_ratio"] == 1.0).all()


def test_small_groups_are_flagged_shown_and_not_counted_by_the_gate_figures() -> None:
    # "rare": 3 customers, none in the low tier (ratio 0), but too small to count
    frame = pd.DataFrame(
        {
            "group": ["big"] * 40 + ["mid"] * 30 + ["rare"] * 3,
            "y": ([0, 1] * 20) + ([0, 0, 1] * 10) + [1, 1, 1],
            "pd": [0.3] * 40 + [0.2] * 30 + [0.05] * 3,
            "tier": ["low"] * 20 + ["medium"] * 20 + ["low"] * 12 + ["high"] * 18 + ["high"] * 3,
        }
    )
    result = review(frame, FairnessConfig(min_group_size=30), columns=["group"])
    table = by_name(result, "group")

    assert table.loc["rare", "small"] and not table[["small"]].loc[["big", "mid"]].any().any()
    assert table.loc["rare", "adverse_impact_ratio"] == 0  # shown, with its figures
    air, gap = result.lowest_adverse_impact_ratio(), result.largest_calibration_gap()
    assert air is not None and (air.group, air.value) == ("mid", pytest.approx(0.4 / 0.5))
    assert gap is not None and gap.group == "big"  # |0.3 - 0.5|; rare's 0.95 is not counted
    assert gap.value == pytest.approx(0.2)


def test_when_every_group_is_small_every_group_counts_and_the_detail_says_so() -> None:
    result = review(book(20), FairnessConfig(min_group_size=100), columns=["sex"])

    air = result.lowest_adverse_impact_ratio()
    assert air is not None and air.detail.endswith(
        "; no group has 100 customers: all groups counted"
    )
    assert by_name(result, "sex")["small"].all()


def test_a_one_class_group_has_no_auc_and_no_crash() -> None:
    frame = book()
    frame.loc[frame["foreign"] == "no", "y"] = 0  # no defaults among non-foreign workers

    result = review(frame)
    table = by_name(result, "foreign")

    assert np.isnan(table.loc["no", "roc_auc"]) and not np.isnan(table.loc["yes", "roc_auc"])
    rows = result.to_dict()["groupings"][1]["groups"]
    assert [row["roc_auc"] is None for row in rows] == [True, False]  # JSON: null, not NaN


def test_the_review_does_not_depend_on_the_row_order() -> None:
    frame = book()
    shuffled = frame.sample(frac=1, random_state=7).reset_index(drop=True)

    for before, after in zip(review(frame).groupings, review(shuffled).groupings, strict=True):
        pd.testing.assert_frame_equal(before.table, after.table, rtol=1e-12)
        assert before.reference_group == after.reference_group


def test_an_index_that_is_not_0_to_n_is_ignored() -> None:
    frame = book()
    moved = frame.set_axis(np.arange(len(frame)) * 3 + 1000)  # a split keeps the file's index

    pd.testing.assert_frame_equal(
        review(frame).groupings[2].table, review(moved).groupings[2].table
    )


def test_a_missing_protected_value_is_a_group_of_its_own() -> None:
    frame = book().astype({"sex": object})
    frame.loc[:4, "sex"] = None

    table = by_name(review(frame), "sex")

    assert table.index.tolist() == ["(missing)", "f", "m"]
    assert table.loc["(missing)", "n"] == 5


def test_to_dict_is_plain_json() -> None:
    import json

    payload = review(book(), FairnessConfig(min_adverse_impact_ratio=0.8)).to_dict()

    text = json.dumps(payload, allow_nan=False)  # no NaN, no numpy types
    assert json.loads(text)["config"]["min_adverse_impact_ratio"] == 0.8
    first = payload["groupings"][2]["groups"][0]
    assert first["group"] == "f & no" and first["levels"] == ["f", "no"]
    assert json.loads(text)["groupings"][2]["groups"][0]["levels"] == ["f", "no"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(tier=["top"] * len(f)), "fairness: unknown tier(s) ['top']"),
        (lambda f: f.assign(y=2), "fairness: outcomes must be 1 (default) or 0"),
        (lambda f: f.assign(pd=1.5), "fairness: every PD must be a probability between 0 and 1"),
        (
            lambda f: f.assign(sex=[str(i) for i in range(len(f))]),
            "fairness: protected column 'sex' has 60 distinct values (at most 50)",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"^fairness: ") as caught:
        review(change(book()))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_inputs_of_different_lengths_are_refused() -> None:
    frame = book()
    with pytest.raises(ValueError, match="must describe the same customers"):
        review_fairness(frame[["sex"]], frame["y"][:-1], frame["pd"], frame["tier"])


# --- the gate -----------------------------------------------------------------------------

GOOD = Measurements(roc_auc=0.79, ks=0.48, calibration_error=0.04, score_psi=0.02)


def measured(air: float, gap: float) -> Measurements:
    return Measurements(
        roc_auc=0.79, ks=0.48, calibration_error=0.04, score_psi=0.02,
        adverse_impact_ratio=air, adverse_impact_detail="sex 'f': ...",
        fairness_calibration_gap=gap, fairness_calibration_detail="sex 'f': ...",
    )  # fmt: skip


def test_the_gate_ignores_fairness_until_a_threshold_is_set() -> None:
    names = [c.name for c in evaluate_gate(measured(0.5, 0.5), None, GateConfig())]
    assert not [n for n in names if "adverse" in n or "protected" in n]
    assert fairness_criteria(measured(0.5, 0.5), None, FairnessConfig()) == []


def test_each_fairness_threshold_is_a_named_criterion_when_set() -> None:
    config = FairnessConfig(min_adverse_impact_ratio=0.8, max_calibration_gap=0.1)
    champion = measured(0.9, 0.02)

    criteria = evaluate_gate(measured(0.75, 0.05), champion, GateConfig(), config)
    fairness = {c.name: c for c in criteria if c.name.startswith(("adverse", "calibration gap"))}

    assert list(fairness) == [
        "adverse impact ratio of the low tier",
        "calibration gap by protected group",
    ]
    air, gap = fairness.values()
    assert (air.value, air.rule, air.threshold, air.passed) == (0.75, ">=", 0.8, False)
    assert (gap.value, gap.rule, gap.threshold, gap.passed) == (0.05, "<=", 0.1, True)
    assert air.champion_value == 0.9 and air.detail == "sex 'f': ..."
    assert criteria[-1].name == "roc_auc vs champion"  # the champion comparison stays last


def test_a_threshold_without_measured_groups_is_an_error_naming_the_key() -> None:
    config = FairnessConfig(max_calibration_gap=0.1)
    with pytest.raises(ValueError, match=r"^fairness.max_calibration_gap is set but"):
        evaluate_gate(GOOD, None, GateConfig(), config)


def test_gate_measurements_are_the_review_s_figures() -> None:
    result = review(book(), FairnessConfig(min_group_size=10))
    fields = fairness_measurements(result)
    air, gap = result.lowest_adverse_impact_ratio(), result.largest_calibration_gap()
    expected = [
        table for grouping in ("sex", "foreign", "sex & foreign")
        for table in [expected_table(book(), grouping.split(" & "), 10)]
    ]  # fmt: skip
    large = pd.concat(expected)
    large = large[~large["small"]]

    assert air is not None and gap is not None
    assert fields["adverse_impact_ratio"] == pytest.approx(large["adverse_impact_ratio"].min())
    assert fields["fairness_calibration_gap"] == pytest.approx(large["calibration_gap"].abs().max())
    assert fields["adverse_impact_detail"] == air.detail


# --- params.yaml --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def params() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    return raw


def error_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "params.yaml")
    return str(caught.value)


def test_bundled_params_declare_the_protected_columns_with_thresholds_off(
    params: dict[str, Any],
) -> None:
    config = parse_config(params)

    assert config.data.protected == ("personal_status_and_sex", "foreign_worker")
    assert config.fairness == FairnessConfig()
    assert not config.fairness.gated


def test_a_protected_column_must_be_excluded(params: dict[str, Any]) -> None:
    raw = copy.deepcopy(params)
    raw["data"]["protected"] = ["personal_status_and_sex", "age_in_years"]

    assert (
        "data.protected: ['age_in_years'] not in data.excluded; a protected attribute is never "
        "given to a model: list it under data.excluded too"
    ) in error_of(raw)


def test_a_fairness_threshold_needs_protected_columns(params: dict[str, Any]) -> None:
    raw = copy.deepcopy(params)
    raw["data"]["protected"] = []
    raw["fairness"]["min_adverse_impact_ratio"] = 0.8

    assert "fairness: a threshold is set but data.protected is empty" in error_of(raw)


@pytest.mark.parametrize(
    ("key", "value"), [("min_adverse_impact_ratio", 1.5), ("min_group_size", 0)]
)
def test_bad_fairness_values_name_their_key(params: dict[str, Any], key: str, value: Any) -> None:
    raw = copy.deepcopy(params)
    raw["fairness"][key] = value

    assert f"fairness.{key}:" in error_of(raw)


# --- the report's summary -----------------------------------------------------------------


def test_the_summary_warns_of_large_groups_below_four_fifths_only() -> None:
    from experiments.reports.fairness import fairness_warnings

    frame = pd.DataFrame(
        {
            "group": ["a"] * 40 + ["b"] * 40 + ["c"] * 3,
            "y": [0, 1] * 40 + [0, 0, 0],
            "pd": [0.5] * 83,
            "tier": ["low"] * 20 + ["high"] * 20 + ["low"] * 12 + ["high"] * 28 + ["high"] * 3,
        }
    )
    section = review(frame, columns=["group"]).to_dict()

    assert fairness_warnings(section) == [
        "fairness: group 'b': adverse-impact ratio of the low tier 0.6000 (< 0.8; reference 'a')"
    ]  # c (ratio 0, 3 customers) is small: shown in the section, not a warning
    assert fairness_warnings({"groupings": []}) == []
