"""The promotion gate's rules on measured numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from models.governance.gate import (
    GateConfig,
    Measurements,
    calibration_measurements,
    evaluate_gate,
    psi_noise_bound,
)

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


def test_calibration_refusals_name_the_test_the_grade_and_both_numbers() -> None:
    rng = np.random.default_rng(5)
    pd_ = rng.uniform(0.05, 0.5, 2_000)
    y = (rng.random(2_000) < pd_).astype(int)
    grades = np.searchsorted([0.1, 0.2, 0.3, 0.4], pd_, side="right") + 1
    calibrated = calibration_measurements(y, pd_, grades, alpha=0.05)
    good = Measurements(roc_auc=0.79, ks=0.48, calibration_error=0.04, score_psi=0.02, **calibrated)
    assert failed(evaluate_gate(good, None, GATE)) == []
    low = calibration_measurements(y, pd_ / 2, grades, alpha=0.05)  # PDs halved: too low
    criteria = evaluate_gate(
        Measurements(roc_auc=0.79, ks=0.48, calibration_error=0.04, score_psi=0.02, **low),
        None,
        GATE,
    )
    assert failed(criteria) == [
        "calibration in the large (p-value)",
        "spiegelhalter test (p-value)",
        "grades failing the jeffreys test",
    ]
    jeffreys = criteria[-1].describe()
    assert jeffreys.startswith("grades failing the jeffreys test FAILED: 5.0000 (required <= 2")
    assert "grade 5: observed 0." in jeffreys and "vs PD 0." in jeffreys
    assert "mean PD 0.1" in criteria[4].describe()  # PD 0.14 vs about 0.28 observed


def test_score_psi_bound_allows_for_sampling_noise() -> None:
    noise = psi_noise_bound(600, 200, alpha=0.05)
    assert noise == pytest.approx(chi2.ppf(0.95, 9) * (1 / 600 + 1 / 200))
    noisy = Measurements(0.79, 0.48, 0.04, score_psi=0.105, score_psi_noise=noise)
    assert failed(evaluate_gate(noisy, None, GATE)) == []
    drifted = Measurements(0.79, 0.48, 0.04, score_psi=0.2, score_psi_noise=noise)
    assert failed(evaluate_gate(drifted, None, GATE)) == ["score psi train vs test"]
