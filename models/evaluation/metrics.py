"""Discrimination and calibration metrics for probability-of-default (PD) models.

``y`` is 1 for a default, ``pd_`` the predicted probability of default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)


def compute_ks(y: np.ndarray, pd_: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: max gap between the PD distributions of bads and goods."""
    fpr, tpr, _ = roc_curve(y, pd_)
    return float(np.max(tpr - fpr))


def compute_metrics(y: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    """ROC AUC, Gini (= 2 AUC - 1), KS, Brier score, log loss and PR AUC, plus counts."""
    y = np.asarray(y)
    pd_ = np.asarray(pd_, dtype="float64")
    if len(np.unique(y)) < 2:
        raise ValueError("metrics need both defaults and non-defaults in y")
    auc = float(roc_auc_score(y, pd_))
    return {
        "roc_auc": auc,
        "gini": 2 * auc - 1,
        "ks": compute_ks(y, pd_),
        "brier": float(brier_score_loss(y, pd_)),
        "log_loss": float(log_loss(y, pd_, labels=[0, 1])),
        "pr_auc": float(average_precision_score(y, pd_)),
        "default_rate": float(y.mean()),
        "mean_pd": float(pd_.mean()),
        "n_rows": len(y),
    }


def calibration_table(y: np.ndarray, pd_: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed default rate by PD decile (fewer bins where PDs tie).

    ``abs_gap`` per bin and the row-weighted mean of it (expected calibration error, ECE) are
    what a validator reads: a well-calibrated model has observed close to predicted.
    """
    frame = pd.DataFrame({"y": np.asarray(y), "pd": np.asarray(pd_, dtype="float64")})
    frame["bin"] = pd.qcut(frame["pd"].rank(method="first"), q=n_bins, labels=False) + 1
    table = frame.groupby("bin").agg(
        n_rows=("y", "size"),
        mean_pd=("pd", "mean"),
        observed_default_rate=("y", "mean"),
        min_pd=("pd", "min"),
        max_pd=("pd", "max"),
    )
    table["abs_gap"] = (table["mean_pd"] - table["observed_default_rate"]).abs()
    return table.reset_index()


def expected_calibration_error(table: pd.DataFrame) -> float:
    """Row-weighted mean absolute gap between predicted and observed default rates."""
    return float(np.average(table["abs_gap"], weights=table["n_rows"]))


def roc_points(y: np.ndarray, pd_: np.ndarray) -> pd.DataFrame:
    """False / true positive rates at every threshold (for DVC plots and PNGs)."""
    fpr, tpr, thresholds = roc_curve(y, pd_)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thresholds, 1.0)})
