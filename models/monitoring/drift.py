"""Portfolio monitoring: has the population, the data or the model's performance moved?

Compares a reference sample (training data or an earlier scoring run) with a current one:
PSI of the score and of every feature (characteristic stability), tier distribution shift,
missing-value and out-of-range rates and -- when outcomes are known -- realised default rate
per tier and AUC / KS decay against the version's test AUC (measured when it was trained).
Outcomes are read as the raw file holds them (``data.positive_label`` / ``negative_label``)
or already encoded as 1 / 0 (the processed splits). Pure: the caller scores the samples and
writes the report. Bands follow the usual PSI reading (see
models.monitoring.stability).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from features.schema import DatasetSchema, FrozenModel
from models.evaluation.calibration_tests import calibration_summary
from models.evaluation.metrics import compute_metrics
from models.monitoring.early_warning import AlertConfig
from models.monitoring.stability import band, categorical_psi, feature_psi, score_psi
from models.scoring.scorecard import TIERS

Status = Literal["stable", "watch", "act"]
SEVERITY = {"stable": 0, "watch": 1, "act": 2}


class MonitoringConfig(FrozenModel):
    """Thresholds (``monitoring`` in params.yaml). Crossing an ``act`` one exits non-zero."""

    psi_watch: float = Field(default=0.10, gt=0)
    psi_act: float = Field(default=0.25, gt=0)
    missing_rate_increase_act: float = Field(default=0.05, gt=0, le=1)
    out_of_range_rate_act: float = Field(default=0.05, gt=0, le=1)
    auc_drop_watch: float = Field(default=0.03, gt=0, le=1)
    auc_drop_act: float = Field(default=0.05, gt=0, le=1)
    alerts: AlertConfig = AlertConfig()


@dataclass
class MonitoringResult:
    score_psi: float
    features: pd.DataFrame  # feature, kind, psi, band
    tiers: pd.DataFrame  # tier, reference_share, current_share
    tier_psi: float
    data_quality: pd.DataFrame  # feature, missing_reference, missing_current, out_of_range
    outcomes: dict[str, Any] | None
    findings: list[tuple[Status, str]] = field(default_factory=list)

    @property
    def status(self) -> Status:
        """The worst band among the findings."""
        levels: list[Status] = [level for level, _ in self.findings]
        return max(levels, key=SEVERITY.__getitem__, default="stable")


def tier_shift(reference_tiers: pd.Series, current_tiers: pd.Series) -> tuple[pd.DataFrame, float]:
    shares = (
        pd.DataFrame(
            {
                "reference_share": reference_tiers.value_counts(normalize=True),
                "current_share": current_tiers.value_counts(normalize=True),
            }
        )
        .reindex(list(TIERS))
        .fillna(0.0)
    )
    return shares.rename_axis("tier").reset_index(), categorical_psi(reference_tiers, current_tiers)


def data_quality(
    reference: pd.DataFrame, current: pd.DataFrame, schema: DatasetSchema
) -> pd.DataFrame:
    """Missing share per feature in both samples; share of current values outside the
    reference's range (numeric) or never seen in it (categorical)."""
    rows = []
    for column in schema.features:
        ref, cur = reference[column], current[column]
        if column in schema.numeric:
            values = pd.to_numeric(cur, errors="coerce")
            outside = (values < ref.min()) | (values > ref.max())
        else:
            outside = cur.notna() & ~cur.astype(str).isin(set(ref.dropna().astype(str)))
        rows.append(
            (column, float(ref.isna().mean()), float(cur.isna().mean()), float(outside.mean()))
        )
    return pd.DataFrame(
        rows, columns=["feature", "missing_reference", "missing_current", "out_of_range"]
    )


class OutcomeLabelError(ValueError):
    """The outcome column holds labels that are neither the configured ones nor 1 / 0."""


def encode_outcomes(values: pd.Series, schema: DatasetSchema) -> pd.Series:
    """1 (default) / 0 per row, ``<NA>`` where the outcome is not known yet.

    A raw file holds ``schema.positive_label`` / ``negative_label`` (German Credit: ``bad`` /
    ``good``); the processed splits hold 1 / 0. The configured labels are tried first, so a
    dataset whose labels are 1 and 0 reads the same either way.
    """
    known = values.dropna()
    text = known.astype(str)
    positive, negative = str(schema.positive_label), str(schema.negative_label)
    if text.isin([positive, negative]).all():
        encoded = (text == positive).astype("int64")
    else:
        numbers = pd.to_numeric(known, errors="coerce")
        if not numbers.isin([0, 1]).all():
            labels = sorted(text.unique().tolist())[:10]
            raise OutcomeLabelError(
                f"outcome column {schema.target!r} holds {labels}; expected {positive!r} "
                f"(default) and {negative!r} (no default), as data.positive_label and "
                "data.negative_label say, or 1 and 0"
            )
        encoded = numbers.astype("int64")
    return encoded.reindex(values.index).astype("Int64")


def outcome_section(
    y: np.ndarray, scores: pd.DataFrame, version_test_auc: float | None, alpha: float = 0.05
) -> dict[str, Any]:
    """Discrimination and calibration on outcomes (``y``: 1 = default): AUC/KS, compared with
    the version's test AUC; default rate per tier and the validator's calibration tests
    (``models.evaluation.calibration_tests``) overall, per tier and grade."""
    pd_, tiers = scores["pd"].to_numpy(), scores["tier"].to_numpy()
    metrics = compute_metrics(y, pd_)
    frame = pd.DataFrame({"tier": tiers, "y": y})
    by_tier = frame.groupby("tier")["y"].mean().reindex(list(TIERS))
    groups: dict[str, tuple[Any, Any]] = {"tier": (tiers, TIERS)}
    if "grade" in scores:
        grades = scores["grade"].to_numpy()
        groups["grade"] = (grades, sorted(set(grades.tolist())))
    return {
        "n_with_outcome": len(y),
        "roc_auc": metrics["roc_auc"],
        "ks": metrics["ks"],
        "version_test_roc_auc": version_test_auc,
        "auc_drop": None if version_test_auc is None else version_test_auc - metrics["roc_auc"],
        "default_rate_by_tier": {t: (None if pd.isna(v) else float(v)) for t, v in by_tier.items()},
        "calibration": calibration_summary(y, pd_, groups, alpha),
    }


def calibration_findings(calibration: dict[str, Any]) -> list[tuple[Status, str]]:
    """Calibration in the large rejected: act; Spiegelhalter or a grade's Jeffreys test: watch."""
    found: list[tuple[Status, str]] = []
    citl, spiegel = calibration["calibration_in_the_large"], calibration["spiegelhalter"]
    if citl["rejected"]:
        found.append(("act", (
            f"calibration in the large rejected (p={citl['p_value']:.4f}): mean PD "
            f"{citl['mean_pd']:.4f} vs observed default rate {citl['observed_default_rate']:.4f}"
        )))  # fmt: skip
    if spiegel["rejected"]:
        found.append(("watch", (
            f"Spiegelhalter test rejected (p={spiegel['p_value']:.4f}): Brier "
            f"{spiegel['brier']:.4f} vs {spiegel['expected_brier']:.4f} expected"
        )))  # fmt: skip
    for name, rows in calibration["groups"].items():
        for row in rows:
            if row["jeffreys_rejected"]:
                found.append(("watch", (
                    f"{name} {row['group']}: Jeffreys test rejected (p={row['jeffreys_p']:.4f}): "
                    f"observed {row['observed_default_rate']:.4f} vs PD {row['mean_pd']:.4f}"
                )))  # fmt: skip
    return found


def quality_findings(table: pd.DataFrame, config: MonitoringConfig) -> list[tuple[Status, str]]:
    found: list[tuple[Status, str]] = []
    for row in table.to_dict("records"):
        name = f"feature {row['feature']!r}"
        before, now = float(row["missing_reference"]), float(row["missing_current"])
        if now - before > config.missing_rate_increase_act:
            found.append(("act", f"{name}: missing rate {now:.1%} (reference {before:.1%})"))
        outside = float(row["out_of_range"])
        if outside > config.out_of_range_rate_act:
            found.append(("act", f"{name}: {outside:.1%} of values outside reference"))
    return found


def findings_for(result: MonitoringResult, config: MonitoringConfig) -> list[tuple[Status, str]]:
    """Every watch / act finding, plus the score's PSI band (always reported)."""
    level = band(result.score_psi, config.psi_watch, config.psi_act)
    found: list[tuple[Status, str]] = [(level, f"score PSI {result.score_psi:.3f} ({level})")]
    for feature, psi in zip(result.features["feature"], result.features["psi"], strict=True):
        level = band(float(psi), config.psi_watch, config.psi_act)
        if level != "stable":
            found.append((level, f"feature {feature!r} PSI {psi:.3f} ({level})"))
    found += quality_findings(result.data_quality, config)
    outcomes = result.outcomes or {}
    if outcomes.get("auc_drop") is not None:
        level = band(outcomes["auc_drop"], config.auc_drop_watch, config.auc_drop_act)
        auc, reference = outcomes["roc_auc"], outcomes["version_test_roc_auc"]
        found.append((level, f"AUC {auc:.3f} vs the version's test AUC {reference:.3f} ({level})"))
    if outcomes.get("calibration"):
        found += calibration_findings(outcomes["calibration"])
    return found


def monitor(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: DatasetSchema,
    scores: tuple[pd.DataFrame, pd.DataFrame],
    config: MonitoringConfig,
    version_test_auc: float | None = None,
) -> MonitoringResult:
    """``scores``: (reference, current) frames of ``pd``, ``score``, ``tier`` row-aligned with
    the samples. Outcomes are used when ``current`` has the target column with both outcomes
    among the rows whose outcome is known (``encode_outcomes``; others are left out of them).
    Raises ``OutcomeLabelError`` for labels that are neither the configured ones nor 1 / 0."""
    ref_scores, cur_scores = scores
    tiers, tier_psi = tier_shift(ref_scores["tier"], cur_scores["tier"])
    outcomes = None
    if schema.target in current.columns:
        y = encode_outcomes(current[schema.target], schema)
        known = y.notna().to_numpy()
        if y[known].nunique() == 2:
            matured = cur_scores.reset_index(drop=True)[known]
            outcomes = outcome_section(y[known].to_numpy(dtype="int64"), matured, version_test_auc)
    result = MonitoringResult(
        score_psi=score_psi(ref_scores, cur_scores),
        features=feature_psi(
            reference,
            current,
            schema.numeric,
            schema.categorical,
            watch=config.psi_watch,
            act=config.psi_act,
        ),
        tiers=tiers,
        tier_psi=tier_psi,
        data_quality=data_quality(reference, current, schema),
        outcomes=outcomes,
    )
    result.findings = findings_for(result, config)
    return result
