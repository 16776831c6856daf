"""`riskgrade monitor` with outcomes: the calibration tests and the findings they raise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.monitoring.drift import calibration_findings, outcome_section


def outcomes(scale: float) -> dict:
    rng = np.random.default_rng(11)
    true_pd = rng.uniform(0.02, 0.4, 3_000)
    y = (rng.random(3_000) < true_pd).astype(int)
    grades = np.searchsorted([0.1, 0.2, 0.3], true_pd, side="right") + 1
    tiers = np.where(true_pd < 0.15, "low", np.where(true_pd < 0.3, "medium", "high"))
    scores = pd.DataFrame({"pd": true_pd * scale, "tier": tiers, "grade": grades})
    return outcome_section(y, scores, version_test_auc=None)


def test_calibrated_pds_raise_no_calibration_finding() -> None:
    section = outcomes(1.0)
    assert set(section["calibration"]["groups"]) == {"tier", "grade"}
    assert [g["group"] for g in section["calibration"]["groups"]["tier"]] == [
        "low",
        "medium",
        "high",
    ]
    assert calibration_findings(section["calibration"]) == []


def test_underestimated_pds_are_an_act_finding_naming_both_numbers() -> None:
    found = calibration_findings(outcomes(0.5)["calibration"])
    act = [text for level, text in found if level == "act"]
    assert len(act) == 1 and act[0].startswith("calibration in the large rejected (p=0.0000)")
    assert "mean PD 0.10" in act[0] and "vs observed default rate 0.2" in act[0]
    watched = [text for level, text in found if level == "watch"]
    assert any(text.startswith("Spiegelhalter test rejected") for text in watched)
    assert any(text.startswith("grade 4: Jeffreys test rejected") for text in watched)
