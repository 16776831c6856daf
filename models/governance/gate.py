"""The promotion gate: may a candidate model version become the champion?

Pure: takes measured numbers, returns one verdict per criterion. The numbers are measured by
the caller on the same held-out data for the candidate and the current champion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pydantic import Field
from scipy.stats import chi2

from features.schema import FrozenModel
from models.evaluation.calibration_tests import calibration_in_the_large, grade_tests, spiegelhalter
from models.evaluation.fairness import FairnessConfig, FairnessReview


class GateConfig(FrozenModel):
    """The ``promotion`` section of ``params.yaml``."""

    min_auc: float = Field(default=0.70, ge=0, le=1)
    min_ks: float = Field(default=0.30, ge=0, le=1)
    max_auc_drop: float = Field(
        default=0.01, ge=0, description="allowed AUC loss against the champion, same test data"
    )
    max_calibration_error: float = Field(default=0.10, gt=0, le=1)
    max_score_psi: float = Field(
        default=0.10, gt=0, description="score PSI between validation and test data"
    )
    calibration_alpha: float = Field(
        default=0.05, gt=0, lt=0.5, description="significance level of the calibration tests"
    )
    require_calibration_in_the_large: bool = True
    require_spiegelhalter: bool = True
    max_grades_failing_jeffreys: int | None = Field(
        default=2, ge=0, description="grades whose Jeffreys test may reject; null: not checked"
    )


@dataclass(frozen=True)
class Measurements:
    """What the gate reads about one model version, measured on the held-out test data."""

    roc_auc: float
    ks: float
    calibration_error: float
    score_psi: float
    score_psi_noise: float = 0.0  # PSI reached by sampling noise alone (psi_noise_bound)
    # Calibration tests (models.evaluation.calibration_tests) at the gate's alpha; the details
    # name the numbers.
    citl_p: float = 1.0
    citl_detail: str = ""
    spiegelhalter_p: float = 1.0
    spiegelhalter_detail: str = ""
    jeffreys_failures: int = 0
    jeffreys_detail: str = ""  # the failing grades, each with observed rate, PD and p-value
    # Fairness review (models.evaluation.fairness) over the groups of the protected attributes
    # that are not small; None when the data declares none (data.protected).
    adverse_impact_ratio: float | None = None  # lowest, of the low tier's share
    adverse_impact_detail: str = ""
    fairness_calibration_gap: float | None = None  # largest |mean PD - observed default rate|
    fairness_calibration_detail: str = ""


@dataclass(frozen=True)
class Criterion:
    name: str
    value: float
    threshold: float
    rule: str  # ">=" or "<="
    passed: bool
    champion_value: float | None = None
    detail: str = ""  # the numbers behind the value, e.g. a test's observed vs predicted rate

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        text = (
            f"{self.name} {verdict}: {self.value:.4f} (required {self.rule} {self.threshold:.4f})"
        )
        return f"{text}; {self.detail}" if self.detail else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(
    name: str,
    value: float,
    rule: str,
    threshold: float,
    champion: float | None = None,
    detail: str = "",
) -> Criterion:
    passed = value >= threshold if rule == ">=" else value <= threshold
    return Criterion(name, value, threshold, rule, passed, champion, detail)


def calibration_criteria(
    candidate: Measurements, champion: Measurements | None, config: GateConfig
) -> list[Criterion]:
    """The validator's calibration tests as gate criteria (each optional in ``config``)."""

    def theirs(value: str) -> float | None:
        return None if champion is None else float(getattr(champion, value))

    alpha, criteria = config.calibration_alpha, []
    if config.require_calibration_in_the_large:
        criteria.append(
            check("calibration in the large (p-value)", candidate.citl_p, ">=", alpha,
                  theirs("citl_p"), candidate.citl_detail)
        )  # fmt: skip
    if config.require_spiegelhalter:
        criteria.append(
            check("spiegelhalter test (p-value)", candidate.spiegelhalter_p, ">=", alpha,
                  theirs("spiegelhalter_p"), candidate.spiegelhalter_detail)
        )  # fmt: skip
    if config.max_grades_failing_jeffreys is not None:
        criteria.append(
            check("grades failing the jeffreys test", candidate.jeffreys_failures, "<=",
                  config.max_grades_failing_jeffreys, theirs("jeffreys_failures"),
                  candidate.jeffreys_detail)
        )  # fmt: skip
    return criteria


def fairness_criteria(
    candidate: Measurements, champion: Measurements | None, config: FairnessConfig
) -> list[Criterion]:
    """The fairness thresholds that are set (``fairness`` in params.yaml) as gate criteria."""
    rules = (  # name, measured field, its detail, rule, threshold, key in params.yaml
        ("adverse impact ratio of the low tier", "adverse_impact_ratio", "adverse_impact_detail",
         ">=", config.min_adverse_impact_ratio, "min_adverse_impact_ratio"),
        ("calibration gap by protected group", "fairness_calibration_gap",
         "fairness_calibration_detail", "<=", config.max_calibration_gap, "max_calibration_gap"),
    )  # fmt: skip
    criteria = []
    for name, field, detail, rule, threshold, key in rules:
        if threshold is None:
            continue
        value = getattr(candidate, field)
        if value is None:
            raise ValueError(
                f"fairness.{key} is set but the version was measured without protected "
                "attributes: declare them in data.protected"
            )
        theirs = None if champion is None else getattr(champion, field)
        criteria.append(check(name, value, rule, threshold, theirs, getattr(candidate, detail)))
    return criteria


def fairness_measurements(review: FairnessReview) -> dict[str, Any]:
    """The fairness fields of ``Measurements`` from a review of the held-out data."""
    air, gap = review.lowest_adverse_impact_ratio(), review.largest_calibration_gap()
    fields: dict[str, Any] = {}
    if air is not None:
        fields |= {"adverse_impact_ratio": air.value, "adverse_impact_detail": air.detail}
    if gap is not None:
        fields |= {"fairness_calibration_gap": gap.value, "fairness_calibration_detail": gap.detail}
    return fields


def evaluate_gate(
    candidate: Measurements,
    champion: Measurements | None,
    config: GateConfig,
    fairness: FairnessConfig | None = None,
) -> list[Criterion]:
    """One criterion per rule, each with the champion's value beside it when there is one;
    the comparison with the champion only applies when there is a champion. The fairness
    thresholds apply when ``fairness`` sets them (off by default)."""

    def theirs(value: str) -> float | None:
        return None if champion is None else float(getattr(champion, value))

    criteria = [
        check("roc_auc floor", candidate.roc_auc, ">=", config.min_auc, theirs("roc_auc")),
        check("ks floor", candidate.ks, ">=", config.min_ks, theirs("ks")),
        check(
            "calibration error",
            candidate.calibration_error,
            "<=",
            config.max_calibration_error,
            theirs("calibration_error"),
        ),
        check(
            "score psi train vs test",
            candidate.score_psi,
            "<=",
            max(config.max_score_psi, candidate.score_psi_noise),
            theirs("score_psi"),
            "bound: max_score_psi or the PSI that sampling noise reaches at these sample sizes "
            f"({candidate.score_psi_noise:.4f})",
        ),
    ]
    criteria += calibration_criteria(candidate, champion, config)
    criteria += fairness_criteria(candidate, champion, fairness or FairnessConfig())
    if champion is not None:
        floor = champion.roc_auc - config.max_auc_drop
        criteria.append(
            check("roc_auc vs champion", candidate.roc_auc, ">=", floor, champion.roc_auc)
        )
    return criteria


def calibration_measurements(
    y: np.ndarray, pd_: np.ndarray, grades: np.ndarray | None, alpha: float
) -> dict[str, Any]:
    """The calibration fields of ``Measurements`` for held-out outcomes ``y`` and PDs."""
    citl = calibration_in_the_large(y, pd_, alpha)
    spiegel = spiegelhalter(y, pd_, alpha)
    fields: dict[str, Any] = {
        "citl_p": citl.p_value,
        "citl_detail": (
            f"mean PD {citl.mean_pd:.4f} vs observed default rate "
            f"{citl.observed_default_rate:.4f} ({1 - alpha:.0%} interval "
            f"{citl.ci_lower:.4f}-{citl.ci_upper:.4f}, n={citl.n})"
        ),
        "spiegelhalter_p": 1.0 if spiegel.p_value is None else spiegel.p_value,
        "spiegelhalter_detail": (
            f"Brier {spiegel.brier:.4f} vs {spiegel.expected_brier:.4f} expected if calibrated"
            + ("" if spiegel.z is None else f" (z={spiegel.z:.2f})")
        ),
    }
    if grades is None:
        return fields
    table = grade_tests(y, pd_, grades, alpha)
    failing = table[table["jeffreys_rejected"]]
    fields["jeffreys_failures"] = len(failing)
    fields["jeffreys_detail"] = "; ".join(
        f"grade {r.group}: observed {r.observed_default_rate:.4f} vs PD {r.mean_pd:.4f} "
        f"(p={r.jeffreys_p:.4f}, n={r.n})"
        for r in failing.itertuples()
    )
    return fields


def psi_noise_bound(n_reference: int, n_current: int, alpha: float, bins: int = 10) -> float:
    """The PSI that sampling noise alone exceeds with probability ``alpha``.

    For two samples of one population, ``PSI / (1/n + 1/m)`` is approximately chi-square with
    ``bins - 1`` degrees of freedom (Yurdakul, 2018, "Statistical properties of the population
    stability index", Western Michigan University). With 600 training and 200 test rows that
    is 0.113 at 5%: a fixed 0.10 bound would then flag noise, not drift.
    """
    return float(chi2.ppf(1 - alpha, bins - 1) * (1 / n_reference + 1 / n_current))
