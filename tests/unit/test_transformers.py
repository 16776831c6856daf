"""Custom transformers: the scikit-learn contract, edge cases and pinned WoE values."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from features.transformers import MISSING, CategoryEncoder, MissingToNaN, RatioFeatures, WoEEncoder

RATIO = ("monthly_dm", "amount_dm", "duration_months")
FEATURES = ["duration_months", "amount_dm", "checking_status", "purpose"]

FACTORIES: dict[str, Callable[[], BaseEstimator]] = {
    "ratio": lambda: RatioFeatures(ratios=[RATIO]),
    "category": lambda: CategoryEncoder(columns=["checking_status", "purpose"]),
    "woe": lambda: WoEEncoder(n_bins=3, smoothing=0.5),
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


# --- the scikit-learn contract on real frames, for all four ------------------------------------


@pytest.mark.parametrize("name", FACTORIES)
def test_clone_copies_parameters_not_fitted_state(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    fitted = FACTORIES[name]().fit(X, y)

    copy = clone(fitted)

    assert copy is not fitted
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)


@pytest.mark.parametrize("name", FACTORIES)
def test_transform_before_fit_raises_not_fitted(name: str, X: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        FACTORIES[name]().transform(X)


@pytest.mark.parametrize("name", FACTORIES)
def test_fit_returns_self(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    transformer = FACTORIES[name]()

    assert transformer.fit(X, y) is transformer


@pytest.mark.parametrize("name", FACTORIES)
def test_feature_names_out_match_transformed_columns(
    name: str, X: pd.DataFrame, y: pd.Series
) -> None:
    transformer = FACTORIES[name]().fit(X, y)

    out = transformer.transform(X)

    assert list(transformer.get_feature_names_out()) == list(out.columns)
    assert list(transformer.get_feature_names_out(FEATURES)) == list(out.columns)  # fitted names
    assert out.index.equals(X.index)


@pytest.mark.parametrize("name", FACTORIES)
def test_init_stores_parameters_only(name: str) -> None:
    transformer = FACTORIES[name]()

    assert not [attr for attr in vars(transformer) if attr.endswith("_")]


@pytest.mark.parametrize("name", FACTORIES)
def test_non_frame_input_is_refused(name: str, X: pd.DataFrame, y: pd.Series) -> None:
    with pytest.raises(TypeError, match="expects a pandas DataFrame, got ndarray"):
        FACTORIES[name]().fit(X.to_numpy(), y)


@pytest.mark.parametrize("name", FACTORIES)
def test_fit_and_transform_leave_the_input_frame_alone(
    name: str, X: pd.DataFrame, y: pd.Series
) -> None:
    before = X.copy()

    FACTORIES[name]().fit(X, y).transform(X)

    pd.testing.assert_frame_equal(X, before)


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


# --- RatioFeatures -----------------------------------------------------------------------------


def test_ratio_divides_numerator_by_denominator() -> None:
    X = pd.DataFrame({"amount_dm": [1200, 500.0], "duration_months": [12, 4]})

    out = RatioFeatures(ratios=[RATIO]).fit_transform(X)

    assert out["monthly_dm"].tolist() == [100.0, 125.0]
    assert out["monthly_dm"].dtype == "float64"


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [(1000.0, 0), (1000.0, 0.0), (1000.0, -0.0), (1000.0, np.nan), (np.nan, 12), (0.0, 0)],
    ids=["zero", "zero-float", "minus-zero", "missing-denominator", "missing-numerator", "0/0"],
)
def test_undefined_ratio_is_nan_never_infinite(numerator: float, denominator: float) -> None:
    X = pd.DataFrame(
        {"amount_dm": [numerator, 1200.0], "duration_months": [denominator, 12]}, dtype="float64"
    )

    out = RatioFeatures(ratios=[RATIO]).fit_transform(X)

    assert math.isnan(out.loc[0, "monthly_dm"])
    assert out.loc[1, "monthly_dm"] == 100.0


def test_ratio_drops_columns_not_seen_in_fit(X: pd.DataFrame) -> None:
    ratios = RatioFeatures(ratios=[RATIO]).fit(X)

    out = ratios.transform(X.assign(customer_id="c99", score=1.0))

    assert list(out.columns) == [*FEATURES, "monthly_dm"]


def test_ratio_keeps_fit_column_order(X: pd.DataFrame) -> None:
    ratios = RatioFeatures(ratios=[RATIO]).fit(X)

    out = ratios.transform(X[FEATURES[::-1]])

    assert list(out.columns) == [*FEATURES, "monthly_dm"]


@pytest.mark.parametrize("column", ["amount_dm", "duration_months"])
def test_ratio_input_missing_at_fit_is_named(X: pd.DataFrame, column: str) -> None:
    with pytest.raises(
        ValueError, match=rf"RatioFeatures: input is missing column\(s\) \['{column}'\]"
    ):
        RatioFeatures(ratios=[RATIO]).fit(X.drop(columns=column))


def test_ratio_input_missing_at_transform_is_named(X: pd.DataFrame) -> None:
    ratios = RatioFeatures(ratios=[RATIO]).fit(X)

    with pytest.raises(ValueError, match=r"missing column\(s\) \['duration_months'\]"):
        ratios.transform(X.drop(columns="duration_months"))


@pytest.mark.parametrize(
    "ratio",
    [("monthly_dm", "amount_dm"), ("monthly_dm", "amount_dm", "duration_months", "extra"), ()],
    ids=["two", "four", "empty"],
)
def test_malformed_ratio_is_rejected(X: pd.DataFrame, ratio: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"each ratio is \(name, numerator, denominator\); got"):
        RatioFeatures(ratios=[ratio]).fit(X)  # type: ignore[list-item]


def test_ratio_name_clashing_with_an_input_column_is_rejected(X: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"output column\(s\) \['purpose'\] already exist"):
        RatioFeatures(ratios=[("purpose", "amount_dm", "duration_months")]).fit(X)


# --- CategoryEncoder ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("error::DeprecationWarning")  # relies on no deprecated pandas
@pytest.mark.parametrize(
    ("n_rows", "known"), [(1, []), (2, ["tv"])], ids=["unseen-only", "unseen-and-known"]
)
def test_unseen_category_becomes_missing(X: pd.DataFrame, n_rows: int, known: list[str]) -> None:
    encoder = CategoryEncoder(columns=["checking_status", "purpose"]).fit(X)
    rows = X.head(n_rows).copy()
    rows.loc[0, "purpose"] = "yacht"

    out = encoder.transform(rows)

    assert pd.isna(out.loc[0, "purpose"])
    assert out["purpose"].iloc[1:].tolist() == known


def test_categories_are_fixed_at_fit(X: pd.DataFrame) -> None:
    encoder = CategoryEncoder(columns=["checking_status", "purpose"]).fit(X)

    out = encoder.transform(X.head(1))  # holds one category of each column only

    assert encoder.categories_ == {
        "checking_status": ["low", "negative", "none"],
        "purpose": ["business", "car", "education", "tv"],
    }
    assert list(out["checking_status"].cat.categories) == ["low", "negative", "none"]
    assert list(out["purpose"].cat.categories) == ["business", "car", "education", "tv"]


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA], ids=["None", "nan", "NA"])
def test_missing_category_stays_missing(X: pd.DataFrame, missing: object) -> None:
    encoder = CategoryEncoder(columns=["checking_status", "purpose"]).fit(X)
    rows = X.head(2).astype({"checking_status": object})
    rows.loc[0, "checking_status"] = missing

    out = encoder.transform(rows)

    assert pd.isna(out.loc[0, "checking_status"])
    assert MISSING not in out["checking_status"].cat.categories


def test_numeric_columns_come_out_as_float(X: pd.DataFrame) -> None:
    out = CategoryEncoder(columns=["checking_status", "purpose"]).fit(X).transform(X)

    assert X["duration_months"].dtype == "int64"
    assert out["duration_months"].dtype == "float64"
    assert out["amount_dm"].dtype == "float64"
    assert out["checking_status"].dtype == "category"
    assert out["duration_months"].tolist() == X["duration_months"].tolist()


def test_category_encoder_names_missing_column(X: pd.DataFrame) -> None:
    with pytest.raises(
        ValueError, match=r"CategoryEncoder: input is missing column\(s\) \['job'\]"
    ):
        CategoryEncoder(columns=["checking_status", "job"]).fit(X)


# --- WoEEncoder --------------------------------------------------------------------------------

# Counts of checking_status in the tiny frame: (defaults, non-defaults) per bin.
CHECKING_COUNTS = {"negative": (4, 1), "none": (1, 5), "low": (2, 2), MISSING: (0, 1)}


def expected_woe(counts: dict[str, tuple[int, int]], bin_: str, smoothing: float) -> float:
    """The docstring's formula: ln(bad share / good share), ``smoothing`` added to each count."""
    bads = {k: bad + smoothing for k, (bad, _) in counts.items()}
    goods = {k: good + smoothing for k, (_, good) in counts.items()}
    return math.log(bads[bin_] / sum(bads.values())) - math.log(goods[bin_] / sum(goods.values()))


def test_tiny_frame_counts_are_as_pinned(X: pd.DataFrame, y: pd.Series) -> None:
    labels = X["checking_status"].fillna(MISSING)
    counts = {k: (int(y[labels == k].sum()), int((1 - y[labels == k]).sum())) for k in labels}

    assert counts == CHECKING_COUNTS


@pytest.mark.parametrize("smoothing", [0.5, 1.0, 0.01])
@pytest.mark.parametrize("bin_", ["negative", "none", MISSING])
def test_woe_matches_hand_computed_value(
    X: pd.DataFrame, y: pd.Series, smoothing: float, bin_: str
) -> None:
    encoder = WoEEncoder(smoothing=smoothing).fit(X[["checking_status"]], y)

    assert encoder.woe_["checking_status"][bin_] == pytest.approx(
        expected_woe(CHECKING_COUNTS, bin_, smoothing), abs=1e-12
    )


def test_woe_pinned_golden_value(X: pd.DataFrame, y: pd.Series) -> None:
    # ln((4.5 / 9) / (1.5 / 11)) = ln(11 / 3)
    encoder = WoEEncoder(smoothing=0.5).fit(X[["checking_status"]], y)

    assert encoder.woe_["checking_status"]["negative"] == pytest.approx(math.log(11 / 3), abs=1e-12)


def test_riskier_category_gets_higher_woe(X: pd.DataFrame, y: pd.Series) -> None:
    encoder = WoEEncoder().fit(X, y)
    rows = pd.DataFrame({c: [X[c].iloc[3], X[c].iloc[0]] for c in FEATURES})  # negative, none

    out = encoder.transform(rows)

    assert rows["checking_status"].tolist() == ["negative", "none"]
    assert out.loc[0, "checking_status"] > 0 > out.loc[1, "checking_status"]


def test_missing_seen_in_training_gets_its_own_bin(X: pd.DataFrame, y: pd.Series) -> None:
    encoder = WoEEncoder().fit(X, y)
    rows = X.head(3).astype({"checking_status": object})
    rows.loc[[0, 1], "checking_status"] = [None, np.nan]

    out = encoder.transform(rows)

    missing_woe = encoder.woe_["checking_status"][MISSING]
    assert out.loc[0, "checking_status"] == out.loc[1, "checking_status"] == missing_woe
    others = [v for k, v in encoder.woe_["checking_status"].items() if k != MISSING]
    assert missing_woe != 0.0
    assert missing_woe not in others


@pytest.mark.parametrize(
    ("column", "value"),
    [("purpose", "yacht"), ("checking_status", "closed")],
    ids=["unseen-category", "unseen-category-2"],
)
def test_unseen_category_encodes_to_zero(
    X: pd.DataFrame, y: pd.Series, column: str, value: str
) -> None:
    encoder = WoEEncoder().fit(X, y)
    rows = X.head(2).copy()
    rows.loc[0, column] = value

    out = encoder.transform(rows)

    assert out.loc[0, column] == 0.0
    assert out.loc[1, column] != 0.0


@pytest.mark.parametrize("column", ["checking_status", "duration_months"])
def test_missing_never_seen_in_training_encodes_to_zero(
    X: pd.DataFrame, y: pd.Series, column: str
) -> None:
    complete = X[X["checking_status"].notna()]
    encoder = WoEEncoder().fit(complete[[column]], y[complete.index])
    rows = complete[[column]].head(2).astype(object)
    rows.iloc[0, 0] = None

    out = encoder.transform(rows)

    assert MISSING not in encoder.woe_[column]
    assert out.iloc[0, 0] == 0.0
    assert out.iloc[1, 0] != 0.0


def test_numeric_columns_are_binned_at_training_quantiles() -> None:
    X = pd.DataFrame({"amount_dm": [100 * k for k in range(1, 13)]})
    y = pd.Series([0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1])  # 0, 1, 2 then 3 defaults per quarter

    encoder = WoEEncoder(n_bins=4).fit(X, y)
    out = encoder.transform(X)["amount_dm"]

    np.testing.assert_allclose(encoder.edges_["amount_dm"], [375.0, 650.0, 925.0])
    assert out.nunique() == 4
    quarters = out.to_numpy().reshape(4, 3)  # three values per quarter share a bin
    assert (quarters == quarters[:, [0]]).all()
    assert out.is_monotonic_increasing  # the default rate rises with the amount here


def test_values_beyond_training_range_fall_in_the_outer_bins() -> None:
    X = pd.DataFrame({"amount_dm": [100, 200, 300, 400, 500, 600, 700, 800]})
    y = pd.Series([0, 0, 0, 1, 0, 1, 1, 1])
    encoder = WoEEncoder(n_bins=4).fit(X, y)

    out = encoder.transform(pd.DataFrame({"amount_dm": [-5.0, 100.0, 800.0, 1e9]}))["amount_dm"]

    assert out[0] == out[1] != 0.0
    assert out[2] == out[3] != 0.0


def test_two_valued_numeric_column_keeps_its_values_apart() -> None:
    X = pd.DataFrame({"dependants": [1] * 10 + [2] * 2})  # every quantile of it is 1
    y = pd.Series([0] * 8 + [1] * 2 + [1] * 2)  # every applicant with 2 dependants defaults

    out = WoEEncoder(n_bins=5).fit(X, y).transform(X)["dependants"]

    assert out.iloc[-1] > out.iloc[0]


@pytest.mark.parametrize("n_bins", [1, 0, -3, 2.5])
def test_woe_rejects_too_few_bins(X: pd.DataFrame, y: pd.Series, n_bins: float) -> None:
    with pytest.raises(ValueError, match=rf"n_bins must be an integer >= 2, got {n_bins!r}"):
        WoEEncoder(n_bins=n_bins).fit(X, y)  # type: ignore[arg-type]


@pytest.mark.parametrize("smoothing", [0, -0.5])
def test_woe_rejects_non_positive_smoothing(
    X: pd.DataFrame, y: pd.Series, smoothing: float
) -> None:
    with pytest.raises(ValueError, match=rf"smoothing must be > 0, got {smoothing!r}"):
        WoEEncoder(smoothing=smoothing).fit(X, y)


@pytest.mark.parametrize(
    "target",
    [[0, 1, 2] * 5 + [0], ["bad", "good"] * 8, [-1, 1] * 8],
    ids=["three-classes", "labels-as-text", "minus-one"],
)
def test_woe_rejects_non_binary_target(X: pd.DataFrame, target: list[object]) -> None:
    with pytest.raises(ValueError, match=r"y must be binary 0/1 \(1 = default\)"):
        WoEEncoder().fit(X, target)


def test_woe_output_is_float_without_missing(X: pd.DataFrame, y: pd.Series) -> None:
    out = WoEEncoder().fit(X, y).transform(X)

    assert (out.dtypes == "float64").all()
    assert not out.isna().any().any()
