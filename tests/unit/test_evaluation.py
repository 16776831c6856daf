"""PD metrics against values worked out by hand or computed independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.evaluation.metrics import (
    calibration_table,
    compute_ks,
    compute_metrics,
    expected_calibration_error,
)


def test_ks_on_a_hand_computed_example() -> None:
    # Goods score 0.1, 0.2, 0.6; bads 0.5, 0.9. Cutting at PD >= 0.5 catches both bads and
    # one good in three: KS = 1 - 1/3. No other cut does better (0.9: 1/2 - 0, 0.6: 1/2 - 1/3).
    y = np.array([0, 0, 0, 1, 1])
    pd_ = np.array([0.1, 0.2, 0.6, 0.5, 0.9])

    assert compute_ks(y, pd_) == pytest.approx(2 / 3, abs=1e-12)


def test_ks_equals_the_largest_gap_between_empirical_distributions() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    pd_ = np.clip(rng.normal(0.3 + 0.2 * y, 0.15), 0, 1)
    grid = np.unique(pd_)
    cdf_bad = np.searchsorted(np.sort(pd_[y == 1]), grid, side="right") / (y == 1).sum()
    cdf_good = np.searchsorted(np.sort(pd_[y == 0]), grid, side="right") / (y == 0).sum()

    assert compute_ks(y, pd_) == pytest.approx(np.max(cdf_good - cdf_bad), abs=1e-12)


def test_perfect_ranking_scores_one() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    pd_ = np.array([0.05, 0.1, 0.2, 0.3, 0.31, 0.5, 0.9])

    metrics = compute_metrics(y, pd_)

    assert metrics["roc_auc"] == 1.0
    assert metrics["gini"] == 1.0
    assert metrics["ks"] == 1.0
    assert metrics["pr_auc"] == 1.0


def test_reversed_ranking_scores_minus_one_gini() -> None:
    y = np.array([1, 1, 0, 0, 0])
    pd_ = np.array([0.1, 0.2, 0.3, 0.4, 0.5])

    metrics = compute_metrics(y, pd_)

    assert metrics["roc_auc"] == 0.0
    assert metrics["gini"] == -1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_is_two_auc_minus_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 200)
    pd_ = rng.uniform(size=200)

    metrics = compute_metrics(y, pd_)

    assert metrics["gini"] == pytest.approx(2 * metrics["roc_auc"] - 1, abs=1e-12)
    assert 0.0 < metrics["roc_auc"] < 1.0


def test_metrics_report_counts_and_plain_values() -> None:
    y = np.array([0, 1, 0, 1])
    pd_ = np.array([0.2, 0.8, 0.4, 0.6])

    metrics = compute_metrics(y, pd_)

    assert metrics["n_rows"] == 4
    assert metrics["default_rate"] == 0.5
    assert metrics["mean_pd"] == pytest.approx(0.5)
    # Brier: mean of (0.2² + 0.2² + 0.4² + 0.4²) = 0.1
    assert metrics["brier"] == pytest.approx(0.1, abs=1e-12)
    expected_log_loss = -np.mean(np.log([0.8, 0.8, 0.6, 0.6]))
    assert metrics["log_loss"] == pytest.approx(expected_log_loss, abs=1e-12)
    assert all(type(v) in (float, int) for v in metrics.values())


@pytest.mark.parametrize("y", [[0, 0, 0, 0], [1, 1, 1, 1]], ids=["no-defaults", "only-defaults"])
def test_metrics_need_both_classes(y: list[int]) -> None:
    with pytest.raises(ValueError, match="metrics need both defaults and non-defaults in y"):
        compute_metrics(np.array(y), np.array([0.1, 0.2, 0.3, 0.4]))


def test_calibration_table_has_ten_bins_with_independent_observed_rates() -> None:
    rng = np.random.default_rng(42)
    pd_ = rng.uniform(0.01, 0.9, 150)
    y = (rng.uniform(size=150) < pd_).astype(int)

    table = calibration_table(y, pd_)

    order = np.argsort(pd_)  # 150 distinct PDs: 15 rows per decile
    observed = y[order].reshape(10, 15).mean(axis=1)
    predicted = pd_[order].reshape(10, 15).mean(axis=1)
    assert table["bin"].tolist() == list(range(1, 11))
    assert table["n_rows"].tolist() == [15] * 10
    np.testing.assert_allclose(table["observed_default_rate"], observed, atol=1e-12)
    np.testing.assert_allclose(table["mean_pd"], predicted, atol=1e-12)
    np.testing.assert_allclose(table["abs_gap"], np.abs(predicted - observed), atol=1e-12)
    assert (table["min_pd"].to_numpy()[1:] > table["max_pd"].to_numpy()[:-1]).all()


def perfectly_calibrated(shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """10 groups of 20 rows at PD 0.05, 0.15, ..., 0.95 with exactly 1, 3, ..., 19 defaults."""
    pds, ys = [], []
    for k in range(10):
        pd_k = (2 * k + 1) / 20
        defaults = 2 * k + 1
        pds += [pd_k + shift] * 20
        ys += [1] * defaults + [0] * (20 - defaults)
    return np.array(ys), np.array(pds)


def test_ece_of_a_perfectly_calibrated_model_is_zero() -> None:
    y, pd_ = perfectly_calibrated()

    table = calibration_table(y, pd_)

    np.testing.assert_allclose(table["observed_default_rate"], table["mean_pd"], atol=1e-12)
    assert expected_calibration_error(table) == pytest.approx(0.0, abs=1e-12)


def test_ece_measures_a_uniform_overestimate() -> None:
    y, pd_ = perfectly_calibrated(shift=0.04)

    assert expected_calibration_error(calibration_table(y, pd_)) == pytest.approx(0.04, abs=1e-12)


def test_ece_weights_bins_by_rows() -> None:
    table = pd.DataFrame({"abs_gap": [0.1, 0.4], "n_rows": [30, 10]})

    assert expected_calibration_error(table) == pytest.approx((0.1 * 30 + 0.4 * 10) / 40)
