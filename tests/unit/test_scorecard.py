"""Score scaling (points to double the odds) and risk tiers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from models.scoring.scorecard import (
    ScoreScaling,
    ScoringPolicy,
    TierCutoffs,
    assign_tier,
    pd_to_score,
    score_customers,
    tier_table,
)

SCALING = ScoreScaling(base_points=600, base_odds=50, pdo=20, min_score=300, max_score=850)


def pd_at_odds(odds: float) -> float:
    """PD whose good:bad odds are ``odds``."""
    return 1 / (1 + odds)


def test_base_points_at_base_odds() -> None:
    assert pd_to_score(np.array([pd_at_odds(50)]), SCALING)[0] == 600


@pytest.mark.parametrize("doublings", [-3, -1, 1, 2, 4])
def test_pdo_points_per_doubling_of_the_odds(doublings: int) -> None:
    odds = 50 * 2.0**doublings
    assert pd_to_score(np.array([pd_at_odds(odds)]), SCALING)[0] == 600 + 20 * doublings


def test_score_is_monotone_decreasing_in_pd_and_integer() -> None:
    pds = np.linspace(0.001, 0.999, 500)
    scores = pd_to_score(pds, SCALING)
    assert scores.dtype == np.int64
    assert (np.diff(scores) <= 0).all()
    assert scores[0] > scores[-1]


def test_scores_are_clipped_to_the_configured_range() -> None:
    scores = pd_to_score(np.array([0.0, 1e-12, 1.0]), SCALING)
    assert scores.tolist() == [850, 850, 300]


def test_unrounded_formula_matches_the_textbook_definition() -> None:
    factor = 20 / math.log(2)
    offset = 600 - factor * math.log(50)
    pd_ = 0.2
    expected = round(offset + factor * math.log((1 - pd_) / pd_))
    assert pd_to_score(np.array([pd_]), SCALING)[0] == expected


@pytest.mark.parametrize(
    ("pd_", "tier"),
    [
        (0.0, "low"),
        (0.1499, "low"),
        (0.15, "medium"),
        (0.3999, "medium"),
        (0.40, "high"),
        (1.0, "high"),
    ],
)
def test_tier_cut_offs(pd_: float, tier: str) -> None:
    cutoffs = TierCutoffs(low_max_pd=0.15, medium_max_pd=0.40)
    assert assign_tier(np.array([pd_]), cutoffs)[0] == tier


def test_score_customers_returns_the_contract_columns() -> None:
    out = score_customers(np.array([0.05, 0.3, 0.8]), ScoringPolicy())
    assert list(out.columns) == ["pd", "score", "tier"]
    assert out["tier"].tolist() == ["low", "medium", "high"]


def test_tier_table_orders_tiers_and_computes_rates() -> None:
    table = tier_table(
        np.array(["high", "low", "low", "medium", "high"]), np.array([1, 0, 1, 0, 1])
    )
    assert table["tier"].tolist() == ["low", "medium", "high"]
    assert table["default_rate"].tolist() == [0.5, 0.0, 1.0]
    assert table["share"].tolist() == [0.4, 0.2, 0.4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_score": 900}, "min_score (900) must be below max_score (850)"),
        ({"pdo": 0}, "greater than 0"),
    ],
)
def test_bad_scaling_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ScoreScaling(**kwargs)


def test_tier_cut_offs_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="low_max_pd"):
        TierCutoffs(low_max_pd=0.5, medium_max_pd=0.4)
