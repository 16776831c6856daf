"""Statistical calibration tests of probability-of-default (PD) estimates, for model validation.

``y`` is 1 for a default and 0 otherwise (one row per obligor, one outcome period); ``pd_`` is
the PD predicted at the start of that period. Every test takes a significance level ``alpha``
and reports a ``p_value`` and ``rejected`` (``p_value < alpha``), so a report can state "the
PDs are rejected at the 5 % level".

All tests assume independent defaults. Default correlation widens the true distribution of the
default count, so these tests reject too often in a bad year; read a rejection as "look
closer", not as proof (BCBS Working Paper 14 (2005) "Studies on the validation of internal
rating systems"; Tasche (2008) "Validation of internal rating systems and PD estimates").
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from pandas import DataFrame, isna
from scipy import stats

from models.evaluation.metrics import calibration_table

Alternative = Literal["greater", "less", "two-sided"]
Count = int | np.integer[Any]  # numbers of obligors or defaults
Labels = ArrayLike | Sequence[Hashable]  # one grade or tier label per row
PD_CLIP = 1e-9  # keeps p(1 - p) > 0 where a variance divides; far below any real PD floor
GRADE_COLUMNS = [
    "group",
    "n",
    "defaults",
    "observed_default_rate",
    "mean_pd",
    "ci_lower",
    "ci_upper",
    "binomial_p",
    "binomial_rejected",
    "jeffreys_p",
    "jeffreys_rejected",
]


@dataclass(frozen=True)
class _Result:
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (plain Python floats, ints, bools, strings and None)."""
        return asdict(self)


@dataclass(frozen=True)
class CalibrationInTheLargeResult(_Result):
    """Portfolio mean PD against the observed default rate.

    ``ci_lower``/``ci_upper``: two-sided (1 - alpha) Jeffreys interval of the observed default
    rate (``jeffreys_interval``). ``mean_pd_to_default_rate`` is None when there are no defaults.
    """

    n: int
    defaults: int
    expected_defaults: float
    mean_pd: float
    observed_default_rate: float
    ci_lower: float
    ci_upper: float
    mean_pd_to_default_rate: float | None
    z: float
    p_value: float
    alpha: float
    rejected: bool


@dataclass(frozen=True)
class BinomialTestResult(_Result):
    defaults: int
    n: int
    pd: float
    expected_defaults: float
    alternative: str
    p_value: float
    alpha: float
    rejected: bool


@dataclass(frozen=True)
class JeffreysTestResult(_Result):
    defaults: int
    n: int
    pd: float
    observed_default_rate: float
    p_value: float
    alpha: float
    rejected: bool


@dataclass(frozen=True)
class HosmerLemeshowResult(_Result):
    statistic: float
    degrees_of_freedom: int
    n_groups: int
    p_value: float
    alpha: float
    rejected: bool


@dataclass(frozen=True)
class SpiegelhalterResult(_Result):
    """``z`` and ``p_value`` are None when every PD is 0.5 (the Brier score then has no
    variance across outcomes, so the test is undefined); ``rejected`` is then False."""

    brier: float
    expected_brier: float
    z: float | None
    p_value: float | None
    alpha: float
    rejected: bool


def calibration_in_the_large(
    y: ArrayLike, pd_: ArrayLike, alpha: float = 0.05
) -> CalibrationInTheLargeResult:
    """Two-sided test of H0 "expected defaults = observed defaults" over the whole portfolio.

    z = (D - sum p) / sqrt(sum p (1 - p)): the normal approximation to the default count as a
    sum of independent Bernoulli(p_i) variables with different PDs (a Poisson-binomial, not a
    binomial). Unreliable when sum p (1 - p) is small (a handful of expected defaults); use
    ``binomial_test`` or ``jeffreys_test`` there. Tasche (2008).
    """
    alpha = _check_alpha(alpha)
    y, p = _validate_outcomes(y, pd_)
    n, defaults = len(y), int(y.sum())
    clipped = np.clip(p, PD_CLIP, 1 - PD_CLIP)
    z = float((defaults - p.sum()) / np.sqrt(np.sum(clipped * (1 - clipped))))
    p_value = float(2 * stats.norm.sf(abs(z)))
    ci_lower, ci_upper = jeffreys_interval(defaults, n, alpha)
    return CalibrationInTheLargeResult(
        n=n,
        defaults=defaults,
        expected_defaults=float(p.sum()),
        mean_pd=float(p.mean()),
        observed_default_rate=defaults / n,
        ci_lower=ci_lower,
        ci_upper=ci_upper,
        mean_pd_to_default_rate=float(p.mean()) * n / defaults if defaults else None,
        z=z,
        p_value=p_value,
        alpha=alpha,
        rejected=p_value < alpha,
    )


def binomial_test(
    defaults: Count, n: Count, pd: float, alpha: float = 0.05, alternative: Alternative = "greater"
) -> BinomialTestResult:
    """Exact binomial test of one grade's PD against its default count (BCBS WP 14, 2005).

    "greater" (the validator's default) asks whether the PD underestimates risk:
    p = P(X >= D) for X ~ Bin(n, pd). "less" gives P(X <= D); "two-sided" is scipy's
    ``binomtest`` (outcomes no more likely than D). Within a grade of different PDs, pass the
    mean PD: well above the mean, the tail of Bin(n, mean PD) bounds that of the true default
    count (Hoeffding 1956, Ann. Math. Stat.), so the test is conservative.
    """
    alpha = _check_alpha(alpha)
    defaults, n, pd = _validate_count(defaults, n, pd)
    if alternative == "greater":
        p_value = float(stats.binom.sf(defaults - 1, n, pd))
    elif alternative == "less":
        p_value = float(stats.binom.cdf(defaults, n, pd))
    elif alternative == "two-sided":
        p_value = float(stats.binomtest(defaults, n, pd, alternative="two-sided").pvalue)
    else:
        raise ValueError(
            f"alternative must be 'greater', 'less' or 'two-sided': got {alternative!r}"
        )
    return BinomialTestResult(
        defaults, n, pd, n * pd, alternative, p_value, alpha, bool(p_value < alpha)
    )


def jeffreys_test(defaults: Count, n: Count, pd: float, alpha: float = 0.05) -> JeffreysTestResult:
    """One-sided Jeffreys test of a grade's PD, as the ECB asks of IRB validators.

    With the Jeffreys prior Beta(1/2, 1/2), the posterior of the default rate after D defaults
    in n is Beta(D + 1/2, n - D + 1/2); p = its CDF at ``pd``, the posterior probability that
    the true rate is below the PD. Small p: the PD is too low for the defaults seen. ECB (2019)
    "Instructions for reporting the validation results of internal models".
    """
    alpha = _check_alpha(alpha)
    defaults, n, pd = _validate_count(defaults, n, pd)
    p_value = float(stats.beta.cdf(pd, defaults + 0.5, n - defaults + 0.5))
    return JeffreysTestResult(defaults, n, pd, defaults / n, p_value, alpha, p_value < alpha)


def jeffreys_interval(defaults: Count, n: Count, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided (1 - alpha) Jeffreys interval of a default rate: the alpha/2 and 1 - alpha/2
    quantiles of Beta(D + 1/2, n - D + 1/2), with the lower end set to 0 when D = 0 and the
    upper to 1 when D = n, so the interval always holds the observed rate (Brown, Cai &
    DasGupta (2001) "Interval estimation for a binomial proportion", Stat. Sci.)."""
    alpha = _check_alpha(alpha)
    defaults, n, _ = _validate_count(defaults, n, 0.0)
    lower, upper = stats.beta.ppf([alpha / 2, 1 - alpha / 2], defaults + 0.5, n - defaults + 0.5)
    return (float(lower) if defaults > 0 else 0.0), (float(upper) if defaults < n else 1.0)


def grade_tests(
    y: ArrayLike,
    pd_: ArrayLike,
    groups: Labels,
    alpha: float = 0.05,
    order: Sequence[Hashable] | None = None,
) -> DataFrame:
    """One row per grade (or tier): counts, rates, Jeffreys interval, binomial and Jeffreys
    tests of the grade's mean PD (columns ``GRADE_COLUMNS``).

    Rows follow ``order`` when given (every label in ``groups`` must be listed), else the sorted
    labels. A label of ``order`` with no rows gets n = 0, NaN rates and p-values and
    ``rejected`` False: an empty grade is reported, not tested.
    """
    alpha = _check_alpha(alpha)
    y, p = _validate_outcomes(y, pd_)
    labels = _validate_labels(groups, len(y))
    rows = DataFrame({"group": labels, "y": y, "pd": p})
    counts: dict[Hashable, dict[Hashable, Any]] = (
        rows.groupby("group", sort=False)
        .agg(n=("y", "size"), defaults=("y", "sum"), mean_pd=("pd", "mean"))
        .to_dict(orient="index")
    )
    report = [
        _grade_row(label, counts[label], alpha) if label in counts else _empty_grade_row(label)
        for label in _resolve_order(labels, order)
    ]
    return DataFrame(report, columns=GRADE_COLUMNS)


def hosmer_lemeshow(
    y: ArrayLike, pd_: ArrayLike, n_groups: int = 10, alpha: float = 0.05
) -> HosmerLemeshowResult:
    """Hosmer-Lemeshow C-hat over PD groups of equal size (deciles by default).

    Groups are those of ``models.evaluation.metrics.calibration_table`` (PD ranks cut into
    ``n_groups``; ties split by row order). C = sum_g (O_g - n_g pbar_g)^2 /
    (n_g pbar_g (1 - pbar_g)) ~ chi2(n_groups - 2) under H0 (Hosmer, Lemeshow & Sturdivant
    (2013) "Applied Logistic Regression", 3rd ed.). The two lost degrees of freedom belong to
    a model fitted on the same rows; on out-of-sample data the statistic is closer to
    chi2(n_groups), so this p-value is somewhat small there and errs towards rejecting.
    """
    alpha = _check_alpha(alpha)
    y, p = _validate_outcomes(y, pd_)
    if isinstance(n_groups, bool) or not isinstance(n_groups, Integral) or n_groups < 3:
        raise ValueError(
            f"n_groups must be an integer of at least 3 (degrees of freedom = n_groups - 2): "
            f"got {n_groups!r}"
        )
    if n_groups > len(y):
        raise ValueError(
            f"n_groups must not exceed the number of rows: got {n_groups} groups for {len(y)} rows"
        )
    table = calibration_table(y, p, n_bins=int(n_groups))
    n_g = table["n_rows"].to_numpy(dtype="float64")
    observed = np.rint(table["observed_default_rate"].to_numpy() * n_g)
    pbar = np.clip(table["mean_pd"].to_numpy(), PD_CLIP, 1 - PD_CLIP)
    statistic = float(np.sum((observed - n_g * pbar) ** 2 / (n_g * pbar * (1 - pbar))))
    dof = int(n_groups) - 2
    p_value = float(stats.chi2.sf(statistic, dof))
    return HosmerLemeshowResult(statistic, dof, int(n_groups), p_value, alpha, p_value < alpha)


def spiegelhalter(y: ArrayLike, pd_: ArrayLike, alpha: float = 0.05) -> SpiegelhalterResult:
    """Spiegelhalter's z-test of the Brier score against its expectation under H0 "PD = true
    default probability" (Spiegelhalter (1986) "Probabilistic prediction in patient management
    and clinical trials", Stat. Med. 5, 421-433).

    z = sum((y - p)(1 - 2p)) / sqrt(sum((1 - 2p)^2 p (1 - p))), two-sided normal p-value; PDs
    are clipped to [1e-9, 1 - 1e-9] so a PD of exactly 0 or 1 does not divide by zero.
    """
    alpha = _check_alpha(alpha)
    y, p = _validate_outcomes(y, pd_)
    brier = float(np.mean((y - p) ** 2))
    p = np.clip(p, PD_CLIP, 1 - PD_CLIP)
    expected_brier = float(np.mean(p * (1 - p)))
    variance = float(np.sum((1 - 2 * p) ** 2 * p * (1 - p)))
    if variance == 0.0:
        return SpiegelhalterResult(brier, expected_brier, None, None, alpha, False)
    z = float(np.sum((y - p) * (1 - 2 * p)) / math.sqrt(variance))
    p_value = float(2 * stats.norm.sf(abs(z)))
    return SpiegelhalterResult(brier, expected_brier, z, p_value, alpha, p_value < alpha)


def calibration_summary(
    y: ArrayLike,
    pd_: ArrayLike,
    groups: Mapping[str, tuple[Labels, Sequence[Hashable] | None]] | None = None,
    alpha: float = 0.05,
    n_groups: int = 10,
) -> dict[str, Any]:
    """Every test above in one JSON-ready dictionary, for validation reports.

    ``groups`` maps a grouping's name (e.g. "grade", "tier") to its per-row labels and their
    order (None: sorted). The portfolio-level binomial and Jeffreys tests use the mean PD.
    """
    alpha = _check_alpha(alpha)
    y, p = _validate_outcomes(y, pd_)
    citl = calibration_in_the_large(y, p, alpha)
    return {
        "alpha": alpha,
        "calibration_in_the_large": citl.to_dict(),
        "binomial": binomial_test(citl.defaults, citl.n, citl.mean_pd, alpha).to_dict(),
        "jeffreys": jeffreys_test(citl.defaults, citl.n, citl.mean_pd, alpha).to_dict(),
        "hosmer_lemeshow": hosmer_lemeshow(y, p, n_groups, alpha).to_dict(),
        "spiegelhalter": spiegelhalter(y, p, alpha).to_dict(),
        "groups": {
            name: [
                {key: _plain(value) for key, value in row.items()}
                for row in grade_tests(y, p, labels, alpha, order).to_dict(orient="records")
            ]
            for name, (labels, order) in (groups or {}).items()
        },
    }


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a significance level between 0 and 1: got {alpha!r}")
    return float(alpha)


def _validate_outcomes(y: ArrayLike, pd_: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes as int64 0/1 and PDs as float64, or a ValueError saying what is wrong."""
    y_arr, p_arr = np.asarray(y), np.asarray(pd_)
    for name, values in (("y", y_arr), ("pd_", p_arr)):
        if values.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional: got shape {values.shape}")
    if len(y_arr) != len(p_arr):
        raise ValueError(
            f"y and pd_ must have the same length: got {len(y_arr)} outcomes and {len(p_arr)} PDs"
        )
    if len(y_arr) == 0:
        raise ValueError("y and pd_ are empty: the calibration tests need at least one row")
    bad_y = ~np.isin(y_arr, [0, 1])
    if bad_y.any():
        raise ValueError(
            f"y must be 1 (default) or 0 (no default): found {_first_values(y_arr[bad_y])}"
        )
    try:
        p_float = p_arr.astype("float64")
    except (TypeError, ValueError):
        raise ValueError(f"pd_ must be numbers in [0, 1]: got dtype {p_arr.dtype}") from None
    bad_p = ~((p_float >= 0) & (p_float <= 1))  # also catches NaN
    if bad_p.any():
        raise ValueError(
            f"pd_ must be probabilities in [0, 1]: found {_first_values(p_arr[bad_p])}"
        )
    return y_arr.astype("int64"), p_float


def _validate_count(defaults: Count, n: Count, pd: float) -> tuple[int, int, float]:
    for name, value in (("n", n), ("defaults", defaults)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise ValueError(f"{name} must be an integer count: got {value!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1 obligor: got {n}")
    if not 0 <= defaults <= n:
        raise ValueError(f"defaults must be between 0 and n = {n}: got {defaults}")
    if isinstance(pd, bool) or not isinstance(pd, Real) or not 0 <= pd <= 1:
        raise ValueError(f"pd must be a probability in [0, 1]: got {pd!r}")
    return int(defaults), int(n), float(pd)


def _validate_labels(groups: Labels, n_rows: int) -> np.ndarray:
    labels = np.asarray(groups, dtype=object)
    if labels.ndim != 1 or len(labels) != n_rows:
        raise ValueError(
            f"groups must hold one label per row: got {labels.size} labels for {n_rows} rows"
        )
    if isna(labels).any():
        raise ValueError("groups has missing labels: give every row a grade or tier")
    return labels


def _resolve_order(labels: np.ndarray, order: Sequence[Hashable] | None) -> list[Hashable]:
    present = set(labels.tolist())
    if order is None:
        try:
            return sorted(present)  # type: ignore[type-var]
        except TypeError:
            raise ValueError("groups mixes label types that cannot be sorted: pass order") from None
    order = list(order)
    repeated = sorted({str(label) for label in order if order.count(label) > 1})
    if repeated:
        raise ValueError(f"order lists a group more than once: {repeated}")
    unlisted = sorted(str(label) for label in present - set(order))
    if unlisted:
        raise ValueError(f"groups has labels missing from order: {unlisted}; add them to order")
    return order


def _grade_row(label: Hashable, counts: Mapping[Hashable, Any], alpha: float) -> list[Any]:
    n, defaults, mean_pd = int(counts["n"]), int(counts["defaults"]), float(counts["mean_pd"])
    binomial = binomial_test(defaults, n, mean_pd, alpha)
    jeffreys = jeffreys_test(defaults, n, mean_pd, alpha)
    lower, upper = jeffreys_interval(defaults, n, alpha)
    tests = [binomial.p_value, binomial.rejected, jeffreys.p_value, jeffreys.rejected]
    return [label, n, defaults, defaults / n, mean_pd, lower, upper, *tests]


def _empty_grade_row(label: Hashable) -> list[Any]:
    nan = float("nan")
    return [label, 0, 0, nan, nan, nan, nan, nan, False, nan, False]


def _first_values(values: np.ndarray, limit: int = 5) -> list[Any]:
    """Up to ``limit`` distinct offending values, as plain Python for a readable message."""
    return list(dict.fromkeys(values.tolist()))[:limit]


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar, NaN -> None (JSON has no NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
