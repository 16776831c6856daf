"""Build the feature half of a model pipeline, one encoding per model family.

``native``: categories as pandas categoricals, for LightGBM's own categorical splits and
missing-value handling. ``onehot``: median imputation + standard scaling for numbers, one-hot
for categories (unseen categories ignored). ``woe``: weight of evidence for every column.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sklearn.base import TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from features.schema import DatasetSchema, FrozenModel
from features.transformers import (
    MISSING,
    CategoryEncoder,
    MissingToNaN,
    RatioFeatures,
    WoEEncoder,
)

Encoding = Literal["native", "onehot", "woe"]


class RatioFeature(FrozenModel):
    """A derived column ``name = numerator / denominator`` (both numeric input columns)."""

    name: str
    numerator: str
    denominator: str


class FeatureConfig(FrozenModel):
    """The ``features`` section of ``params.yaml``."""

    ratios: tuple[RatioFeature, ...] = ()
    woe_bins: int = Field(default=5, ge=2, le=50)
    woe_smoothing: float = Field(default=0.5, gt=0)


def check_ratio_inputs(schema: DatasetSchema, config: FeatureConfig) -> None:
    """Ratios may only divide declared numeric columns."""
    for ratio in config.ratios:
        for column in (ratio.numerator, ratio.denominator):
            if column not in schema.numeric:
                raise ValueError(
                    f"features.ratios[{ratio.name!r}]: {column!r} is not a numeric column "
                    f"of the dataset (data.numeric = {list(schema.numeric)})"
                )


def build_encoder(
    schema: DatasetSchema, config: FeatureConfig, encoding: Encoding
) -> CategoryEncoder | ColumnTransformer | WoEEncoder:
    numeric = [*schema.numeric, *(r.name for r in config.ratios)]
    categorical = list(schema.categorical)
    if encoding == "native":
        return CategoryEncoder(columns=categorical)
    if encoding == "woe":
        return WoEEncoder(n_bins=config.woe_bins, smoothing=config.woe_smoothing)
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categories = Pipeline(
        [
            ("missing", MissingToNaN()),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [("numeric", numbers, numeric), ("categorical", categories, categorical)],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def build_feature_pipeline(
    schema: DatasetSchema, config: FeatureConfig, encoding: Encoding | TransformerMixin
) -> Pipeline:
    """Unfitted pipeline: raw feature columns in, encoded model inputs out.

    ``encoding`` names one of the encoders above, or is the (unfitted) encoder itself, as a
    model family builds it (``models.families``).

    Fit it on training rows only (it learns quantiles, categories, WoE tables and imputation
    values); anything else leaks test information into the model.
    """
    check_ratio_inputs(schema, config)
    ratios = [(r.name, r.numerator, r.denominator) for r in config.ratios]
    if isinstance(encoding, TransformerMixin):
        encoder = encoding
    else:
        encoder = build_encoder(schema, config, encoding)
    return Pipeline([("ratios", RatioFeatures(ratios=ratios)), ("encode", encoder)])
