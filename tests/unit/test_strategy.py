"""Tier strategies: configuration, limits and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from experiments.config import ProjectConfig, parse_config
from models.scoring.strategy import StrategyTable, TierStrategy


def test_recommended_limit_applies_multiplier_then_cap() -> None:
    strategy = TierStrategy(
        credit_limit_multiplier=0.5,
        credit_limit_cap=5000,
        payment_terms_days=14,
        review_every_months=1,
    )
    assert strategy.recommended_limit(4000) == 2000
    assert strategy.recommended_limit(20000) == 5000


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown risk tier 'severe'"):
        StrategyTable().for_tier("severe")


def test_strategies_come_from_params_without_code_changes(project_config: ProjectConfig) -> None:
    raw = project_config.model_dump(mode="json")
    raw["scorecard"]["strategies"]["high"]["actions"] = ["call the customer"]
    raw["scorecard"]["strategies"]["high"]["payment_terms_days"] = 7
    config = parse_config(raw)
    assert config.scorecard.strategies.for_tier("high").actions == ("call the customer",)
    assert config.scorecard.strategies.high.payment_terms_days == 7


def test_bad_strategy_value_names_the_key(project_config: ProjectConfig) -> None:
    raw = project_config.model_dump(mode="json")
    raw["scorecard"]["strategies"]["low"]["payment_terms_days"] = -5
    with pytest.raises(Exception, match=r"scorecard\.strategies\.low\.payment_terms_days"):
        parse_config(raw)


def test_negative_multiplier_is_refused() -> None:
    with pytest.raises(ValidationError, match="credit_limit_multiplier"):
        TierStrategy(credit_limit_multiplier=-1, payment_terms_days=30, review_every_months=6)
