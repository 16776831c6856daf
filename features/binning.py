"""Optimal binning with weight of evidence (optbinning), kept as plain tables once fitted.

``OptimalBinningWoE`` fits optbinning's ``OptimalBinning`` to every column of the training
rows, as optbinning's ``BinningProcess`` does (without its variable-selection statistics):
numbers get optimal bins under a monotonic event-rate trend (a constraint program over
pre-bins, with a minimum share of rows per bin), categories are grouped by event rate, and
missing values
and special codes (e.g. -999 "not applicable") get bins of their own. What it keeps are the
fitted tables -- split points, category groups, the WoE of every bin, counts and event rates --
so a fitted encoder transforms, is stored (skops) and is served without optbinning, with the
numbers of ``BinningProcess.transform(metric="woe", metric_missing="empirical",
metric_special="empirical")`` (tested to 1e-12).

WoE follows optbinning's sign: ``ln(share of non-defaults / share of defaults)``, so **positive
means safer** than average (the opposite of ``features.transformers.WoEEncoder``). A bin with
no defaults or no non-defaults, an empty missing bin and an unseen category get WoE 0 ("no
evidence"), as optbinning gives them.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from features.transformers import (
    check_input_features,
    frame_input_tags,
    require_default_flag,
    require_training_frame,
)

TRENDS = ("auto_asc_desc", "ascending", "descending", "auto", "peak", "valley", "none")
WOE = {"metric": "woe", "metric_missing": "empirical", "metric_special": "empirical"}
UNSEEN = "\x00unseen category"  # a value no training category can equal


class OptimalBinningWoE(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Replace every column by the WoE of its optimal bin (see the module docstring).

    ``categorical``: columns binned as categories (others must be numeric).
    ``max_n_bins`` / ``min_bin_size`` (share of rows) / ``max_n_prebins``: the bin constraints.
    ``monotonic_trend``: event-rate trend of numeric bins (``auto_asc_desc``: ascending or
    descending, whichever fits; ``none``: unconstrained). ``special_codes``: numeric values
    binned apart from the rest.
    """

    def __init__(
        self,
        categorical: Sequence[str] = (),
        max_n_bins: int = 5,
        min_bin_size: float = 0.05,
        max_n_prebins: int = 20,
        monotonic_trend: str = "auto_asc_desc",
        special_codes: Sequence[float] = (),
    ) -> None:
        self.categorical = categorical
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.max_n_prebins = max_n_prebins
        self.monotonic_trend = monotonic_trend
        self.special_codes = special_codes

    def fit(self, X: pd.DataFrame, y: Any) -> OptimalBinningWoE:
        X, target = self.check_fit_input(X, y)
        columns = [str(c) for c in X.columns]
        categorical = set(self.categorical)
        self.splits_: dict[str, list[float]] = {}
        self.groups_: dict[str, list[list[str]]] = {}
        self.woe_: dict[str, list[float]] = {}  # per bin, then special, then missing
        self.unseen_woe_: dict[str, float] = {}
        self.counts_: dict[str, list[int]] = {}  # training rows per bin, special, missing
        self.event_rates_: dict[str, list[float]] = {}  # default rate per bin (NaN: empty)
        for column, values in zip(columns, (X[c] for c in X.columns), strict=True):
            self.fit_column(column, values, target, column in categorical)
        self.feature_names_in_ = np.asarray(columns, dtype=object)
        self.n_features_in_ = len(columns)
        return self

    def check_fit_input(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        if self.monotonic_trend not in TRENDS:
            raise ValueError(
                f"OptimalBinningWoE: monotonic_trend must be one of {TRENDS}, "
                f"got {self.monotonic_trend!r}"
            )
        X = require_training_frame(X, [], "OptimalBinningWoE")
        target = require_default_flag(y, len(X), "OptimalBinningWoE")
        if len(np.unique(target)) < 2:
            raise ValueError("OptimalBinningWoE: y has one class only; WoE needs both")
        return X, target.astype("int64")

    def fit_column(self, column: str, values: pd.Series, y: np.ndarray, categorical: bool) -> None:
        """Bin one column with optbinning's ``OptimalBinning`` (as ``BinningProcess`` does for
        each variable) and keep its tables; each bin's WoE is read through optbinning's own
        transform, so it is optbinning's number."""
        from optbinning import OptimalBinning  # needed to fit, not to load or transform

        trend = None if self.monotonic_trend == "none" else self.monotonic_trend
        binning = OptimalBinning(
            column,
            dtype="categorical" if categorical else "numerical",
            max_n_prebins=self.max_n_prebins,
            min_prebin_size=min(0.05, self.min_bin_size),
            max_n_bins=self.max_n_bins,
            min_bin_size=self.min_bin_size,
            special_codes=list(self.special_codes) or None,
            **({} if categorical else {"monotonic_trend": trend}),
        )
        x = values.astype(object).to_numpy() if categorical else as_numbers(values, column)
        ordinary = ~pd.isna(x) & ~np.isin(x, np.asarray(self.special_codes, dtype=object))
        if not ordinary.any():
            raise ValueError(
                f"OptimalBinningWoE: column {column!r} holds only missing values or special "
                "codes in the training rows, so there is nothing to bin; leave it out of the "
                "model (data.excluded in params.yaml)"
            )
        with warnings.catch_warnings():
            # optbinning 1.0 uses pandas idioms pandas 3 deprecates (its own summary tables);
            # nothing a user can act on, and one per column per fit would flood the logs
            warnings.filterwarnings("ignore", module=r"optbinning\..*")
            binning.fit(np.asarray(x), y)
        if categorical:
            self.groups_[column] = [[str(v) for v in group] for group in binning.splits]
            inside: list[Any] = [group[0] for group in self.groups_[column]]
            specials: list[Any] = []
        else:
            self.splits_[column] = [float(s) for s in binning.splits]
            inside = representatives(self.splits_[column], self.special_codes)
            specials = [float(self.special_codes[0])] if self.special_codes else []
        woe = [float(w) for w in binning.transform(np.asarray(inside), **WOE)]
        special = binning.transform(np.asarray(specials), **WOE) if specials else [0.0]
        missing = binning.transform(np.asarray([np.nan]), **WOE)
        self.woe_[column] = [*woe, float(special[0]), float(missing[0])]
        self.unseen_woe_[column] = 0.0
        if categorical:
            unseen = binning.transform(np.asarray([UNSEEN], dtype=object), **WOE)
            self.unseen_woe_[column] = float(unseen[0])
        index = self.bin_index(column, values)
        self.counts_[column] = np.bincount(index, minlength=len(woe) + 2).tolist()
        events = np.bincount(index, weights=y, minlength=len(woe) + 2)
        counts = np.asarray(self.counts_[column], dtype="float64")
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty bin has no rate: NaN
            self.event_rates_[column] = (events / counts).tolist()

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "woe_")
        columns = [str(c) for c in self.feature_names_in_]
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"OptimalBinningWoE: input lacks the fitted columns {missing}")
        woe = {c: self.column_woe(c, X[c]) for c in columns}
        return pd.DataFrame(woe, index=X.index, columns=columns)

    def column_woe(self, column: str, values: pd.Series) -> np.ndarray:
        index = self.bin_index(column, values)
        woe = np.asarray(self.woe_[column], dtype="float64")[index]
        return np.where(index < 0, self.unseen_woe_[column], woe)

    def bin_index(self, column: str, values: pd.Series) -> np.ndarray:
        """Bin of each value: ``0..n-1`` the bins, ``n`` special, ``n + 1`` missing, ``-1``
        a category never seen in training."""
        n = len(self.woe_[column]) - 2
        if column in self.groups_:
            bins = {v: i for i, group in enumerate(self.groups_[column]) for v in group}
            found = [n + 1 if pd.isna(v) else bins.get(str(v), -1) for v in values.astype(object)]
            return np.asarray(found, dtype="int64")
        x = as_numbers(values, column)
        index = np.searchsorted(self.splits_[column], x, side="right")
        index[np.isin(x, np.asarray(self.special_codes, dtype="float64"))] = n
        index[np.isnan(x)] = n + 1
        return index

    def bin_labels(self, column: str) -> list[str]:
        """Readable attribute of each bin, then ``Special`` and ``Missing`` (table order)."""
        if column in self.groups_:
            bins = [", ".join(group) for group in self.groups_[column]]
        else:
            edges = [-np.inf, *self.splits_[column], np.inf]
            bins = [f"[{lo:g}, {hi:g})" for lo, hi in itertools.pairwise(edges)]
        return [*bins, "Special", "Missing"]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "woe_")
        check_input_features(self, input_features, "OptimalBinningWoE")
        return np.asarray(self.feature_names_in_, dtype=object)

    def __sklearn_tags__(self) -> Tags:
        return frame_input_tags(super().__sklearn_tags__(), categorical=True, needs_y=True)


def as_numbers(values: pd.Series, column: str) -> np.ndarray:
    """A numeric column as float64; text that is not a number fails with the column's name."""
    try:
        return pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"OptimalBinningWoE: column {column!r} is binned as a number but holds "
            f"non-numeric values ({error}); list it in `categorical`"
        ) from error


def representatives(splits: list[float], special_codes: Sequence[float]) -> list[float]:
    """One value inside each numeric bin ``[lo, hi)`` that is not a special code."""
    edges = [(splits[0] - 1.0) if splits else 0.0, *splits]
    specials = {float(s) for s in special_codes}
    chosen = []
    for i, lo in enumerate(edges):
        hi = splits[i] if i < len(splits) else lo + 2.0
        value = lo
        while value in specials:
            value = float(np.nextafter(value, hi))
        chosen.append(value)
    return chosen
