"""Master scale and auto tiers: fitted on a training book, stored, applied the same way."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from models.scoring.grades import (
    GradeConfig,
    MasterScale,
    TierShares,
    assign_grade,
    fit_master_scale,
    fit_tier_cutoffs,
)
from models.scoring.scorecard import (
    ScorecardConfig,
    ScoringPolicy,
    TierRule,
    assign_tier,
    fit_scoring_policy,
    score_customers,
)

BOOK = np.random.default_rng(0).beta(1.2, 8, size=5_000)  # a 13%-default-like PD book


def test_quantile_grades_hold_equal_shares_and_rise() -> None:
    scale = fit_master_scale(GradeConfig(count=10), BOOK)
    assert scale.count == 10 and scale.edges == sorted(scale.edges)
    shares = np.bincount(assign_grade(BOOK, scale), minlength=11)[1:] / len(BOOK)
    assert np.allclose(shares, 0.1, atol=0.002)


def test_a_pd_on_an_edge_belongs_to_the_grade_above() -> None:
    scale = MasterScale(edges=[0.01, 0.05, 0.2])
    grades = assign_grade(np.array([0.0, 0.00999, 0.01, 0.05, 0.199, 0.2, 0.99]), scale)
    assert grades.tolist() == [1, 1, 2, 3, 3, 4, 4]
    assert scale.bands()[0] == {"grade": 1, "min_pd": 0.0, "max_pd": 0.01}


def test_fixed_grades_are_taken_as_given_and_checked() -> None:
    scale = fit_master_scale(GradeConfig(method="fixed", edges=[0.02, 0.1]), BOOK)
    assert scale.edges == [0.02, 0.1] and scale.method == "fixed"
    with pytest.raises(ValidationError, match=r"scorecard\.grades\.edges: must be increasing"):
        GradeConfig(method="fixed", edges=[0.1, 0.02])
    with pytest.raises(ValidationError, match="strictly between 0 and 1"):
        GradeConfig(method="fixed", edges=[])


def test_tied_pds_give_fewer_grades_never_an_empty_one() -> None:
    book = np.repeat([0.05, 0.2, 0.6], [700, 200, 100])
    scale = fit_master_scale(GradeConfig(count=10), book)
    counts = np.bincount(assign_grade(book, scale))[1:]
    assert scale.count == 3 and (counts > 0).all()


def test_auto_tiers_cut_the_book_at_the_target_shares() -> None:
    low, medium = fit_tier_cutoffs(TierShares(low=0.5, medium=0.35, high=0.15), BOOK)
    tiers = assign_tier(BOOK, ScoringPolicy().tiers.model_copy(
        update={"low_max_pd": low, "medium_max_pd": medium}))  # fmt: skip
    shares = {t: float(np.mean(tiers == t)) for t in ("low", "medium", "high")}
    assert shares == pytest.approx({"low": 0.5, "medium": 0.35, "high": 0.15}, abs=0.002)


def test_auto_tiers_refuse_a_book_without_spread() -> None:
    with pytest.raises(ValueError, match="auto needs PDs that differ across the training book"):
        fit_tier_cutoffs(TierShares(), np.full(100, 0.1))


def test_tier_rule_messages() -> None:
    with pytest.raises(ValidationError, match="method fixed needs low_max_pd and medium_max_pd"):
        TierRule(method="fixed")
    with pytest.raises(ValidationError, match="only read with method fixed"):
        TierRule(low_max_pd=0.1, medium_max_pd=0.3)
    with pytest.raises(ValidationError, match="must add up to 1"):
        TierShares(low=0.5, medium=0.5, high=0.5)
    with pytest.raises(ValidationError, match="must be below"):
        TierRule(method="fixed", low_max_pd=0.5, medium_max_pd=0.3)


def test_policy_is_fitted_stored_and_reloaded_identically() -> None:
    policy = fit_scoring_policy(ScorecardConfig(), BOOK, {"method": "platt", "slope": 0.7})
    reloaded = ScoringPolicy.model_validate_json(policy.model_dump_json())
    assert reloaded == policy
    scored = score_customers(BOOK[:50], reloaded)
    assert list(scored.columns) == ["pd", "score", "grade", "tier"]
    assert scored["grade"].tolist() == assign_grade(BOOK[:50], policy.grades).tolist()  # type: ignore[arg-type]


def test_fixed_tiers_keep_the_configured_cut_offs() -> None:
    rule = TierRule(method="fixed", low_max_pd=0.15, medium_max_pd=0.4)
    policy = fit_scoring_policy(ScorecardConfig(tiers=rule), BOOK, {"method": "none"})
    assert (policy.tiers.low_max_pd, policy.tiers.medium_max_pd) == (0.15, 0.4)


def test_versions_without_grades_still_score() -> None:
    old = ScoringPolicy.model_validate_json(ScoringPolicy().model_dump_json(exclude={"grades"}))
    assert old.grades is None
    assert "grade" not in score_customers(np.array([0.1, 0.5]), old).columns
