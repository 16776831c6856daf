"""Early-warning alerts from two scoring runs of the same portfolio.

Inputs are scored frames with one row per customer: ``customer_key`` (a keyed hash, never the
clear id), ``pd``, ``score``, ``tier``. Pure: the caller loads runs and stores alerts.
"""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from features.schema import FrozenModel

TIER_RANK = {"low": 0, "medium": 1, "high": 2}
ALERT_COLUMNS = [
    "customer_key",
    "alert",
    "severity",
    "previous_tier",
    "tier",
    "previous_score",
    "score",
    "pd",
    "detail",
]


class AlertConfig(FrozenModel):
    """Thresholds of the early-warning rules (``monitoring.alerts`` in params.yaml)."""

    score_drop_points: int = Field(default=30, ge=1)
    pd_ceiling: float = Field(default=0.5, gt=0, lt=1)


def join_runs(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Current run with the previous run's tier and score (NaN for new customers)."""
    for name, frame in (("previous", previous), ("current", current)):
        if frame["customer_key"].duplicated().any():
            raise ValueError(f"{name} run has duplicate customer keys")
    earlier = previous[["customer_key", "tier", "score"]].rename(
        columns={"tier": "previous_tier", "score": "previous_score"}
    )
    return current.merge(earlier, on="customer_key", how="left")


def rule_rows(
    joined: pd.DataFrame, mask: pd.Series, alert: str, severity: pd.Series | str, detail: pd.Series
) -> pd.DataFrame:
    rows = joined[mask].copy()
    rows["alert"] = alert
    rows["severity"] = severity[mask] if isinstance(severity, pd.Series) else severity
    rows["detail"] = detail[mask]
    return rows


def compare_runs(
    previous: pd.DataFrame, current: pd.DataFrame, config: AlertConfig
) -> pd.DataFrame:
    """Alerts: worse tier, score drop beyond the threshold, PD above the ceiling, new in high.

    ``tier_migration`` and ``score_drop`` need the customer in both runs; ``pd_ceiling`` and
    ``entered_high_tier`` also fire for customers new to the portfolio.
    """
    joined = join_runs(previous, current)
    known = joined["previous_tier"].notna()
    rank_now = joined["tier"].map(TIER_RANK)
    rank_before = joined["previous_tier"].map(TIER_RANK)
    drop = joined["previous_score"] - joined["score"]
    worse = known & (rank_now > rank_before)
    high = joined["tier"] == "high"
    parts = [
        rule_rows(
            joined,
            worse,
            "tier_migration",
            high.map({True: "high", False: "medium"}),
            joined["previous_tier"].astype(str) + " -> " + joined["tier"].astype(str),
        ),
        rule_rows(
            joined,
            known & (drop >= config.score_drop_points),
            "score_drop",
            (drop >= 2 * config.score_drop_points).map({True: "high", False: "medium"}),
            "score fell " + drop.astype("Int64").astype(str) + " points",
        ),
        rule_rows(
            joined,
            joined["pd"] >= config.pd_ceiling,
            "pd_ceiling",
            "high",
            "PD " + joined["pd"].round(3).astype(str) + f" >= {config.pd_ceiling}",
        ),
        rule_rows(
            joined,
            high & (joined["previous_tier"] != "high"),
            "entered_high_tier",
            "high",
            joined["previous_tier"].fillna("new customer").astype(str) + " -> high",
        ),
    ]
    alerts = pd.concat(parts, ignore_index=True)[ALERT_COLUMNS]
    return alerts.sort_values(["customer_key", "alert"], kind="stable").reset_index(drop=True)
