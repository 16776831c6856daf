"""The promotion gate's rules on measured numbers."""

from __future__ import annotations

from models.promotion import GateConfig, Measurements, evaluate_gate

GATE = GateConfig(
    min_auc=0.7, min_ks=0.3, max_auc_drop=0.01, max_calibration_error=0.1, max_score_psi=0.1
)
GOOD = Measurements(roc_auc=0.79, ks=0.48, calibration_error=0.04, score_psi=0.02)


def failed(criteria: list) -> list[str]:
    return [c.name for c in criteria if not c.passed]


def test_good_candidate_without_champion_passes_every_floor() -> None:
    criteria = evaluate_gate(GOOD, None, GATE)
    assert failed(criteria) == []
    assert "roc_auc vs champion" not in [c.name for c in criteria]


def test_each_floor_fails_on_its_own() -> None:
    bad = Measurements(roc_auc=0.65, ks=0.2, calibration_error=0.2, score_psi=0.3)
    assert failed(evaluate_gate(bad, None, GATE)) == [
        "roc_auc floor",
        "ks floor",
        "calibration error",
        "score psi train vs test",
    ]


def test_champion_comparison_uses_the_tolerance() -> None:
    champion = Measurements(roc_auc=0.80, ks=0.5, calibration_error=0.03, score_psi=0.01)
    within = Measurements(roc_auc=0.7905, ks=0.48, calibration_error=0.04, score_psi=0.02)
    worse = Measurements(roc_auc=0.7850, ks=0.48, calibration_error=0.04, score_psi=0.02)
    assert failed(evaluate_gate(within, champion, GATE)) == []
    criteria = evaluate_gate(worse, champion, GATE)
    assert failed(criteria) == ["roc_auc vs champion"]
    comparison = criteria[-1]
    assert comparison.champion_value == 0.80
    assert comparison.describe() == "roc_auc vs champion FAILED: 0.7850 (required >= 0.7900)"
