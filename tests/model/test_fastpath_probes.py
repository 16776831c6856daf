"""The fast path checks itself against LightGBM at load, on rows probing every split.

``probe_rows`` must reach every threshold (and both float neighbours), every category code and
LightGBM's special values; ``LightGBMRunner`` must keep its tables and single-row predictors
when they agree with ``Booster.predict`` there, and drop them (logging why) when they do not,
so that the answers are LightGBM's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from models.fastpath import lightgbm_runner
from models.fastpath.lightgbm_runner import PREDICT_NORMAL, LightGBMRunner, SingleRowPredictor
from models.fastpath.probes import SPECIAL_VALUES, bitset_codes, model_splits, probe_rows
from models.fastpath.tree_shap import ZERO_THRESHOLD, ShapTables

CATEGORICAL = 2
TOLERANCE = 1e-9


def train(**params: Any) -> lgb.Booster:
    """A small binary booster: NaNs, exact zeros, a categorical input (codes 0-5)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 4))
    X[:, CATEGORICAL] = rng.integers(0, 6, len(X))
    X[::6, 0] = np.nan
    X[::4, 3] = 0.0
    y = (X[:, 1] + (X[:, CATEGORICAL] % 2) - X[:, 3] + rng.normal(size=len(X)) > 0.5).astype(int)
    settings = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1}
    settings |= {"num_leaves": 6, "min_data_in_leaf": 5}
    rounds = params.pop("rounds", 15)
    dataset = lgb.Dataset(X, y, categorical_feature=[CATEGORICAL])
    return lgb.train(settings | params, dataset, num_boost_round=rounds)


def contains(column: np.ndarray, value: float) -> bool:
    """``value`` is in ``column``, NaN included and -0.0 told apart from 0.0."""
    if np.isnan(value):
        return bool(np.isnan(column).any())
    same = (column == value) & (np.signbit(column) == np.signbit(value))
    return bool(same.any())


def test_probes_reach_every_threshold_category_and_special_value() -> None:
    booster = train()
    rows = probe_rows(booster)
    splits = booster.trees_to_dataframe().dropna(subset=["split_feature"])
    index = {name: i for i, name in enumerate(booster.feature_name())}
    assert len(splits) > 20
    named: set[float] = set()
    for feature, threshold in zip(splits["split_feature"], splits["threshold"], strict=True):
        column = rows[:, index[feature]]
        if isinstance(threshold, str):  # categorical: "1||3||4", the codes that go left
            codes = [float(c) for c in threshold.split("||")]
            assert all(contains(column, c) for c in codes), (feature, threshold)
            named.update(codes)
        else:
            near = [np.nextafter(threshold, -np.inf), threshold, np.nextafter(threshold, np.inf)]
            assert all(contains(column, v) for v in near), (feature, threshold)
    categorical = rows[:, CATEGORICAL]
    assert named and contains(categorical, max(named) + 1)  # a code no split names
    assert contains(categorical, -1.0) and contains(categorical, max(named) + 0.5)
    odd = [0.0, -0.0, 1e-35, -1e-35, ZERO_THRESHOLD, -ZERO_THRESHOLD, np.nan, np.inf, -np.inf]
    for column in rows.T:  # every input, split on or not
        assert all(contains(column, v) for v in odd)
    assert np.array_equal(rows, probe_rows(booster), equal_nan=True)  # deterministic


def test_probe_rows_are_bounded() -> None:
    booster = train(num_leaves=11, rounds=40)
    rows = probe_rows(booster, max_rows=40)
    assert rows.shape == (40, booster.num_feature())
    for column in rows.T:
        assert all(contains(column, v) for v in SPECIAL_VALUES)
    with pytest.raises(ValueError, match="max_rows must be at least 16, got 10"):
        probe_rows(booster, max_rows=10)


def test_model_splits_read_thresholds_and_category_bitsets() -> None:
    assert bitset_codes([54]) == {1, 2, 4, 5}
    assert bitset_codes([0, 1]) == {32}
    booster = train()
    thresholds, categories = model_splits(booster.model_to_string())
    assert set(categories) == {CATEGORICAL} and categories[CATEGORICAL] <= set(range(6))
    splits = booster.trees_to_dataframe().dropna(subset=["split_feature"])
    numeric = splits[splits["decision_type"] == "<="]
    assert {float(t) for t in numeric["threshold"]} == set().union(*thresholds.values())


@pytest.mark.parametrize(
    "params",
    [{}, {"zero_as_missing": True}, {"use_missing": False}, {"num_leaves": 40, "rounds": 4}],
    ids=["tabulated", "zero-as-missing", "no-missing", "too-large-to-tabulate"],
)
def test_a_sound_fast_path_passes_its_load_check(
    params: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    booster = train(**params)
    with caplog.at_level(logging.WARNING, logger="riskgrade.fastpath"):
        runner = LightGBMRunner(booster, num_threads=1)
    assert runner.fallback_reason is None
    assert "fallback" not in runner.shap_method
    assert not fastpath_records(caplog)
    tabulable = ShapTables.build(booster) is not None
    assert (runner.tables is not None) == tabulable
    assert tabulable == ("num_leaves" not in params)  # 40 leaves: too large to tabulate
    if lightgbm_runner.fast_api_available():
        assert {0, 1} <= set(runner.single)


def fastpath_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "riskgrade.fastpath"]


def corrupt_build(monkeypatch: pytest.MonkeyPatch, corrupt: Callable[[Any, Any], None]) -> None:
    """Make ``ShapTables.build`` return tables damaged by ``corrupt(tables, booster)``."""
    original = ShapTables.build

    def build(booster: Any, num_iteration: int | None = None) -> ShapTables | None:
        tables = original(booster, num_iteration=num_iteration)
        assert tables is not None
        corrupt(tables, booster)
        return tables

    monkeypatch.setattr(ShapTables, "build", build)


def damage_entry(tables: ShapTables, booster: Any) -> None:
    """One table value, in the table row the first probe row selects in tree 0."""
    row = tables.table_rows(probe_rows(booster)[:1])[0, 0]
    tables.values[row, 1] += 1e-6


def shift_threshold(tables: ShapTables, booster: Any) -> None:
    """A split threshold one ulp too low: only a value exactly at the threshold is misread."""
    feature = next(i for i in tables.inputs if not i.categorical)
    thresholds, _ = model_splits(booster.model_to_string())
    k = int(np.searchsorted(feature.edges, max(thresholds[feature.feature])))
    feature.edges[k] = np.nextafter(feature.edges[k], -np.inf)


@pytest.mark.parametrize("corrupt", [damage_entry, shift_threshold], ids=["entry", "threshold"])
def test_a_corrupted_table_falls_back_to_pred_contrib(
    corrupt: Callable[[Any, Any], None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    booster = train()
    corrupt_build(monkeypatch, corrupt)
    with caplog.at_level(logging.WARNING, logger="riskgrade.fastpath"):
        runner = LightGBMRunner(booster, num_threads=1)
    assert runner.tables is None
    reason = runner.fallback_reason
    assert reason is not None and reason.startswith("tabulated") and "probe row" in reason
    assert runner.shap_method.startswith("TreeSHAP (LightGBM pred_contrib)")
    assert reason in runner.shap_method
    [record] = fastpath_records(caplog)
    assert record.name == "riskgrade.fastpath" and record.levelno == logging.WARNING
    assert reason in record.getMessage()

    rows = probe_rows(booster)
    expected = booster.predict(rows, pred_contrib=True)
    pd_, contributions = runner.contributions(rows)
    assert np.abs(contributions - expected).max() < TOLERANCE
    assert np.array_equal(pd_, booster.predict(rows))
    margins, _ = runner.margin_contributions(rows)
    assert np.array_equal(margins, booster.predict(rows, raw_score=True))
    for i in range(0, len(rows), 9):  # one customer: LightGBM's single-row API
        pd_one, one = runner.contributions(rows[i : i + 1])
        assert np.abs(one[0] - expected[i]).max() < TOLERANCE
        assert abs(pd_one[0] - pd_[i]) < 1e-12


def test_a_single_row_predictor_that_differs_is_dropped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if not lightgbm_runner.fast_api_available():
        pytest.skip("this LightGBM has no single-row fast API")
    booster = train()
    original = SingleRowPredictor.predict

    def off_by_a_little(self: SingleRowPredictor, row: np.ndarray) -> np.ndarray:
        return original(self, row) + 1e-10  # raw score and PD (and contributions)

    monkeypatch.setattr(SingleRowPredictor, "predict", off_by_a_little)
    with caplog.at_level(logging.WARNING, logger="riskgrade.fastpath"):
        runner = LightGBMRunner(booster, num_threads=1)
    assert runner.single == {}
    assert runner.tables is not None  # the tables agree with LightGBM: kept
    assert runner.fallback_reason is not None and "single-row PD" in runner.fallback_reason
    assert "single-row raw score" in fastpath_records(caplog)[0].getMessage()
    row = probe_rows(booster)[:1]
    assert runner.predict(row)[0] == booster.predict(row)[0]
    assert runner.margin(row)[0] == booster.predict(row, raw_score=True)[0]
    assert PREDICT_NORMAL not in runner.single
