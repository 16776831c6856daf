"""Early-warning alerts: each customer's new scored state against their previous one.

An alert is raised in the run where its condition *starts* to hold for a customer (edge
triggered), so a team acts once per event, not once per run:

- ``tier_migration``: the tier is worse than in the previous state;
- ``score_drop``: the score fell by at least ``score_drop_points`` since the previous state;
- ``pd_ceiling``: the PD is at or above ``pd_ceiling`` and was below it in the previous state;
- ``entered_high_tier``: the tier is high and was not in the previous state.

A customer without a previous state (every customer of the first run, a customer new to the
portfolio) is raised on the current state only: ``pd_ceiling`` and ``entered_high_tier``. A
customer still above the ceiling, or still in the high tier, raises nothing again; one who
leaves the condition and enters it again is raised again.

Inputs are frames with one row per customer: ``customer_key`` (a keyed hash, never the clear
id), ``pd``, ``score``, ``tier``. Pure: the caller chooses the previous states (the store keeps
each customer's last scored state), loads them and stores the alerts.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pydantic import Field

from features.schema import FrozenModel

TIER_RANK = {"low": 0, "medium": 1, "high": 2}
STATE_COLUMNS = ["customer_key", "pd", "score", "tier"]
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
    "previous_run_id",
]
NO_PREVIOUS_STATE = "not scored before"


class AlertConfig(FrozenModel):
    """Thresholds of the early-warning rules (``monitoring.alerts`` in params.yaml)."""

    score_drop_points: int = Field(default=30, ge=1)
    pd_ceiling: float = Field(default=0.5, gt=0, lt=1)


def join_runs(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Current states with the previous state's tier, score, PD and run (NaN when none).

    ``previous`` may carry ``run_id``, the run its state was scored in.
    """
    for name, frame in (("previous", previous), ("current", current)):
        if frame["customer_key"].duplicated().any():
            raise ValueError(f"{name} run has duplicate customer keys")
    kept = ["pd", "score", "tier", "run_id"]
    earlier = previous.reindex(columns=["customer_key", *kept])
    earlier = earlier.rename(columns={c: f"previous_{c}" for c in kept})
    earlier = earlier.astype({"previous_pd": float, "previous_score": float})
    return current[STATE_COLUMNS].merge(earlier, on="customer_key", how="left")


def rule_rows(
    joined: pd.DataFrame,
    mask: pd.Series,
    alert: str,
    severity: pd.Series | str,
    detail: Callable[[pd.DataFrame], pd.Series],
) -> pd.DataFrame:
    """The rows of ``mask`` as ``alert``s, their ``detail`` text built from those rows only."""
    rows = joined[mask].copy()
    rows["alert"] = alert
    rows["severity"] = severity[mask] if isinstance(severity, pd.Series) else severity
    rows["detail"] = detail(rows) if len(rows) else pd.Series(dtype=str)
    return rows


def text(values: pd.Series, pattern: str = "{}") -> pd.Series:
    """Each value formatted with ``pattern``."""
    return values.map(pattern.format).astype(str)


def compare_runs(
    previous: pd.DataFrame, current: pd.DataFrame, config: AlertConfig
) -> pd.DataFrame:
    """The alerts whose condition starts to hold in ``current`` (see the module docstring).

    ``previous``: each customer's previous state (empty for the first run); customers absent
    from ``current`` raise nothing.
    """
    joined = join_runs(previous, current)
    known = joined["previous_tier"].notna()
    drop = joined["previous_score"] - joined["score"]
    high = joined["tier"] == "high"
    was_above = known & (joined["previous_pd"] >= config.pd_ceiling)
    parts = [
        rule_rows(
            joined,
            known & (joined["tier"].map(TIER_RANK) > joined["previous_tier"].map(TIER_RANK)),
            "tier_migration",
            high.map({True: "high", False: "medium"}),
            lambda r: text(r["previous_tier"]) + " -> " + text(r["tier"]),
        ),
        rule_rows(
            joined,
            known & (drop >= config.score_drop_points),
            "score_drop",
            (drop >= 2 * config.score_drop_points).map({True: "high", False: "medium"}),
            lambda r: "score fell " + text(r["previous_score"] - r["score"], "{:.0f}")
            + " points (" + text(r["previous_score"], "{:.0f}") + " -> " + text(r["score"]) + ")",
        ),
        rule_rows(
            joined,
            (joined["pd"] >= config.pd_ceiling) & ~was_above,
            "pd_ceiling",
            "high",
            lambda r: "PD " + text(r["pd"], "{:.3f}") + f" >= ceiling {config.pd_ceiling:g}",
        ),
        rule_rows(
            joined,
            high & (joined["previous_tier"] != "high"),
            "entered_high_tier",
            "high",
            lambda r: text(r["previous_tier"].fillna(NO_PREVIOUS_STATE)) + " -> high",
        ),
    ]  # fmt: skip
    alerts = pd.concat(parts, ignore_index=True).reindex(columns=ALERT_COLUMNS)
    return alerts.sort_values(["customer_key", "alert"], kind="stable").reset_index(drop=True)
