"""Population stability: has a variable's distribution moved between two samples?

PSI = sum over bins of ``(a - e) * ln(a / e)``, with ``e`` and ``a`` the shares of the
expected (reference, e.g. training) and actual (e.g. test or this month's) sample in each bin.
Numeric variables are cut at the expected sample's deciles (``population_stability_index``);
categorical ones use one bin per category.
Missing values form a bin of their own in both cases, so a rise in missing values shows up.
Shares are floored at ``epsilon`` so an empty bin gives a large, finite PSI.

The reading (``band``): below ``psi_watch`` stable, up to ``psi_act`` watch, above it act;
the thresholds come from ``params.yaml`` (``monitoring.psi_watch`` / ``psi_act``, usually 0.1
and 0.25). This is the one PSI of riskgrade: the validation report (train vs test),
monitoring (reference vs current) and the promotion gate (score PSI) all use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

PSI_WATCH = 0.10  # defaults of monitoring.psi_watch / psi_act in params.yaml
PSI_ACT = 0.25
EPSILON = 1e-4
MISSING = "(missing)"

Band = Literal["stable", "watch", "act"]


def band(value: float, watch: float = PSI_WATCH, act: float = PSI_ACT) -> Band:
    """``stable`` below ``watch``, ``watch`` up to ``act``, ``act`` above it: the reading of a
    PSI (thresholds from ``monitoring`` in params.yaml), or of any higher-is-worse figure."""
    if value < watch:
        return "stable"
    return "watch" if value <= act else "act"


def population_stability_index(
    expected: np.ndarray, actual: np.ndarray, n_bins: int = 10, epsilon: float = 1e-4
) -> float:
    """PSI = sum((a - e) * ln(a / e)) over bins cut at the ``expected`` sample's quantiles.

    Read it with ``band``. Shares are floored at
    ``epsilon`` so an empty bin does not give an infinite PSI.
    """
    expected = np.asarray(expected, dtype="float64")
    actual = np.asarray(actual, dtype="float64")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, n_bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1)
    e_share = np.maximum(e / e.sum(), epsilon)
    a_share = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def score_psi(reference: pd.DataFrame, current: pd.DataFrame) -> float:
    """PSI of the score between two scored populations (frames with a ``pd`` column).

    Computed on the PD, before scores are rounded to integers: PSI's quantile bins are
    invariant to the monotone PD -> score map, and rounding would add ties that depend on the
    PDO scaling (and on how much calibration compresses the PDs) rather than on the population.
    """
    return numeric_psi(reference["pd"], current["pd"])


def psi_from_counts(expected: pd.Series, actual: pd.Series, epsilon: float = EPSILON) -> float:
    """PSI from bin counts indexed by bin label; a bin absent from one side has share 0."""
    bins = expected.index.union(actual.index)
    e = expected.reindex(bins, fill_value=0).to_numpy(dtype="float64")
    a = actual.reindex(bins, fill_value=0).to_numpy(dtype="float64")
    if e.sum() == 0 or a.sum() == 0:
        raise ValueError("psi: both samples need at least one row")
    e_share = np.maximum(e / e.sum(), epsilon)
    a_share = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def category_labels(values: Sequence[object] | pd.Series) -> pd.Series:
    """Values as text labels, missing ones (None, NaN, NA) as ``(missing)``."""
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), MISSING).astype(str)


def categorical_psi(
    expected: Sequence[object] | pd.Series,
    actual: Sequence[object] | pd.Series,
    epsilon: float = EPSILON,
) -> float:
    """PSI over category shares; a category seen on one side only counts as share 0 (floored)."""
    e = category_labels(expected).value_counts()
    a = category_labels(actual).value_counts()
    return psi_from_counts(e, a, epsilon)


def numeric_psi(
    expected: Sequence[float] | np.ndarray | pd.Series,
    actual: Sequence[float] | np.ndarray | pd.Series,
    n_bins: int = 10,
    epsilon: float = EPSILON,
) -> float:
    """PSI over the expected sample's quantile bins, plus a bin for missing values.

    Without missing values this is exactly ``population_stability_index``.
    """
    e = pd.to_numeric(pd.Series(expected), errors="coerce").to_numpy(dtype="float64")
    a = pd.to_numeric(pd.Series(actual), errors="coerce").to_numpy(dtype="float64")
    if not (np.isnan(e).any() or np.isnan(a).any()):
        return population_stability_index(e, a, n_bins, epsilon)
    present = e[~np.isnan(e)]
    quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
    edges = np.unique(np.quantile(present, quantiles)) if present.size else np.array([])

    def bins(values: np.ndarray) -> pd.Series:
        labels = np.searchsorted(edges, values, side="right").astype(object)
        labels[np.isnan(values)] = MISSING
        return pd.Series(labels).astype(str).value_counts()

    return psi_from_counts(bins(e), bins(a), epsilon)


def feature_psi(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    n_bins: int = 10,
    watch: float = PSI_WATCH,
    act: float = PSI_ACT,
) -> pd.DataFrame:
    """PSI and band per feature (``feature``, ``kind``, ``psi``, ``band``), largest PSI first."""
    missing = [c for c in [*numeric, *categorical] if c not in expected or c not in actual]
    if missing:
        raise ValueError(f"feature_psi: column(s) {missing} missing from one of the samples")
    rows = [
        (column, "numeric", numeric_psi(expected[column], actual[column], n_bins))
        for column in numeric
    ] + [
        (column, "categorical", categorical_psi(expected[column], actual[column]))
        for column in categorical
    ]
    table = pd.DataFrame(rows, columns=["feature", "kind", "psi"])
    table["band"] = [band(value, watch, act) for value in table["psi"]]
    return table.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)
