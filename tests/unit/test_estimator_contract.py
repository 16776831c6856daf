"""scikit-learn's estimator checks on the custom transformers, and the contract they cannot see.

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


CHECKED = [
    ArrayRatioFeatures(ratios=[("x0_per_x1", "x0", "x1")]),
    ArrayRatioFeatures(),  # no ratio: the one-column checks can run too
    ArrayCategoryEncoder(columns=["x0"]),
    ArrayWoEEncoder(n_bins=3),
    ArrayMissingToNaN(),
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


# --- the contract on real frames -------------------------------------------------------------

FEATURES = ["duration_months", "amount_dm", "checking_status", "purpose"]
FACTORIES: dict[str, Callable[[], BaseEstimator]] = {
    "ratio": lambda: RatioFeatures(ratios=[("monthly_dm", "amount_dm", "duration_months")]),
    "category": lambda: CategoryEncoder(columns=["checking_status", "purpose"]),
    "woe": lambda: WoEEncoder(n_bins=3),
    "missing": MissingToNaN,
}
OWNERS = {
    "ratio": "RatioFeatures",
    "category": "CategoryEncoder",
    "woe": "WoEEncoder",
    "missing": "MissingToNaN",
}


@pytest.fixture(name="X")
def features_x(tiny_frame: pd.DataFrame) -> pd.DataFrame:
    return tiny_frame[FEATURES]


@pytest.fixture
def y(tiny_frame: pd.DataFrame) -> pd.Series:
    return tiny_frame["outcome"]


@pytest.mark.parametrize("name", FACTORIES)
def test_fit_and_transform_leave_the_input_frame_alone(
    name: str, X: pd.DataFrame, y: pd.Series
) -> None:
    before = X.copy()

    FACTORIES[name]().fit(X, y).transform(X)

    pd.testing.assert_frame_equal(X, before)


@pytest.mark.parametrize("name", FACTORIES)
def test_feature_names_out_accepts_the_fitted_names(
    name: str, X: pd.DataFrame, y: pd.Series
) -> None:
    transformer = FACTORIES[name]().fit(X, y)

    names = transformer.get_feature_names_out(FEATURES)

    assert list(names) == list(transformer.get_feature_names_out())


@pytest.mark.parametrize("name", FACTORIES)
def test_feature_names_out_refuses_other_names(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    transformer = FACTORIES[name]().fit(X, y)

    with pytest.raises(ValueError) as caught:
        transformer.get_feature_names_out(FEATURES[::-1])

    assert str(caught.value) == (
        f"{OWNERS[name]}: input_features is not equal to feature_names_in_: "
        f"got {FEATURES[::-1]}, fitted on {FEATURES}"
    )


@pytest.mark.parametrize("name", FACTORIES)
def test_fit_on_no_rows_is_refused(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    with pytest.raises(ValueError) as caught:
        FACTORIES[name]().fit(X.head(0), y.head(0))

    assert str(caught.value) == (
        f"{OWNERS[name]}: cannot fit on 0 rows (shape=(0, 4)); pass the training rows"
    )


@pytest.mark.parametrize("name", FACTORIES)
def test_fit_on_no_columns_is_refused(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    with pytest.raises(ValueError) as caught:
        FACTORIES[name]().fit(X[[]], y)

    assert str(caught.value) == (
        f"{OWNERS[name]}: found 0 feature(s) (shape=(16, 0)) "
        "while a minimum of 1 is required to fit"
    )


@pytest.mark.parametrize("name", FACTORIES)
def test_transform_of_no_rows_still_works(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    transformer = FACTORIES[name]().fit(X, y)

    out = transformer.transform(X.head(0))

    assert list(out.columns) == list(transformer.get_feature_names_out())
    assert len(out) == 0


def test_woe_without_a_target_says_so(X: pd.DataFrame) -> None:
    with pytest.raises(ValueError) as caught:
        WoEEncoder().fit(X, None)

    assert str(caught.value) == (
        "WoEEncoder requires y to be passed, but the target y is None: "
        "pass the 0/1 default flag (1 = default)"
    )


def test_woe_target_of_another_length_is_refused(X: pd.DataFrame, y: pd.Series) -> None:
    with pytest.raises(ValueError) as caught:
        WoEEncoder().fit(X, y.head(10))

    assert str(caught.value) == "WoEEncoder: y has 10 values for 16 rows of X"
