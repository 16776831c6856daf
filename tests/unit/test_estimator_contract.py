"""scikit-learn's estimator checks on the custom transformers (the contract on real frames, which
the checks cannot see, is in ``test_transformers.py``).

The generic checks feed numpy arrays, give targets of any kind and compare outputs with
``allclose``; the transformers take named frames, WoE needs a 0/1 default flag, and the outputs
hold category and object columns. So each check runs on a thin subclass of the transformer
(same ``__init__``, parameters, fitted attributes and tags: the code under test is the real
one) that only translates at the edges: a 2-D array becomes a frame with columns ``x0, x1, ...``,
a target that is not 0/1 becomes ``y > median(y)``, and the output frame becomes float64
(category columns as their codes, missing as NaN). Anything else (frames, 1-D and sparse input,
``y=None``) reaches the transformer untouched.

Checks that cannot hold by design are listed with their reason in ``expected_failures``; they
run in strict xfail mode, so one that starts passing fails here and must leave the list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from features.binning import OptimalBinningWoE
from features.transformers import CategoryEncoder, MissingToNaN, RatioFeatures, WoEEncoder

# --- the adapter: arrays in, numbers out ---------------------------------------------------


def as_frame(X: Any) -> Any:
    """A 2-D array (or nested list) as a frame with columns x0, x1, ...; anything else as is."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:  # 1-D, or 0-D: what numpy makes of a sparse matrix
        return X
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def as_default_flag(y: Any) -> Any:
    """The checks' targets (regression values, three classes) as a 0/1 flag; 0/1 kept."""
    if y is None:
        return None
    target = np.asarray(y)
    if set(np.unique(target)) <= {0, 1}:
        return target
    return (target > np.median(target)).astype("int64")


def as_numbers(out: pd.DataFrame) -> np.ndarray:
    """The output frame as float64 for allclose: category columns become their codes."""
    columns = {
        name: column.cat.codes.where(column.notna())
        if isinstance(column.dtype, pd.CategoricalDtype)
        else column
        for name, column in out.items()
    }
    return pd.DataFrame(columns, index=out.index).to_numpy(dtype="float64")


class FromArrays:
    """Mixed in before a transformer: translates the checks' arrays, runs the real methods."""

    def fit(self, X: Any, y: Any = None) -> Any:
        return super().fit(as_frame(X), as_default_flag(y))  # type: ignore[misc]

    def transform(self, X: Any) -> Any:
        return as_numbers(super().transform(as_frame(X)))  # type: ignore[misc]


# Module-level classes, so that the pickling checks can find them.
class ArrayRatioFeatures(FromArrays, RatioFeatures):
    pass


class ArrayCategoryEncoder(FromArrays, CategoryEncoder):
    pass


class ArrayWoEEncoder(FromArrays, WoEEncoder):
    pass


class ArrayMissingToNaN(FromArrays, MissingToNaN):
    pass


class ArrayOptimalBinningWoE(FromArrays, OptimalBinningWoE):
    pass


CHECKED = [
    ArrayRatioFeatures(ratios=[("x0_per_x1", "x0", "x1")]),
    ArrayRatioFeatures(),  # no ratio: the one-column checks can run too
    ArrayCategoryEncoder(columns=["x0"]),
    ArrayWoEEncoder(n_bins=3),
    ArrayMissingToNaN(),
    ArrayOptimalBinningWoE(max_n_bins=3),
]

# --- what cannot hold by design, and why -----------------------------------------------------

SPARSE = (
    "sparse input is refused with TypeError 'expects a pandas DataFrame, got csr_matrix' (or "
    "csr_array); the check wants the word 'sparse' in the message"
)
ONE_D = "a 1-D array is not a DataFrame: refused with TypeError (wrong type), not ValueError"
BY_DESIGN = {
    "check_n_features_in_after_fitting": (
        "columns are matched by name, not counted: a missing one is named in the error, not "
        "reported as a feature count, and extra ones (ids) are dropped by design"
    ),
    "check_fit1d": ONE_D,
    "check_fit2d_predict1d": ONE_D,
    "check_estimator_sparse_tag": SPARSE,
    "check_estimator_sparse_array": SPARSE,
    "check_estimator_sparse_matrix": SPARSE,
    "check_complex_data": (
        "numbers arrive as float64 (features.validation.coerce_numeric, typed request models), "
        "so no check is spent on complex numbers"
    ),
}
ONE_COLUMN = (
    "a ratio names two input columns; the check's one-column frame lacks the second, and the "
    "error names it rather than saying '1 feature(s)'"
)


def expected_failures(estimator: BaseEstimator) -> dict[str, str]:
    """The checks ``estimator`` fails by design, each with its one-line reason."""
    failures = dict(BY_DESIGN)
    if isinstance(estimator, RatioFeatures) and estimator.ratios:
        failures["check_fit2d_1feature"] = ONE_COLUMN
        failures["check_complex_data"] = ONE_COLUMN  # its complex data is one column too
    return failures


# check_complex_data casts its complex input to float (expected to fail, see above).
@pytest.mark.filterwarnings("ignore:Casting complex values to real")
@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failures, xfail_strict=True)
def test_sklearn_estimator_checks(estimator: BaseEstimator, check: Callable[..., Any]) -> None:
    check(estimator)
