"""Per-tier credit strategies: what the business does with a customer in each risk tier.

Configured in ``params.yaml`` (``scorecard.strategies``) and stored with each model version
beside the tier cut-offs, so a version always recommends the same actions.
"""

from __future__ import annotations

from pydantic import Field

from features.schema import FrozenModel


class TierStrategy(FrozenModel):
    """Credit limit policy, payment terms, security and monitoring for one tier."""

    credit_limit_multiplier: float = Field(ge=0, description="x requested or current limit")
    credit_limit_cap: float | None = Field(default=None, ge=0, description="currency units")
    payment_terms_days: int = Field(ge=0, le=365)
    collateral_required: bool = False
    review_every_months: int = Field(ge=1, le=60)
    actions: tuple[str, ...] = ()

    def recommended_limit(self, requested_limit: float) -> float:
        """The limit this tier grants against a requested (or current) limit."""
        limit = requested_limit * self.credit_limit_multiplier
        return limit if self.credit_limit_cap is None else min(limit, self.credit_limit_cap)


class StrategyTable(FrozenModel):
    """One strategy per tier. Defaults follow common practice; tune them in params.yaml."""

    low: TierStrategy = TierStrategy(
        credit_limit_multiplier=1.2,
        payment_terms_days=60,
        review_every_months=12,
        actions=("eligible for limit increase", "annual review"),
    )
    medium: TierStrategy = TierStrategy(
        credit_limit_multiplier=1.0,
        payment_terms_days=30,
        review_every_months=6,
        actions=("keep current limit", "semi-annual review"),
    )
    high: TierStrategy = TierStrategy(
        credit_limit_multiplier=0.5,
        payment_terms_days=14,
        collateral_required=True,
        review_every_months=1,
        actions=("reduce limit", "shorten payment terms", "require guarantee", "monthly review"),
    )

    def for_tier(self, tier: str) -> TierStrategy:
        if tier not in ("low", "medium", "high"):
            raise ValueError(f"unknown risk tier {tier!r}; expected low, medium or high")
        strategy: TierStrategy = getattr(self, tier)
        return strategy
