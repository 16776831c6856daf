"""Gains / lift, KS curve, score distribution and PSI on tiny literal data (hand-checked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluation.metrics import compute_ks
from models.evaluation.tables import (
    default_rate_increases,
    gains_table,
    ks_curve,
    ks_point,
    score_distribution,
)
from models.monitoring.stability import (
    band as psi_band,
)
from models.monitoring.stability import (
    categorical_psi,
    feature_psi,
    numeric_psi,
    population_stability_index,
)

# 10 customers, PD falling from 0.9 to 0.05; defaults are customers 1, 2, 4 and 7 (riskiest = 1).
Y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
PD = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])


def test_gains_table_by_quintile_counts_defaults_riskiest_first() -> None:
    table = gains_table(Y, PD, score=np.arange(10) * 10 + 400, n_bins=5)
    assert table["decile"].tolist() == [1, 2, 3, 4, 5]
    assert table["n_defaults"].tolist() == [2, 1, 0, 1, 0]
    assert table["max_pd"].tolist() == [0.9, 0.7, 0.5, 0.3, 0.1]
    assert table["min_score"].tolist() == [400, 420, 440, 460, 480]
    np.testing.assert_allclose(table["cum_share_defaults"], [0.5, 0.75, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(table["lift"], [2.5, 1.25, 0.0, 1.25, 0.0])  # rate / 0.4
    np.testing.assert_allclose(table["cum_lift"], [2.5, 1.875, 1.25, 1.25, 1.0])
    assert table["cum_share_customers"].iloc[-1] == pytest.approx(1.0)


def test_ks_curve_reaches_compute_ks_where_the_gap_is_largest() -> None:
    curve = ks_curve(Y, PD)
    point = ks_point(curve)
    assert point["ks"] == pytest.approx(compute_ks(Y, PD))
    # Declining the 4 riskiest catches 3 of 4 defaults and 1 of 6 goods: 0.75 - 0.167, the
    # largest gap (2 riskiest: 0.5; 7 riskiest: 1 - 0.5).
    assert point["ks"] == pytest.approx(0.75 - 1 / 6)
    assert point["population_share"] == pytest.approx(0.4)
    assert point["threshold_pd"] == pytest.approx(0.6)
    assert curve["cum_share_defaults"].is_monotonic_increasing


def test_score_distribution_shares_sum_to_one_per_outcome() -> None:
    score = np.array([400, 410, 500, 420, 520, 560, 450, 580, 600, 610])
    table = score_distribution(Y, score, n_bins=4)
    assert table["n_defaults"].sum() == 4 and table["n_goods"].sum() == 6
    assert table["share_defaults"].sum() == pytest.approx(1.0)
    assert table["share_goods"].sum() == pytest.approx(1.0)
    assert table["score_from"].iloc[0] == 400 and table["score_to"].iloc[-1] == 610
    # bands of 52.5 points from 400: defaults 400-450 all in the first, goods mostly high
    assert table["n_defaults"].tolist() == [4, 0, 0, 0]
    assert table["n_goods"].tolist() == [0, 1, 1, 4]


def test_tables_refuse_a_single_class_or_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match=r"both 0 .* and 1"):
        gains_table(np.zeros(10), PD)
    with pytest.raises(ValueError, match="y has 10 rows but the scores have 3"):
        ks_curve(Y, PD[:3])


@pytest.mark.parametrize(
    ("rates", "expected"),
    [([0.05, 0.2, 0.6], True), ([0.05, 0.6, 0.2], False), ([0.1, 0.1, 0.5], False)],
)
def test_default_rate_increases(rates: list[float], expected: bool) -> None:
    tiers = pd.DataFrame({"tier": ["low", "medium", "high"], "n_rows": [5, 5, 5]})
    tiers["default_rate"] = rates
    assert default_rate_increases(tiers) is expected


def test_psi_of_identical_samples_is_zero_and_of_a_shifted_sample_acts() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(600, 50, size=2000)
    assert numeric_psi(base, base.copy()) == pytest.approx(0.0, abs=1e-12)
    shifted = numeric_psi(base, base + 50)  # one standard deviation
    assert shifted > 0.25 and psi_band(shifted) == "act"
    assert numeric_psi(base, base + 50) == population_stability_index(base, base + 50)


def test_categorical_psi_by_hand() -> None:
    expected = ["a"] * 50 + ["b"] * 50
    actual = ["a"] * 25 + ["b"] * 75
    by_hand = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert categorical_psi(expected, actual) == pytest.approx(by_hand)
    assert categorical_psi(expected, list(expected)) == pytest.approx(0.0)


def test_unseen_category_and_missing_values_count_as_their_own_bins() -> None:
    expected = ["a", "b"] * 10
    actual = ["a", "b"] * 8 + ["c", None, None, np.nan]
    assert categorical_psi(expected, actual) > 0.25  # 20 % of rows in bins that were empty
    numbers = [1.0, 2.0, 3.0, 4.0] * 5
    with_missing = [1.0, 2.0, 3.0, 4.0] * 4 + [np.nan] * 4
    assert numeric_psi(numbers, with_missing) > 0.25
    assert numeric_psi(numbers, numbers) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("value", "band"),
    [(0.0, "stable"), (0.099, "stable"), (0.1, "watch"), (0.25, "watch"), (0.26, "act")],
)
def test_psi_bands(value: float, band: str) -> None:
    assert psi_band(value) == band


def test_feature_psi_covers_numeric_and_categorical_largest_first() -> None:
    train = pd.DataFrame({"amount_dm": [100.0, 200, 300, 400] * 5, "purpose": ["car", "tv"] * 10})
    test = pd.DataFrame({"amount_dm": [100.0, 200, 300, 400] * 5, "purpose": ["car"] * 20})
    table = feature_psi(train, test, ["amount_dm"], ["purpose"])
    assert table["feature"].tolist() == ["purpose", "amount_dm"]
    assert table["kind"].tolist() == ["categorical", "numeric"]
    assert table["band"].tolist() == ["act", "stable"]
    with pytest.raises(ValueError, match=r"column\(s\) \['age'\] missing"):
        feature_psi(train, test, ["age"], [])
