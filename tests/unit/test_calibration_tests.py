"""PD calibration tests against hand-worked values and independent computations."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.evaluation.calibration_tests import (
    GRADE_COLUMNS,
    binomial_test,
    calibration_in_the_large,
    calibration_summary,
    grade_tests,
    hosmer_lemeshow,
    jeffreys_interval,
    jeffreys_test,
    spiegelhalter,
)


def drawn_from(pd_: np.ndarray, seed: int) -> np.ndarray:
    """Outcomes of a model that is calibrated by construction: y_i ~ Bernoulli(pd_i)."""
    return (np.random.default_rng(seed).uniform(size=len(pd_)) < pd_).astype(int)


def portfolio(n: int = 20_000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    pd_ = np.random.default_rng(seed).uniform(0.01, 0.3, n)
    return drawn_from(pd_, seed + 100), pd_


# Three grades: A 5 rows at PD 2 %, no default; B 5 rows at 10 %, one default; C 4 rows at
# 20 % and 40 % (mean 30 %), three defaults. D is on the master scale but has no obligor.
GRADE_Y = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1])
GRADE_PD = np.array([0.02] * 5 + [0.10] * 5 + [0.2, 0.4, 0.2, 0.4])
GRADES = np.array(["A"] * 5 + ["B"] * 5 + ["C"] * 4)


@pytest.mark.parametrize(
    ("defaults", "n", "pd_"),
    [(0, 10, 0.01), (1, 1, 0.5), (3, 50, 0.02), (12, 100, 0.05), (40, 400, 0.12), (5, 5, 0.3)],
)
@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_binomial_test_equals_scipy_binomtest(
    defaults: int, n: int, pd_: float, alternative: Any
) -> None:
    result = binomial_test(defaults, n, pd_, alternative=alternative)

    expected = stats.binomtest(defaults, n, pd_, alternative=alternative).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert result.rejected == (expected < 0.05)
    assert result.expected_defaults == pytest.approx(n * pd_)


def test_binomial_test_rejects_a_pd_that_underestimates_risk() -> None:
    # 12 defaults in 100 at PD 5 %: P(X >= 12) is about 0.0043.
    assert binomial_test(12, 100, 0.05).rejected
    assert not binomial_test(12, 100, 0.05, alternative="less").rejected
    assert not binomial_test(5, 100, 0.05).rejected


def test_jeffreys_test_is_the_beta_posterior_cdf_at_the_pd() -> None:
    for defaults, n, pd_ in [(0, 10, 0.01), (3, 50, 0.02), (12, 100, 0.05), (40, 400, 0.12)]:
        expected = stats.beta(defaults + 0.5, n - defaults + 0.5).cdf(pd_)

        assert jeffreys_test(defaults, n, pd_).p_value == pytest.approx(expected, rel=1e-12)


def test_jeffreys_test_on_a_hand_worked_example() -> None:
    # One obligor. With t = sin²θ, the CDF of Beta(1/2, 3/2) is (2/π)(θ + sinθ cosθ) at
    # θ = asin(√x); Beta(3/2, 1/2) is its mirror image.
    # No default, PD 1/4: Beta(1/2, 3/2) at 1/4, θ = π/6: (2/π)(π/6 + √3/4) = 1/3 + √3/(2π)
    #   = 0.3333 + 0.2757 = 0.6090 -> not rejected.
    # One default, PD 1/4: Beta(3/2, 1/2) at 1/4 = 1 - Beta(1/2, 3/2) at 3/4, θ = π/3:
    #   1 - (2/π)(π/3 + √3/4) = 1/3 - √3/(2π) = 0.0577 -> not rejected at 5 %, rejected at 10 %.
    no_default = jeffreys_test(0, 1, 0.25)
    one_default = jeffreys_test(1, 1, 0.25)
    one_default_at_10 = jeffreys_test(1, 1, 0.25, alpha=0.10)

    assert no_default.p_value == pytest.approx(1 / 3 + math.sqrt(3) / (2 * math.pi), rel=1e-12)
    assert one_default.p_value == pytest.approx(1 / 3 - math.sqrt(3) / (2 * math.pi), rel=1e-12)
    assert one_default.p_value == pytest.approx(0.0577, abs=5e-5)
    assert not no_default.rejected
    assert not one_default.rejected
    assert one_default_at_10.rejected


def test_jeffreys_interval_is_the_beta_posterior_central_interval() -> None:
    lower, upper = jeffreys_interval(3, 50, alpha=0.10)

    assert lower == pytest.approx(stats.beta.ppf(0.05, 3.5, 47.5), rel=1e-12)
    assert upper == pytest.approx(stats.beta.ppf(0.95, 3.5, 47.5), rel=1e-12)
    assert lower < 3 / 50 < upper


def test_jeffreys_interval_reaches_zero_and_one_at_the_extremes() -> None:
    # Plain Beta quantiles would exclude an observed rate of 0 (or 1); the interval keeps it.
    assert jeffreys_interval(0, 3) == (0.0, pytest.approx(stats.beta.ppf(0.975, 0.5, 3.5)))
    assert jeffreys_interval(3, 3) == (pytest.approx(stats.beta.ppf(0.025, 3.5, 0.5)), 1.0)


def test_calibration_in_the_large_on_a_hand_worked_example() -> None:
    # 4 obligors at PD 1/2, one default: D = 1, sum p = 2, sum p(1 - p) = 1, so z = -1 and
    # p = 2 (1 - Φ(1)) = erfc(1/√2) = 0.3173. Mean PD / default rate = 0.5 / 0.25 = 2.
    result = calibration_in_the_large([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5])

    assert (result.n, result.defaults, result.expected_defaults) == (4, 1, 2.0)
    assert result.observed_default_rate == 0.25
    assert result.mean_pd_to_default_rate == pytest.approx(2.0)
    assert result.z == pytest.approx(-1.0, abs=1e-12)
    assert result.p_value == pytest.approx(math.erfc(1 / math.sqrt(2)), rel=1e-12)
    assert not result.rejected


def test_calibration_in_the_large_accepts_calibrated_pds_and_rejects_shifted_ones() -> None:
    y, pd_ = portfolio()

    calibrated = calibration_in_the_large(y, pd_)
    too_high = calibration_in_the_large(y, pd_ + 0.02)

    assert not calibrated.rejected
    assert calibrated.ci_lower < calibrated.observed_default_rate < calibrated.ci_upper
    assert calibrated.ci_lower < calibrated.mean_pd < calibrated.ci_upper
    assert too_high.rejected
    assert too_high.z < 0  # fewer defaults than the PDs expect
    assert too_high.mean_pd > too_high.ci_upper


def test_calibration_in_the_large_without_defaults_has_no_ratio() -> None:
    result = calibration_in_the_large([0, 0, 0], [0.01, 0.02, 0.03])

    assert result.mean_pd_to_default_rate is None
    assert (result.observed_default_rate, result.ci_lower) == (0.0, 0.0)


def test_spiegelhalter_on_a_hand_worked_example() -> None:
    # Two obligors at PD 0.2, one default: numerator 0.8·0.6 - 0.2·0.6 = 0.36, variance
    # 2 · 0.6² · 0.2 · 0.8 = 0.1152, z = 0.36 / √0.1152 = 1.5/√2 = 1.0607. Brier (0.64 +
    # 0.04)/2 = 0.34 against an expected 0.2 · 0.8 = 0.16.
    result = spiegelhalter([1, 0], [0.2, 0.2])

    assert result.z == pytest.approx(1.5 / math.sqrt(2), rel=1e-12)
    assert result.p_value == pytest.approx(math.erfc(1.5 / 2), rel=1e-12)
    assert result.brier == pytest.approx(0.34)
    assert result.expected_brier == pytest.approx(0.16)


def test_spiegelhalter_accepts_the_true_pds_and_rejects_halved_ones() -> None:
    y, pd_ = portfolio()

    calibrated = spiegelhalter(y, pd_)
    halved = spiegelhalter(y, pd_ / 2)

    assert calibrated.z is not None
    assert abs(calibrated.z) < 1
    assert not calibrated.rejected
    assert halved.z is not None
    assert halved.z > 10
    assert halved.rejected


def test_spiegelhalter_handles_pds_of_exactly_zero_and_one() -> None:
    right = spiegelhalter([0, 1, 0, 1], [0.0, 1.0, 0.0, 1.0])
    wrong = spiegelhalter([1, 0, 0, 1], [0.0, 1.0, 0.0, 1.0])

    assert right.z is not None
    assert math.isfinite(right.z)
    assert not right.rejected
    assert wrong.rejected


def test_spiegelhalter_is_undefined_when_every_pd_is_one_half() -> None:
    result = spiegelhalter([0, 1, 1], [0.5, 0.5, 0.5])

    assert (result.z, result.p_value, result.rejected) == (None, None, False)


def test_hosmer_lemeshow_on_a_hand_worked_example() -> None:
    # Three groups of 10 at PD 0.1, 0.3 and 0.6 with 2, 3 and 5 defaults (expected 1, 3, 6):
    # C = 1²/(10·0.1·0.9) + 0²/(10·0.3·0.7) + 1²/(10·0.6·0.4) = 10/9 + 5/12 = 55/36 = 1.528,
    # 1 degree of freedom: p = P(chi2(1) > 55/36) = erfc(√(55/72)) = 0.216.
    y = np.array([1] * 2 + [0] * 8 + [1] * 3 + [0] * 7 + [1] * 5 + [0] * 5)
    pd_ = np.repeat([0.1, 0.3, 0.6], 10)
    rows = np.random.default_rng(0).permutation(30)  # order must not matter

    result = hosmer_lemeshow(y[rows], pd_[rows], n_groups=3)

    assert result.statistic == pytest.approx(55 / 36, rel=1e-12)
    assert result.degrees_of_freedom == 1
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(55 / 72)), rel=1e-12)
    assert not result.rejected


def test_hosmer_lemeshow_equals_a_loop_over_deciles() -> None:
    pd_ = np.random.default_rng(5).uniform(0.02, 0.5, 200)
    y = drawn_from(pd_, 6)
    statistic = 0.0
    # Sorted PDs in 10 chunks of 20; both outcome cells: sum (O - E)² / E.
    for chunk in np.array_split(np.argsort(pd_), 10):
        expected_bad = pd_[chunk].sum()
        expected_good = len(chunk) - expected_bad
        observed_bad = y[chunk].sum()
        statistic += (observed_bad - expected_bad) ** 2 / expected_bad
        statistic += (len(chunk) - observed_bad - expected_good) ** 2 / expected_good

    result = hosmer_lemeshow(y, pd_)

    assert result.statistic == pytest.approx(statistic, rel=1e-10)
    assert result.degrees_of_freedom == 8
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, 8), rel=1e-10)


def test_hosmer_lemeshow_rejects_pds_that_are_far_too_low() -> None:
    y, pd_ = portfolio(n=2_000)

    assert hosmer_lemeshow(y, pd_ / 2).rejected


def test_grade_tests_follow_the_given_order_and_report_an_empty_grade() -> None:
    table = grade_tests(GRADE_Y, GRADE_PD, GRADES, order=["D", "C", "B", "A"])

    assert table.columns.tolist() == GRADE_COLUMNS
    assert table["group"].tolist() == ["D", "C", "B", "A"]
    assert table["n"].tolist() == [0, 4, 5, 5]
    assert table["defaults"].tolist() == [0, 3, 1, 0]
    np.testing.assert_allclose(table["mean_pd"][1:], [0.3, 0.1, 0.02], atol=1e-12)
    empty = table.iloc[0]
    assert empty[["observed_default_rate", "binomial_p", "jeffreys_p", "ci_lower"]].isna().all()
    assert not empty["binomial_rejected"]
    assert not empty["jeffreys_rejected"]


def test_grade_tests_compute_each_grade_like_scipy() -> None:
    table = grade_tests(GRADE_Y, GRADE_PD, GRADES, alpha=0.10).set_index("group")

    for grade, defaults, n, pd_ in [("A", 0, 5, 0.02), ("B", 1, 5, 0.1), ("C", 3, 4, 0.3)]:
        row = table.loc[grade]
        binomial_p = stats.binomtest(defaults, n, pd_, alternative="greater").pvalue
        jeffreys_p = stats.beta.cdf(pd_, defaults + 0.5, n - defaults + 0.5)
        assert row["observed_default_rate"] == pytest.approx(defaults / n)
        assert row["binomial_p"] == pytest.approx(binomial_p, rel=1e-9)
        assert row["jeffreys_p"] == pytest.approx(jeffreys_p, rel=1e-9)
        assert row["binomial_rejected"] == (binomial_p < 0.10)
        assert row["jeffreys_rejected"] == (jeffreys_p < 0.10)
        assert row["ci_lower"] <= defaults / n < row["ci_upper"]
    # C: 3 defaults in 4 at 30 %: P(X >= 3) = 4·0.3³·0.7 + 0.3⁴ = 0.0837.
    assert table.loc["C", "binomial_p"] == pytest.approx(0.0837, abs=1e-9)
    assert table.loc["C", "binomial_rejected"]


def test_grade_tests_sort_labels_when_no_order_is_given() -> None:
    tiers = np.array([10, 2, 1, 2, 10, 1])

    table = grade_tests([0, 1, 0, 0, 1, 0], [0.3, 0.2, 0.1, 0.2, 0.3, 0.1], tiers)

    assert table["group"].tolist() == [1, 2, 10]  # numeric, not "1", "10", "2"
    assert table["n"].tolist() == [2, 2, 2]


def test_summary_is_json_ready_and_agrees_with_the_single_tests() -> None:
    y, pd_ = portfolio(n=500)
    tiers = np.where(pd_ < 0.1, "low", np.where(pd_ < 0.2, "medium", "high"))

    summary = calibration_summary(
        y, pd_, {"tier": (tiers, ["low", "medium", "high", "very high"])}, alpha=0.01
    )

    json.dumps(summary, allow_nan=False)
    assert summary["alpha"] == 0.01
    assert summary["calibration_in_the_large"] == calibration_in_the_large(y, pd_, 0.01).to_dict()
    assert summary["hosmer_lemeshow"] == hosmer_lemeshow(y, pd_, alpha=0.01).to_dict()
    assert summary["spiegelhalter"] == spiegelhalter(y, pd_, 0.01).to_dict()
    defaults, mean_pd = int(y.sum()), float(pd_.mean())
    assert summary["jeffreys"] == jeffreys_test(defaults, 500, mean_pd, 0.01).to_dict()
    assert summary["binomial"]["p_value"] == binomial_test(defaults, 500, mean_pd).p_value
    rows = summary["groups"]["tier"]
    assert [row["group"] for row in rows] == ["low", "medium", "high", "very high"]
    assert sum(row["n"] for row in rows) == 500
    assert rows[-1]["n"] == 0
    assert rows[-1]["binomial_p"] is None
    assert rows[-1]["binomial_rejected"] is False


def test_results_hold_plain_python_values() -> None:
    y, pd_ = portfolio(n=300)
    results = [
        calibration_in_the_large(y, pd_, alpha=np.float64(0.05)),
        binomial_test(np.int64(3), np.int64(50), np.float64(0.02), np.float64(0.05)),
        jeffreys_test(3, 50, 0.02),
        hosmer_lemeshow(y, pd_),
        spiegelhalter(y, pd_),
    ]

    for result in results:
        assert all(type(v) in (int, float, bool, str) for v in result.to_dict().values())


Call = Callable[[], object]
Y4, PD4 = [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: calibration_in_the_large([0, 1, 0], [0.1, 0.2]),
            "y and pd_ must have the same length: got 3 outcomes and 2 PDs",
        ),
        (
            lambda: spiegelhalter([], []),
            "y and pd_ are empty: the calibration tests need at least one row",
        ),
        (
            lambda: hosmer_lemeshow([[0, 1], [0, 1]], [[0.1, 0.2], [0.3, 0.4]]),
            "y must be one-dimensional: got shape (2, 2)",
        ),
        (
            lambda: calibration_in_the_large([0, 2, 1, -1, 2], [0.1] * 5),
            "y must be 1 (default) or 0 (no default): found [2, -1]",
        ),
        (
            lambda: spiegelhalter(Y4, [0.1, 1.5, float("nan"), -0.2]),
            "pd_ must be probabilities in [0, 1]: found [1.5, nan, -0.2]",
        ),
        (
            lambda: spiegelhalter(Y4, ["low", "low", "high", "high"]),
            "pd_ must be numbers in [0, 1]: got dtype <U4",
        ),
        (
            lambda: calibration_in_the_large(Y4, PD4, alpha=1.5),
            "alpha must be a significance level between 0 and 1: got 1.5",
        ),
        (lambda: binomial_test(0, 0, 0.1), "n must be at least 1 obligor: got 0"),
        (lambda: jeffreys_test(11, 10, 0.1), "defaults must be between 0 and n = 10: got 11"),
        (lambda: binomial_test(2.5, 10, 0.1), "defaults must be an integer count: got 2.5"),  # type: ignore[arg-type]
        (lambda: jeffreys_test(1, 10, 1.2), "pd must be a probability in [0, 1]: got 1.2"),
        (
            lambda: binomial_test(1, 10, 0.1, alternative="upper"),  # type: ignore[arg-type]
            "alternative must be 'greater', 'less' or 'two-sided': got 'upper'",
        ),
        (
            lambda: hosmer_lemeshow(Y4, PD4, n_groups=2),
            "n_groups must be an integer of at least 3 (degrees of freedom = n_groups - 2): got 2",
        ),
        (
            lambda: hosmer_lemeshow(Y4, PD4),
            "n_groups must not exceed the number of rows: got 10 groups for 4 rows",
        ),
        (
            lambda: grade_tests(Y4, PD4, ["A", "A", "B"]),
            "groups must hold one label per row: got 3 labels for 4 rows",
        ),
        (
            lambda: grade_tests(Y4, PD4, ["A", None, "B", "B"]),
            "groups has missing labels: give every row a grade or tier",
        ),
        (
            lambda: grade_tests(Y4, PD4, ["A", 1, "B", 2]),
            "groups mixes label types that cannot be sorted: pass order",
        ),
        (
            lambda: grade_tests(Y4, PD4, ["A", "A", "B", "B"], order=["A", "B", "A"]),
            "order lists a group more than once: ['A']",
        ),
        (
            lambda: grade_tests(Y4, PD4, ["A", "C", "B", "C"], order=["A", "B"]),
            "groups has labels missing from order: ['C']; add them to order",
        ),
    ],
)
def test_bad_input_is_refused_with_a_readable_message(call: Call, message: str) -> None:
    with pytest.raises(ValueError) as error:
        call()

    assert str(error.value) == message


def test_grade_labels_from_a_series_are_taken_by_position_not_index() -> None:
    labels = pd.Series(["A", "A", "B", "B"], index=[3, 2, 1, 0])

    table = grade_tests([1, 1, 0, 0], [0.5, 0.5, 0.1, 0.1], labels)

    assert table["defaults"].tolist() == [2, 0]
