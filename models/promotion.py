"""The promotion gate: may a candidate model version become the champion?

Pure: takes measured numbers, returns one verdict per criterion. The numbers are measured by
the caller on the same held-out data for the candidate and the current champion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field

from features.schema import FrozenModel


class GateConfig(FrozenModel):
    """The ``promotion`` section of ``params.yaml``."""

    min_auc: float = Field(default=0.70, ge=0, le=1)
    min_ks: float = Field(default=0.30, ge=0, le=1)
    max_auc_drop: float = Field(
        default=0.01, ge=0, description="allowed AUC loss against the champion, same test data"
    )
    max_calibration_error: float = Field(default=0.10, gt=0, le=1)
    max_score_psi: float = Field(
        default=0.10, gt=0, description="score PSI between training and test data"
    )


@dataclass(frozen=True)
class Measurements:
    """What the gate reads about one model version, measured on the held-out test data."""

    roc_auc: float
    ks: float
    calibration_error: float
    score_psi: float


@dataclass(frozen=True)
class Criterion:
    name: str
    value: float
    threshold: float
    rule: str  # ">=" or "<="
    passed: bool
    champion_value: float | None = None

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"{self.name} {verdict}: {self.value:.4f} (required {self.rule} {self.threshold:.4f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(
    name: str, value: float, rule: str, threshold: float, champion: float | None = None
) -> Criterion:
    passed = value >= threshold if rule == ">=" else value <= threshold
    return Criterion(name, value, threshold, rule, passed, champion)


def evaluate_gate(
    candidate: Measurements, champion: Measurements | None, config: GateConfig
) -> list[Criterion]:
    """One criterion per rule, each with the champion's value beside it when there is one;
    the comparison with the champion only applies when there is a champion."""

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
            config.max_score_psi,
            theirs("score_psi"),
        ),
    ]
    if champion is not None:
        floor = champion.roc_auc - config.max_auc_drop
        criteria.append(
            check("roc_auc vs champion", candidate.roc_auc, ">=", floor, champion.roc_auc)
        )
    return criteria
