"""From probability of default (PD) to a credit score and a risk tier.

Score scaling is the industry's points-to-double-odds (PDO) convention:
``score = offset + factor * ln(odds)`` with ``odds = (1 - PD) / PD`` (good:bad),
``factor = pdo / ln 2`` and ``offset = base_points - factor * ln(base_odds)``. So a customer at
``base_odds`` gets ``base_points``, and every doubling of the odds adds ``pdo`` points: higher
score = lower risk. Scores are rounded to integers and clipped to ``[min_score, max_score]``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from features.schema import FrozenModel
from models.reason_codes import ReasonSettings
from models.strategy import StrategyTable

Tier = Literal["low", "medium", "high"]
TIERS: tuple[Tier, ...] = ("low", "medium", "high")
PD_EPSILON = 1e-9  # PDs of exactly 0 or 1 would give infinite odds


class ScoreScaling(FrozenModel):
    base_points: float = 600.0
    base_odds: float = Field(default=50.0, gt=0, description="good:bad odds at base_points")
    pdo: float = Field(default=20.0, gt=0, description="points to double the odds")
    min_score: int = 300
    max_score: int = 850

    @model_validator(mode="after")
    def _check_range(self) -> ScoreScaling:
        if self.min_score >= self.max_score:
            raise ValueError(
                f"scorecard.scaling: min_score ({self.min_score}) must be below "
                f"max_score ({self.max_score})"
            )
        return self

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)


class TierCutoffs(FrozenModel):
    """PD cut-offs: ``PD < low_max_pd`` is low, ``PD < medium_max_pd`` medium, else high."""

    low_max_pd: float = Field(default=0.15, gt=0, lt=1)
    medium_max_pd: float = Field(default=0.40, gt=0, lt=1)

    @model_validator(mode="after")
    def _check_order(self) -> TierCutoffs:
        if self.low_max_pd >= self.medium_max_pd:
            raise ValueError(
                f"scorecard.tiers: low_max_pd ({self.low_max_pd}) must be below "
                f"medium_max_pd ({self.medium_max_pd})"
            )
        return self


class ScoringPolicy(FrozenModel):
    """Everything that turns a PD into a decision; stored with each model version."""

    scaling: ScoreScaling = ScoreScaling()
    tiers: TierCutoffs = TierCutoffs()
    reasons: ReasonSettings = ReasonSettings()
    strategies: StrategyTable = StrategyTable()


def pd_to_score(pd_: np.ndarray, scaling: ScoreScaling) -> np.ndarray:
    """Integer credit scores (higher = safer) for probabilities of default."""
    p = np.clip(np.asarray(pd_, dtype="float64"), PD_EPSILON, 1 - PD_EPSILON)
    raw = scaling.offset + scaling.factor * np.log((1 - p) / p)
    return np.clip(np.rint(raw), scaling.min_score, scaling.max_score).astype("int64")


def assign_tier(pd_: np.ndarray, tiers: TierCutoffs) -> np.ndarray:
    """Risk tier of each PD by the configured cut-offs."""
    p = np.asarray(pd_, dtype="float64")
    index = np.searchsorted([tiers.low_max_pd, tiers.medium_max_pd], p, side="right")
    return np.asarray(TIERS, dtype=object)[index]


def score_customers(pd_: np.ndarray, policy: ScoringPolicy) -> pd.DataFrame:
    """The model contract's output: ``pd``, ``score`` and ``tier`` per customer."""
    p = np.asarray(pd_, dtype="float64")
    return pd.DataFrame(
        {
            "pd": p,
            "score": pd_to_score(p, policy.scaling),
            "tier": pd.Series(assign_tier(p, policy.tiers), dtype=object),
        }
    )


def tier_table(tiers: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Share of customers and observed default rate per tier, low to high."""
    frame = pd.DataFrame({"tier": tiers, "y": y})
    table = frame.groupby("tier")["y"].agg(n_rows="size", default_rate="mean")
    table = table.reindex(list(TIERS)).fillna({"n_rows": 0})
    table["share"] = table["n_rows"] / len(frame)
    return table.reset_index()
