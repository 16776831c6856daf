"""The validation report's first section: the verdict, headline numbers and what to look at.

Pure: reads the other sections of the report's JSON. The warnings are facts with a number,
never a decision; the decision is the promotion gate's (``riskgrade promote``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experiments.reports.fairness import fairness_warnings

OVERFIT_AUC_GAP = 0.05  # train AUC above test AUC by more than this: worth a look


def gate_warnings(gate: Mapping[str, Any]) -> list[str]:
    return [
        f"promotion gate: {c['name']} fails ({c['value']:.4f}, required {c['rule']} "
        f"{c['threshold']:.4f})"
        for c in gate["criteria"]
        if not c["passed"]
    ]


def data_warnings(numbers: Mapping[str, Any]) -> list[str]:
    """The version was trained on other data than the data summary describes."""
    trained_on = numbers["model"]["lineage"].get("data_md5", "unknown")
    summarised = numbers["data"].get("data_md5")
    if trained_on not in ("unknown", None) and summarised and trained_on != summarised:
        return [
            f"data: the version was trained on data md5 {trained_on}, but the data summary "
            f"describes md5 {summarised}"
        ]
    return []


def model_warnings(numbers: Mapping[str, Any]) -> list[str]:
    """Overfitting, tiers that do not rank risk, unstable score or features."""
    warnings = []
    metrics = numbers["metrics"]
    gap = metrics["train"]["roc_auc"] - metrics["test"]["roc_auc"]
    if gap > OVERFIT_AUC_GAP:
        warnings.append(
            f"overfitting: train ROC AUC exceeds test ROC AUC by {gap:.4f} (> {OVERFIT_AUC_GAP})"
        )
    for split, increases in numbers["tiers"]["default_rate_increases"].items():
        if not increases:
            warnings.append(
                f"tiers: observed default rate does not rise low < medium < high on {split}"
            )
    stability = numbers["stability"]
    if stability["score_band"] != "stable":
        warnings.append(
            f"stability: score PSI {stability['score_psi']:.4f} ({stability['score_band']})"
        )
    for row in stability["features"]:
        if row["band"] == "act":
            warnings.append(f"stability: feature {row['feature']} PSI {row['psi']:.4f} (act)")
    return warnings + calibration_warnings(numbers["calibration"].get("tests"))


def calibration_warnings(tests: Mapping[str, Any] | None) -> list[str]:
    """Every calibration test that rejects on the test split, with its numbers."""
    if not tests:
        return []
    warnings = []
    citl = tests["calibration_in_the_large"]
    if citl["rejected"]:
        warnings.append(
            f"calibration: calibration in the large rejected (p={citl['p_value']:.4f}): mean PD "
            f"{citl['mean_pd']:.4f} vs observed default rate {citl['observed_default_rate']:.4f}"
        )
    for name in ("hosmer_lemeshow", "spiegelhalter"):
        if tests[name]["rejected"]:
            label = name.replace("_", "-").title()
            warnings.append(f"calibration: {label} test rejected (p={tests[name]['p_value']:.4f})")
    for group, rows in tests["groups"].items():
        for row in rows:
            if row["jeffreys_rejected"]:
                warnings.append(
                    f"calibration: {group} {row['group']} fails the Jeffreys test "
                    f"(p={row['jeffreys_p']:.4f}): observed {row['observed_default_rate']:.4f} "
                    f"vs PD {row['mean_pd']:.4f}"
                )
    return warnings


def summary_section(numbers: Mapping[str, Any]) -> dict[str, Any]:
    """Verdict and headline test numbers, and the list of warnings a validator should read."""
    test = numbers["metrics"]["test"]
    champion = numbers["champion"]
    return {
        "gate_passed": numbers["gate"]["passed"],
        "test_roc_auc": test["roc_auc"],
        "test_gini": test["gini"],
        "test_ks": test["ks"],
        "test_calibration_error": numbers["calibration"]["expected_calibration_error"],
        "tiers_increase_on_test": numbers["tiers"]["default_rate_increases"]["test"],
        "score_psi": numbers["stability"]["score_psi"],
        "score_band": numbers["stability"]["score_band"],
        "champion_status": champion["status"],
        "champion_version": champion["version"],
        "warnings": gate_warnings(numbers["gate"])
        + data_warnings(numbers)
        + model_warnings(numbers)
        + fairness_warnings(numbers.get("fairness", {})),
    }
