"""Suspected leakage: one column that, alone, predicts the target almost perfectly.

A real predictor of default rarely ranks customers above a ROC AUC of about 0.8 on its own
(by this measure: German Credit's best, the checking account, 0.68; the best of four other
real books of benchmarks/credit_datasets.py, hmeq's debt-to-income ratio, 0.82). One at 0.95
or more is usually recorded after the outcome (a recovery amount, a collection status, a
sampling weight set per outcome: auto_loan_accepts' ``weight`` scores 1.0) or is the target in
another coding. Such a column is excluded and the user told why.

Every column is scored the same way, cross-fitted so that many levels cannot fake a signal:
its values are cut into levels (its own values; a number with more than ``NUMBER_BINS``
values, its quantile bins; missing is a level of its own), and each row gets its level's
default rate computed on the other ``FOLDS - 1`` folds (shrunk towards the overall rate). The
ROC AUC of those out-of-fold rates is the column's univariate AUC. An id, unique per row,
scores about 0.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

LEAKAGE_AUC = 0.95
FOLDS = 5
NUMBER_BINS = 20
MIN_CLASS_ROWS = 10  # fewer defaults (or non-defaults) than this: too few to tell
SHRINK_ROWS = 1.0  # a level's rate is shrunk towards the overall rate as if with 1 more row


def level_codes(values: pd.Series, numeric: bool) -> np.ndarray:
    """A level per row, as a code: 0 is missing, then the values, or a number's quantile bins."""
    if numeric and values.nunique() > NUMBER_BINS:
        bins = pd.qcut(values.astype("float64"), NUMBER_BINS, labels=False, duplicates="drop")
        return np.nan_to_num(bins.to_numpy(dtype="float64"), nan=-1).astype("int64") + 1
    codes, _ = pd.factorize(values, use_na_sentinel=True)  # missing: -1
    return codes.astype("int64") + 1


def univariate_auc(values: pd.Series, y: np.ndarray, numeric: bool, seed: int) -> float:
    """Cross-fitted ROC AUC of one column's out-of-fold level default rates."""
    codes = level_codes(values, numeric)
    scores = np.empty(len(y), dtype="float64")
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    for fit_rows, score_rows in folds.split(codes, y):
        prior = y[fit_rows].mean()
        defaults = np.bincount(codes[fit_rows], weights=y[fit_rows], minlength=codes.max() + 1)
        rows = np.bincount(codes[fit_rows], minlength=codes.max() + 1)
        # a level absent from the fitting folds gets the overall rate, (0 + s p) / (0 + s)
        rates = (defaults + SHRINK_ROWS * prior) / (rows + SHRINK_ROWS)
        scores[score_rows] = rates[codes[score_rows]]
    return float(roc_auc_score(y, scores))


def can_check(y: np.ndarray) -> bool:
    """Enough defaults and non-defaults for an AUC near 1 to mean something."""
    positives = int(y.sum())
    return min(positives, len(y) - positives) >= MIN_CLASS_ROWS
