"""Tables a model validator reads: gains and lift by decile, the KS curve, score distributions.

``y`` is 1 for a default; ``pd_`` the predicted probability of default (higher = riskier);
``score`` the credit score (higher = safer). Deciles are cut on the PD rank, riskiest first,
with ties broken by row order so every decile has the same size (± 1 row); since the score is a
decreasing function of the PD, these are also the score deciles, lowest score first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from models.scoring.scorecard import TIERS


def check_outcomes(y: np.ndarray, values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as 0/1 integers and ``values`` as floats; same length, both classes present."""
    y = np.asarray(y)
    values = np.asarray(values, dtype="float64")
    if len(y) != len(values):
        raise ValueError(f"{name}: y has {len(y)} rows but the scores have {len(values)}")
    if not set(np.unique(y)) <= {0, 1} or len(np.unique(y)) < 2:
        raise ValueError(f"{name}: y must hold both 0 (no default) and 1 (default), only")
    return y.astype("int64"), values


def gains_table(
    y: np.ndarray, pd_: np.ndarray, score: np.ndarray | None = None, n_bins: int = 10
) -> pd.DataFrame:
    """Defaults caught per PD decile, riskiest decile first.

    Columns: ``decile`` (1 = highest PD), ``n_rows``, ``n_defaults``, ``default_rate``,
    ``min_pd``/``max_pd`` (and ``min_score``/``max_score`` when ``score`` is given),
    ``cum_share_customers``, ``cum_share_defaults`` (the gains curve: share of all defaults in
    this and riskier deciles), ``lift`` (decile default rate / overall rate) and ``cum_lift``.
    """
    y, pd_ = check_outcomes(y, pd_, "gains_table")
    frame = pd.DataFrame({"y": y, "pd": pd_})
    if score is not None:
        frame["score"] = np.asarray(score, dtype="float64")
    frame["decile"] = pd.qcut((-frame["pd"]).rank(method="first"), q=n_bins, labels=False) + 1
    aggregations = {"n_rows": ("y", "size"), "n_defaults": ("y", "sum")}
    aggregations |= {"min_pd": ("pd", "min"), "max_pd": ("pd", "max")}
    if score is not None:
        aggregations |= {"min_score": ("score", "min"), "max_score": ("score", "max")}
    table = frame.groupby("decile").agg(**aggregations).reset_index()
    overall = y.mean()
    table["default_rate"] = table["n_defaults"] / table["n_rows"]
    table["cum_share_customers"] = table["n_rows"].cumsum() / len(y)
    table["cum_share_defaults"] = table["n_defaults"].cumsum() / y.sum()
    table["lift"] = table["default_rate"] / overall
    table["cum_lift"] = table["cum_share_defaults"] / table["cum_share_customers"]
    return table


def ks_curve(y: np.ndarray, pd_: np.ndarray) -> pd.DataFrame:
    """Cumulative shares of defaults and non-defaults above each PD threshold.

    Customers are taken from the riskiest down: at each ``threshold`` (PD),
    ``population_share`` of all customers have a PD >= it, catching ``cum_share_defaults`` of
    the defaults and ``cum_share_goods`` of the non-defaults; ``gap`` is the difference. Its
    maximum is the KS statistic (equal to ``models.evaluation.metrics.compute_ks``).
    """
    y, pd_ = check_outcomes(y, pd_, "ks_curve")
    fpr, tpr, thresholds = roc_curve(y, pd_)
    n_bad, n_good = int(y.sum()), int(len(y) - y.sum())
    return pd.DataFrame(
        {
            "threshold": np.minimum(thresholds, 1.0),
            "population_share": (tpr * n_bad + fpr * n_good) / len(y),
            "cum_share_defaults": tpr,
            "cum_share_goods": fpr,
            "gap": tpr - fpr,
        }
    )


def ks_point(curve: pd.DataFrame) -> dict[str, float]:
    """The KS statistic and where it is reached (PD threshold and population share)."""
    best = curve.iloc[int(np.argmax(curve["gap"].to_numpy()))]
    return {
        "ks": float(best["gap"]),
        "threshold_pd": float(best["threshold"]),
        "population_share": float(best["population_share"]),
    }


def score_distribution(y: np.ndarray, score: np.ndarray, n_bins: int = 20) -> pd.DataFrame:
    """Counts and shares of non-defaults and defaults per score band (equal-width bands).

    Columns: ``score_from`` (inclusive), ``score_to`` (exclusive, inclusive for the last band),
    ``n_goods``, ``n_defaults``, ``share_goods``, ``share_defaults`` (each outcome's shares sum
    to 1, so the two distributions can be compared whatever the default rate).
    """
    y, score = check_outcomes(y, score, "score_distribution")
    low, high = float(score.min()), float(score.max())
    edges = np.linspace(low, high if high > low else low + 1.0, n_bins + 1)
    goods, _ = np.histogram(score[y == 0], bins=edges)
    bads, _ = np.histogram(score[y == 1], bins=edges)
    return pd.DataFrame(
        {
            "score_from": edges[:-1],
            "score_to": edges[1:],
            "n_goods": goods,
            "n_defaults": bads,
            "share_goods": goods / max(goods.sum(), 1),
            "share_defaults": bads / max(bads.sum(), 1),
        }
    )


def default_rate_increases(tiers: pd.DataFrame) -> bool:
    """True when the observed default rate rises strictly from tier ``low`` to ``high``.

    ``tiers`` is ``models.scoring.scorecard.tier_table`` output; empty tiers are skipped, and fewer
    than two populated tiers cannot show an order (False).
    """
    table = tiers.set_index("tier").reindex(list(TIERS))
    rates = table.loc[table["n_rows"] > 0, "default_rate"].to_numpy(dtype="float64")
    return len(rates) >= 2 and bool(np.all(np.diff(rates) > 0))
