"""From probability of default (PD) to a credit score and a risk tier.

Score scaling is the industry's points-to-double-odds (PDO) convention:
``score = offset + factor * ln(odds)`` with ``odds = (1 - PD) / PD`` (good:bad),
``factor = pdo / ln 2`` and ``offset = base_points - factor * ln(base_odds)``. So a customer at
``base_odds`` gets ``base_points``, and every doubling of the odds adds ``pdo`` points: higher
score = lower risk. Scores are rounded to integers and clipped to ``[min_score, max_score]``.

``ScorecardConfig`` is the ``scorecard`` section of ``params.yaml``; ``fit_scoring_policy``
turns it into the ``ScoringPolicy`` stored with a model version, fitting the master scale and
``auto`` tier cut-offs on the training book (``models.scoring.grades``).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from features.schema import DEFAULT_NA_VALUES, FrozenModel, ValueRange
from models.scoring.grades import (
    GradeConfig,
    MasterScale,
    TierShares,
    assign_grade,
    fit_master_scale,
    fit_tier_cutoffs,
)
from models.scoring.reason_codes import ReasonSettings
from models.scoring.strategy import StrategyTable

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


class TierRule(FrozenModel):
    """``scorecard.tiers``: ``auto`` (fitted to the training book by ``shares``) or ``fixed``
    (``low_max_pd`` / ``medium_max_pd`` as given)."""

    method: Literal["auto", "fixed"] = "auto"
    shares: TierShares = TierShares()
    low_max_pd: float | None = Field(default=None, gt=0, lt=1)
    medium_max_pd: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _check_fixed(self) -> TierRule:
        if self.method == "fixed":
            if self.low_max_pd is None or self.medium_max_pd is None:
                raise ValueError("scorecard.tiers: method fixed needs low_max_pd and medium_max_pd")
            TierCutoffs(low_max_pd=self.low_max_pd, medium_max_pd=self.medium_max_pd)
        elif self.low_max_pd is not None or self.medium_max_pd is not None:
            raise ValueError(
                "scorecard.tiers: low_max_pd / medium_max_pd are only read with method fixed; "
                "remove them or set method: fixed"
            )
        return self


class ScoringPolicy(FrozenModel):
    """Everything that turns a PD into a decision; stored with each model version.

    ``grades`` is None for versions registered before the master scale existed.
    ``calibration`` records the version's PD calibration (method and parameters).
    ``na_values``: the text that meant "missing" in the training data (``data.na_values``);
    every scoring path (pyfunc, service, batch) reads such text as a missing value.
    ``numeric_inputs``: the raw columns that hold numbers (``data.numeric``), checked by the
    pyfunc model itself (its signature types them ``Any``, see ``experiments.tracking``);
    ``ranges``: their valid values (``data.ranges``), enforced by every scoring path.
    """

    scaling: ScoreScaling = ScoreScaling()
    tiers: TierCutoffs = TierCutoffs()
    grades: MasterScale | None = None
    calibration: dict[str, str | float | int] = Field(default_factory=dict)
    reasons: ReasonSettings = ReasonSettings()
    strategies: StrategyTable = StrategyTable()
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES
    numeric_inputs: tuple[str, ...] = ()
    ranges: dict[str, ValueRange] = Field(default_factory=dict)


class ScorecardConfig(FrozenModel):
    """The ``scorecard`` section of ``params.yaml``: the rules a ``ScoringPolicy`` is fitted by."""

    scaling: ScoreScaling = ScoreScaling()
    grades: GradeConfig = GradeConfig()
    tiers: TierRule = TierRule()
    reasons: ReasonSettings = ReasonSettings()
    strategies: StrategyTable = StrategyTable()


def fit_scoring_policy(
    config: ScorecardConfig, book_pd: np.ndarray, calibration: dict[str, str | float | int]
) -> ScoringPolicy:
    """The stored policy: grades and ``auto`` tiers fitted on ``book_pd``, the training
    split's out-of-fold calibrated PDs (never in-sample PDs, which overfit)."""
    if config.tiers.method == "auto":
        low, medium = fit_tier_cutoffs(config.tiers.shares, book_pd)
    else:
        assert config.tiers.low_max_pd is not None and config.tiers.medium_max_pd is not None
        low, medium = config.tiers.low_max_pd, config.tiers.medium_max_pd
    return ScoringPolicy(
        scaling=config.scaling,
        tiers=TierCutoffs(low_max_pd=low, medium_max_pd=medium),
        grades=fit_master_scale(config.grades, book_pd),
        calibration=calibration,
        reasons=config.reasons,
        strategies=config.strategies,
    )


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
    """The model contract's output: ``pd``, ``score``, ``grade`` (when the version has a
    master scale) and ``tier`` per customer."""
    p = np.asarray(pd_, dtype="float64")
    columns: dict[str, object] = {"pd": p, "score": pd_to_score(p, policy.scaling)}
    if policy.grades is not None:
        columns["grade"] = assign_grade(p, policy.grades)
    columns["tier"] = pd.Series(assign_tier(p, policy.tiers), dtype=object)
    return pd.DataFrame(columns)


def tier_table(tiers: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Share of customers and observed default rate per tier, low to high."""
    frame = pd.DataFrame({"tier": tiers, "y": y})
    table = frame.groupby("tier")["y"].agg(n_rows="size", default_rate="mean")
    table = table.reindex(list(TIERS)).fillna({"n_rows": 0})
    table["share"] = table["n_rows"] / len(frame)
    return table.reset_index()
