"""The feature pipeline of each encoding: fits on training rows, scores any new row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from features.pipeline import (
    Encoding,
    FeatureConfig,
    RatioFeature,
    build_feature_pipeline,
)
from features.schema import DatasetSchema
from features.transformers import MISSING

ENCODINGS: list[Encoding] = ["native", "onehot", "woe"]
MONTHLY = RatioFeature(name="monthly_dm", numerator="amount_dm", denominator="duration_months")
CONFIG = FeatureConfig(ratios=(MONTHLY,), woe_bins=3)


@pytest.fixture(name="X")
def features_x(tiny_frame: pd.DataFrame, tiny_schema: DatasetSchema) -> pd.DataFrame:
    return tiny_frame[tiny_schema.features]


@pytest.fixture
def fitted(
    tiny_schema: DatasetSchema, tiny_frame: pd.DataFrame, X: pd.DataFrame
) -> Callable[..., Pipeline]:
    """The feature pipeline of an encoding, fitted on the tiny rows (or on ``rows``)."""

    def fit(encoding: Encoding, rows: pd.DataFrame | None = None) -> Pipeline:
        pipeline = build_feature_pipeline(tiny_schema, CONFIG, encoding)
        return pipeline.fit(X if rows is None else rows, tiny_frame["outcome"])

    return fit


@pytest.fixture
def new_rows() -> pd.DataFrame:
    """Applicants unlike any in training: unseen categories, missing values, zero duration."""
    return pd.DataFrame(
        {
            "duration_months": [12, np.nan, 0, 200],
            "amount_dm": [np.nan, 3000.0, 2500.0, 1e7],
            "checking_status": ["closed", None, "none", np.nan],
            "purpose": ["yacht", "tv", None, "car"],
        }
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_pipeline_scores_unseen_categories_and_missing_values(
    encoding: Encoding, fitted: Callable[..., Pipeline], new_rows: pd.DataFrame
) -> None:
    pipeline = fitted(encoding)

    out = pipeline.transform(new_rows)

    assert len(out) == len(new_rows)
    assert list(out.columns) == list(pipeline.get_feature_names_out())
    assert not np.isinf(out.select_dtypes("number").to_numpy()).any()


@pytest.mark.parametrize("encoding", ["onehot", "woe"])
def test_linear_model_encodings_leave_no_missing_values(
    encoding: Encoding, fitted: Callable[..., Pipeline], X: pd.DataFrame, new_rows: pd.DataFrame
) -> None:
    pipeline = fitted(encoding)

    for rows in (X, new_rows):
        out = pipeline.transform(rows)
        assert not out.isna().any().any()
        assert (out.dtypes == "float64").all()


def test_native_encoding_keeps_missing_for_lightgbm(
    tiny_schema: DatasetSchema, fitted: Callable[..., Pipeline], new_rows: pd.DataFrame
) -> None:
    pipeline = fitted("native")

    out = pipeline.transform(new_rows)

    assert list(out.columns) == [*tiny_schema.features, "monthly_dm"]
    assert out["checking_status"].isna().tolist() == [True, True, False, True]  # unseen -> NaN
    assert out["monthly_dm"].isna().tolist() == [True, True, True, False]  # zero duration -> NaN
    assert out["checking_status"].dtype == "category"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_pipeline_output_includes_the_ratio(
    encoding: Encoding, fitted: Callable[..., Pipeline], X: pd.DataFrame
) -> None:
    out = fitted(encoding).transform(X)

    assert "monthly_dm" in out.columns


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_pipeline_ignores_extra_columns_and_column_order(
    encoding: Encoding, fitted: Callable[..., Pipeline], X: pd.DataFrame
) -> None:
    pipeline = fitted(encoding)

    shuffled = X[X.columns[::-1]].assign(customer_id="c99")

    pd.testing.assert_frame_equal(pipeline.transform(shuffled), pipeline.transform(X))


@pytest.mark.parametrize(
    ("numerator", "denominator", "column"),
    [
        ("amount_dm", "purpose", "purpose"),
        ("checking_status", "duration_months", "checking_status"),
        ("amount_dm", "income_dm", "income_dm"),
    ],
    ids=["categorical-denominator", "categorical-numerator", "unknown-column"],
)
def test_ratio_of_a_non_numeric_column_is_refused(
    tiny_schema: DatasetSchema, numerator: str, denominator: str, column: str
) -> None:
    ratio = RatioFeature(name="bad_ratio", numerator=numerator, denominator=denominator)

    with pytest.raises(ValueError) as caught:
        build_feature_pipeline(tiny_schema, FeatureConfig(ratios=(ratio,)), "woe")

    assert str(caught.value) == (
        f"features.ratios['bad_ratio']: {column!r} is not a numeric column of the dataset "
        "(data.numeric = ['duration_months', 'amount_dm'])"
    )


@pytest.mark.parametrize(
    ("fitted_on", "missing"),
    [
        pytest.param("parquet", np.nan, id="parquet-nan"),
        pytest.param("parquet", None, id="parquet-None"),
        pytest.param("memory", np.nan, id="memory-nan"),
        pytest.param("memory", None, id="memory-None"),
    ],
)
def test_onehot_encodes_a_missing_category_as_missing_whatever_its_form(
    tmp_path: Path,
    fitted: Callable[..., Pipeline],
    X: pd.DataFrame,
    fitted_on: str,
    missing: object,
) -> None:
    if fitted_on == "parquet":  # as the train stage reads it
        X.to_parquet(tmp_path / "train.parquet")
        X = pd.read_parquet(tmp_path / "train.parquet")
    pipeline = fitted("onehot", X)
    row = X.head(1).astype({"checking_status": object})
    row.loc[0, "checking_status"] = missing

    out = pipeline.transform(row)

    indicator = f"checking_status_{MISSING}"
    assert indicator in out.columns
    assert out.loc[0, indicator] == 1.0
