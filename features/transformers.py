"""scikit-learn transformers for credit data.

They follow the scikit-learn contract (``__init__`` stores parameters only, checks happen in
``fit``, fitted attributes end in ``_``, ``fit`` returns ``self``) and take and return pandas
frames, so column names survive to the estimator and to explanations. Their estimator tags say
that text columns and missing values are data; ``tests/unit/test_estimator_contract.py`` runs
scikit-learn's estimator checks on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

MISSING = "__missing__"


def require_frame(X: Any, columns: Sequence[str], owner: str) -> pd.DataFrame:
    """Fail with the missing column names rather than a KeyError deep in pandas."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{owner} expects a pandas DataFrame, got {type(X).__name__}")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"{owner}: input is missing column(s) {missing}")
    return X


def require_training_frame(X: Any, columns: Sequence[str], owner: str) -> pd.DataFrame:
    """``require_frame`` for ``fit``: an empty frame has nothing to learn from."""
    if isinstance(X, pd.DataFrame) and X.shape[0] == 0:
        raise ValueError(f"{owner}: cannot fit on 0 rows (shape={X.shape}); pass the training rows")
    if isinstance(X, pd.DataFrame) and X.shape[1] == 0:
        raise ValueError(
            f"{owner}: found 0 feature(s) (shape={X.shape}) while a minimum of 1 is required to fit"
        )
    return require_frame(X, columns, owner)


def require_default_flag(y: Any, n_rows: int, owner: str) -> np.ndarray:
    """``y`` for ``fit`` of a supervised encoder: one 0/1 default flag (1 = default) per row."""
    if y is None:
        raise ValueError(
            f"{owner} requires y to be passed, but the target y is None: "
            "pass the 0/1 default flag (1 = default)"
        )
    target = np.asarray(y)
    if len(target) != n_rows:
        raise ValueError(f"{owner}: y has {len(target)} values for {n_rows} rows of X")
    if set(np.unique(target)) - {0, 1}:
        raise ValueError(f"{owner}: y must be binary 0/1 (1 = default)")
    return target


def check_input_features(fitted: Any, input_features: Any, owner: str) -> None:
    """scikit-learn's rule for ``get_feature_names_out``: given names must be the fitted ones."""
    if input_features is None:
        return
    expected = list(fitted.feature_names_in_)
    if list(input_features) != expected:
        raise ValueError(
            f"{owner}: input_features is not equal to feature_names_in_: "
            f"got {list(input_features)}, fitted on {expected}"
        )


def frame_input_tags(tags: Tags, categorical: bool = False, needs_y: bool = False) -> Tags:
    """Estimator tags of a transformer on raw credit frames: text and missing values are data;
    ``categorical``: it encodes categories; ``needs_y``: it learns from the default flag."""
    tags.input_tags.allow_nan = True
    tags.input_tags.string = True
    tags.input_tags.categorical = categorical
    tags.target_tags.required = needs_y
    return tags


class RatioFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Add ``numerator / denominator`` columns, e.g. monthly burden = amount / duration.

    ``ratios`` is a sequence of ``(name, numerator, denominator)``. A zero or missing
    denominator gives NaN (left to the imputer or to LightGBM's missing-value handling), never
    an infinity.
    """

    def __init__(self, ratios: Sequence[tuple[str, str, str]] = ()) -> None:
        self.ratios = ratios

    def fit(self, X: pd.DataFrame, y: Any = None) -> RatioFeatures:
        for ratio in self.ratios:
            if len(ratio) != 3:
                raise ValueError(
                    f"RatioFeatures: each ratio is (name, numerator, denominator); got {ratio!r}"
                )
        inputs = [col for _, num, den in self.ratios for col in (num, den)]
        X = require_training_frame(X, inputs, "RatioFeatures")
        clashes = [name for name, _, _ in self.ratios if name in X.columns]
        if clashes:
            raise ValueError(
                f"RatioFeatures: output column(s) {clashes} already exist in the input"
            )
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        X = require_frame(X, list(self.feature_names_in_), "RatioFeatures")
        out = X[list(self.feature_names_in_)].copy()  # extra columns (ids, ...) never pass
        for name, numerator, denominator in self.ratios:
            den = pd.to_numeric(out[denominator], errors="coerce").astype("float64")
            num = pd.to_numeric(out[numerator], errors="coerce").astype("float64")
            out[name] = num / den.where(den != 0)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        check_input_features(self, input_features, "RatioFeatures")
        return np.asarray([*self.feature_names_in_, *(n for n, _, _ in self.ratios)], dtype=object)

    def __sklearn_tags__(self) -> Tags:
        return frame_input_tags(super().__sklearn_tags__())


class CategoryEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Cast categorical columns to a pandas ``category`` dtype fixed at fit time.

    LightGBM reads these as native categoricals. A category not seen in training becomes
    missing, which LightGBM sends down the same branch as missing values -- the model never
    learns anything about a category it has not seen.
    """

    def __init__(self, columns: Sequence[str] = ()) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> CategoryEncoder:
        X = require_training_frame(X, self.columns, "CategoryEncoder")
        self.categories_ = {
            c: sorted(X[c].dropna().astype(str).unique().tolist()) for c in self.columns
        }
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        X = require_frame(X, list(self.feature_names_in_), "CategoryEncoder")
        out = X[list(self.feature_names_in_)].copy()
        for column, categories in self.categories_.items():
            known = set(categories)
            # Unseen categories become missing explicitly (pandas will refuse them later).
            values = [str(v) if pd.notna(v) and str(v) in known else None for v in out[column]]
            out[column] = pd.Categorical(values, categories=categories)
        for column in out.columns.difference(list(self.categories_)):
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        check_input_features(self, input_features, "CategoryEncoder")
        return np.asarray(self.feature_names_in_, dtype=object)

    def __sklearn_tags__(self) -> Tags:
        return frame_input_tags(super().__sklearn_tags__(), categorical=True)


class WoEEncoder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Weight-of-evidence encoding of every column, the classic credit-scorecard input.

    Numeric columns are cut at training quantiles into at most ``n_bins`` bins; categorical
    (non-numeric) columns use their values as bins. Missing values form their own bin.
    WoE of a bin = ln(share of defaults in the bin / share of non-defaults in the bin),
    smoothed by ``smoothing`` pseudo-counts, so **positive means riskier** than average.
    A value never seen in training (unseen category, or missing when training had none)
    encodes to 0: no evidence either way.
    """

    def __init__(self, n_bins: int = 5, smoothing: float = 0.5) -> None:
        self.n_bins = n_bins
        self.smoothing = smoothing

    def fit(self, X: pd.DataFrame, y: Any) -> WoEEncoder:
        if not isinstance(self.n_bins, int) or self.n_bins < 2:
            raise ValueError(f"WoEEncoder: n_bins must be an integer >= 2, got {self.n_bins!r}")
        if not self.smoothing > 0:
            raise ValueError(f"WoEEncoder: smoothing must be > 0, got {self.smoothing!r}")
        X = require_training_frame(X, [], "WoEEncoder")
        target = require_default_flag(y, len(X), "WoEEncoder")
        self.edges_: dict[str, np.ndarray] = {}
        self.woe_: dict[str, dict[str, float]] = {}
        for column in X.columns:
            if pd.api.types.is_numeric_dtype(X[column]):
                values = X[column].to_numpy(dtype="float64")
                quantiles = np.linspace(0, 1, self.n_bins + 1)[1:-1]
                finite = values[~np.isnan(values)]
                self.edges_[column] = (
                    np.unique(np.quantile(finite, quantiles)) if len(finite) else np.array([])
                )
            self.woe_[column] = self._bin_woe(self._bin_labels(X[column], column), target)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _bin_labels(self, values: pd.Series, column: str) -> np.ndarray:
        """Bin label (as text) of each value; missing values get ``MISSING``."""
        if column in self.edges_:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
            # Bins are (-inf, e0], (e0, e1], ...: a value equal to an edge (common for discrete
            # columns, whose quantiles are their own values) stays in the lower bin.
            bins = np.searchsorted(self.edges_[column], numbers, side="left").astype(str)
            return np.where(np.isnan(numbers), MISSING, bins)
        text = values.astype(object)
        return np.asarray([MISSING if pd.isna(v) else str(v) for v in text], dtype=object)

    def _bin_woe(self, labels: np.ndarray, target: np.ndarray) -> dict[str, float]:
        frame = pd.DataFrame({"bin": labels, "bad": target})
        counts = frame.groupby("bin")["bad"].agg(["sum", "count"])
        bad = counts["sum"] + self.smoothing
        good = counts["count"] - counts["sum"] + self.smoothing
        woe = np.log(bad / bad.sum()) - np.log(good / good.sum())
        return {str(k): float(v) for k, v in woe.items()}

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        X = require_frame(X, list(self.feature_names_in_), "WoEEncoder")
        out = {
            column: [table.get(label, 0.0) for label in self._bin_labels(X[column], column)]
            for column, table in self.woe_.items()
        }
        return pd.DataFrame(out, index=X.index, dtype="float64")

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        check_input_features(self, input_features, "WoEEncoder")
        return np.asarray(self.feature_names_in_, dtype=object)

    def __sklearn_tags__(self) -> Tags:
        return frame_input_tags(super().__sklearn_tags__(), categorical=True, needs_y=True)


class MissingToNaN(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Make every missing marker (None, pd.NA, NaN) a float NaN, which imputers recognise.

    Stateless. Rows from JSON or from memory carry ``None`` where Parquet gives ``NaN``;
    without this, scikit-learn's imputers miss ``None`` and a one-hot encoder would treat it
    as a category of its own.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> MissingToNaN:
        X = require_training_frame(X, [], "MissingToNaN")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        X = require_frame(X, list(self.feature_names_in_), "MissingToNaN")
        out = X[list(self.feature_names_in_)].astype(object)
        return out.where(out.notna(), np.nan)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        check_input_features(self, input_features, "MissingToNaN")
        return np.asarray(self.feature_names_in_, dtype=object)

    def __sklearn_tags__(self) -> Tags:
        tags = frame_input_tags(super().__sklearn_tags__())
        tags.transformer_tags.preserves_dtype = []  # object columns out, whatever comes in
        return tags
