"""Column encoders of the fast path: a fitted encoder step compiled to dict/numpy lookups.

Each encoder turns one model-input column (a numpy array: float64 for numbers with NaN for
missing, object for categories with ``None`` for missing) into one float per row, exactly as
the fitted scikit-learn step does:

- LightGBM (``CategoryEncoder``): numbers pass through; a category becomes its position in the
  training categories (LightGBM's ``pandas_categorical`` codes); missing or unseen -> NaN.
- Linear models: the column's *margin term*, the sum of ``coef * encoded value`` over the
  encoder outputs that come from the column (one for WoE and scaled numbers, one per category
  for one-hot). Summing the terms and the intercept gives the logistic margin.

``encode`` works on whole columns (batches); ``encode_one`` on one raw value with plain
Python floats (the one-customer request path), with the same IEEE arithmetic.
Pure: no I/O, no global state.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from features.transformers import MISSING


def category_key(value: object) -> str | None:
    """The text a category value is matched by (``str``), or ``None`` when missing."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, str) else str(value)


NAN = float("nan")


def number(value: object) -> float:
    """A raw number as float (``None`` -> NaN), as numpy's float64 conversion does."""
    return NAN if value is None else float(value)  # type: ignore[arg-type]


SMALL = 16  # rows: below this a plain loop beats hashing the column


def lookup(values: np.ndarray, table: Mapping[str | None, float], default: float) -> np.ndarray:
    """``table[category_key(v)]`` per value (``default`` for keys not in the table).

    Large columns are factorised first (pandas hashes in C), so the table is consulted once
    per distinct value; missing values (None, NaN) take the table's ``None`` entry.
    """
    if len(values) < SMALL:
        found = (table.get(category_key(v), default) for v in values)
        return np.fromiter(found, dtype="float64", count=len(values))
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    mapped = [table.get(category_key(u), default) for u in uniques]
    mapped.append(table.get(None, default))  # code -1 (missing) takes the last entry
    return np.asarray(mapped, dtype="float64")[codes]


@dataclass(frozen=True)
class PassNumber:
    """A number LightGBM reads as is (float64; NaN is LightGBM's missing value)."""

    def encode(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype="float64")

    def encode_one(self, value: object) -> float:
        return number(value)


@dataclass(frozen=True)
class CategoryCode:
    """LightGBM's code of a category: its position in the training categories, else NaN."""

    codes: dict[str | None, float]

    def encode(self, values: np.ndarray) -> np.ndarray:
        return lookup(values, self.codes, NAN)

    def encode_one(self, value: object) -> float:
        return self.codes.get(category_key(value), NAN)


@dataclass(frozen=True)
class ScaledNumberTerm:
    """``coef * (x - mean) / scale``, with missing ``x`` imputed by the training median."""

    median: float
    mean: float
    scale: float
    coef: float

    def encode(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype="float64")
        imputed = np.where(np.isnan(x), self.median, x)
        return self.coef * ((imputed - self.mean) / self.scale)

    def encode_one(self, value: object) -> float:
        x = number(value)
        return self.coef * (((self.median if x != x else x) - self.mean) / self.scale)


@dataclass(frozen=True)
class CategoryTerm:
    """Margin term of a category from a table (one-hot coefficients or ``coef * WoE``).

    Unseen values take ``default`` (0 for one-hot and WoE: no evidence either way); a missing
    value takes the table's ``None`` entry (see ``category_terms``).
    """

    terms: dict[str | None, float]
    default: float = 0.0

    def encode(self, values: np.ndarray) -> np.ndarray:
        return lookup(values, self.terms, self.default)

    def encode_one(self, value: object) -> float:
        return self.terms.get(category_key(value), self.default)


def category_terms(terms: Mapping[str, float], missing_key: str = MISSING) -> CategoryTerm:
    """A ``CategoryTerm`` where missing values take the ``missing_key`` category's term."""
    table: dict[str | None, float] = {key: value for key, value in terms.items()}
    table[None] = terms.get(missing_key, 0.0)
    return CategoryTerm(table)


@dataclass(frozen=True)
class BinnedNumberTerm:
    """``coef * WoE`` of a number's bin; missing -> ``missing_term``.

    ``side="left"``: bins ``(e_i-1, e_i]`` (``WoEEncoder``'s quantile bins); ``"right"``: bins
    ``[e_i-1, e_i)`` (optbinning's). A value in ``specials`` takes ``special_term``.
    """

    edges: np.ndarray
    bin_terms: np.ndarray  # one term per bin (len(edges) + 1)
    missing_term: float
    side: Literal["left", "right"] = "left"
    specials: tuple[float, ...] = ()
    special_term: float = 0.0

    def encode(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype="float64")
        terms = self.bin_terms[np.searchsorted(self.edges, x, side=self.side)]
        if self.specials:
            terms = np.where(np.isin(x, self.specials), self.special_term, terms)
        return np.where(np.isnan(x), self.missing_term, terms)

    def encode_one(self, value: object) -> float:
        x = number(value)
        if x != x:
            return self.missing_term
        if x in self.specials:
            return self.special_term
        find = bisect.bisect_left if self.side == "left" else bisect.bisect_right
        return float(self.bin_terms[find(self.edges.tolist(), x)])


ColumnEncoder = PassNumber | CategoryCode | ScaledNumberTerm | CategoryTerm | BinnedNumberTerm
