"""Tabulated TreeSHAP equals LightGBM's ``pred_contrib`` wherever a row can land.

Boosters are trained on small synthetic data built to exercise every decision LightGBM makes:
numerical splits with each missing type (None, Zero, NaN), categorical splits, single-leaf
trees. Rows are probed at every split threshold and its floating-point neighbours, at zero and
LightGBM's zero band, NaN, infinities, negative, fractional and unknown category codes.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from models.fastpath.lightgbm_runner import LightGBMRunner
from models.fastpath.tree_shap import ZERO_THRESHOLD, ShapTables

TOLERANCE = 1e-9
CATEGORICAL = 3


def training_data(n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 6))
    X[:, CATEGORICAL] = rng.integers(0, 7, n)
    X[:, 4] = rng.integers(0, 3, n)  # a few distinct numbers, many exact zeros
    X[::7, 0] = np.nan
    X[::11, CATEGORICAL] = np.nan
    X[::5, 5] = 0.0
    signal = X[:, 1] + (X[:, CATEGORICAL] % 3) + np.nan_to_num(X[:, 0]) - X[:, 5] * X[:, 4]
    y = (signal + rng.normal(size=n) > 1.5).astype(int)
    return X, y


def train(**params: Any) -> lgb.Booster:
    X, y = training_data()
    settings = {"objective": "binary", "verbose": -1, "seed": 1, "num_threads": 1}
    settings |= {"bagging_fraction": 0.7, "bagging_freq": 1, "min_data_in_leaf": 5}
    dataset = lgb.Dataset(X, y, categorical_feature=[CATEGORICAL])
    rounds = params.pop("rounds", 40)
    return lgb.train(settings | params, dataset, num_boost_round=rounds)


def probe_rows(booster: lgb.Booster) -> np.ndarray:
    """Training rows, plus each threshold (and neighbours) and odd values in every column."""
    X, _ = training_data(300)
    thresholds = booster.trees_to_dataframe()["threshold"].dropna()
    numeric = [float(t) for t in thresholds if not isinstance(t, str)]
    odd = [0.0, -0.0, ZERO_THRESHOLD, -ZERO_THRESHOLD, np.nan, np.inf, -np.inf, -0.5, -1.0]
    odd += [2.7, 6.0, 7.0, 99.0, 1e300]
    values = odd + [np.nextafter(t, d) for t in numeric for d in (-np.inf, np.inf)] + numeric
    probes = np.repeat(X[:1], len(values) * X.shape[1], axis=0)
    for column in range(X.shape[1]):
        probes[column * len(values) : (column + 1) * len(values), column] = values
    return np.vstack([X, probes])


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 8},
        {"num_leaves": 11, "min_data_in_leaf": 2},
        {"num_leaves": 4, "zero_as_missing": True},
        {"num_leaves": 6, "use_missing": False},
        {"num_leaves": 8, "max_cat_to_onehot": 8},
        {"num_leaves": 3, "rounds": 5},
        {"num_leaves": 3, "min_gain_to_split": 1e6},  # no split pays: one single-leaf tree
    ],
    ids=[
        "8-leaves",
        "11-leaves",
        "zero-as-missing",
        "no-missing",
        "one-vs-rest",
        "3-leaves",
        "constant",
    ],
)
def test_tables_equal_pred_contrib_on_every_probe(params: dict[str, Any]) -> None:
    booster = train(**params)
    tables = ShapTables.build(booster)
    assert tables is not None
    rows = probe_rows(booster)
    expected = booster.predict(rows, pred_contrib=True)
    raw = booster.predict(rows, raw_score=True)
    margins, contributions = tables.contributions(rows)
    assert np.abs(contributions - expected).max() < TOLERANCE
    assert np.array_equal(margins, raw)  # leaf values added in LightGBM's order: bit-equal
    for i in range(0, len(rows), 7):  # the one-row path (the service's)
        margin, one = tables.row_contributions(rows[i])
        assert np.abs(one[0] - expected[i]).max() < TOLERANCE
        assert margin == raw[i]
    # efficiency: base value + contributions = the model's margin
    assert np.abs(contributions.sum(axis=1) - raw).max() < TOLERANCE


def test_models_it_cannot_tabulate_fall_back_to_lightgbm() -> None:
    big = train(num_leaves=40, min_data_in_leaf=2, rounds=5)
    assert ShapTables.build(big) is None
    runner = LightGBMRunner(big, num_threads=1)
    assert runner.tables is None and "pred_contrib" in runner.shap_method
    rows = probe_rows(big)[:50]
    pd_, contributions = runner.contributions(rows)
    assert np.abs(contributions - big.predict(rows, pred_contrib=True)).max() < TOLERANCE
    assert np.array_equal(pd_, big.predict(rows))
    pd_one, one = runner.contributions(rows[:1])  # LightGBM's single-row API
    assert np.abs(one - contributions[:1]).max() < TOLERANCE
    assert abs(pd_one[0] - pd_[0]) < 1e-15

    X, _ = training_data()
    three = np.arange(len(X)) % 3
    multiclass = lgb.train(
        {"objective": "multiclass", "num_class": 3, "num_leaves": 4, "verbose": -1},
        lgb.Dataset(X, three),
        num_boost_round=3,
    )
    assert ShapTables.build(multiclass) is None


def test_runner_pd_with_contributions_is_lightgbm_pd() -> None:
    """With reasons the PD comes from the tables; it must not differ from LightGBM's."""
    booster = train(num_leaves=8)
    runner = LightGBMRunner(booster, num_threads=1)
    assert runner.tables is not None and "tabulated" in runner.shap_method
    rows = probe_rows(booster)[::5]
    expected = booster.predict(rows, pred_contrib=True)
    pd_batch, batch = runner.contributions(rows)
    assert np.abs(batch - expected).max() < TOLERANCE
    assert np.abs(pd_batch - booster.predict(rows)).max() < 1e-15
    for i in range(len(rows)):
        pd_one, one = runner.contributions(rows[i : i + 1])
        assert np.abs(one - expected[i]).max() < TOLERANCE
        assert pd_one[0] == runner.predict(rows[i : i + 1])[0]  # the service's two paths
