"""The validation report's content: JSON-ready numbers and figures, from a loaded model version.

No files and no MLflow here (``experiments.reports.validation`` loads the version and the
splits, adds the champion and the gate, and writes the outputs). The sections that need held-out
data -- calibration, KS, gains, score distribution, explanations, reason codes -- use the test
split. Every number the HTML shows comes from ``ReportContent.numbers``, which is also the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.schema import DatasetSchema
from models.contract.pyfunc import CreditRiskModel
from models.evaluation.calibration_tests import calibration_summary
from models.evaluation.metrics import (
    calibration_table,
    compute_metrics,
    expected_calibration_error,
    roc_points,
)
from models.evaluation.plots import plot_calibration
from models.evaluation.report_plots import (
    plot_gains,
    plot_ks,
    plot_roc_by_split,
    plot_score_distribution,
)
from models.evaluation.tables import (
    default_rate_increases,
    gains_table,
    ks_curve,
    ks_point,
    score_distribution,
)
from models.monitoring.drift import MonitoringConfig
from models.monitoring.stability import band, feature_psi, score_psi
from models.scoring.scorecard import TIERS, tier_table

SPLITS = ("train", "valid", "test")
HELD_OUT = "test"
COMPARED_METRICS = ("roc_auc", "gini", "ks", "brier", "log_loss", "pr_auc")


@dataclass(frozen=True)
class ScoredSplit:
    """One split's raw features, outcomes (1 = default) and the model's pd / score / tier."""

    X: pd.DataFrame
    y: np.ndarray
    scored: pd.DataFrame


@dataclass
class ReportContent:
    """``numbers``: JSON-ready sections; ``figures``: name -> matplotlib figure."""

    numbers: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain-Python dictionaries (numpy scalars converted, NaN as ``None``)."""
    result: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", double_precision=15))
    return result


def score_splits(
    model: CreditRiskModel, schema: DatasetSchema, splits: Mapping[str, pd.DataFrame]
) -> dict[str, ScoredSplit]:
    """pd, score and tier of every row of every split, through the version's own contract."""
    scored = {}
    for name, frame in splits.items():
        X = frame[schema.features]
        y = frame[schema.target].to_numpy(dtype="int64")
        scored[name] = ScoredSplit(X, y, model.score(X, 0).drop(columns="reasons"))
    return scored


def metrics_section(scored: Mapping[str, ScoredSplit]) -> dict[str, dict[str, float]]:
    """AUC, Gini, KS, Brier, log loss (+ PR AUC, default rate, mean PD, rows) per split."""
    return {name: compute_metrics(s.y, s.scored["pd"].to_numpy()) for name, s in scored.items()}


def discrimination_sections(scored: Mapping[str, ScoredSplit], content: ReportContent) -> None:
    """ROC (all splits), KS, gains/lift and score distribution by outcome (test split)."""
    test = scored[HELD_OUT]
    pd_, score = test.scored["pd"].to_numpy(), test.scored["score"].to_numpy()
    rocs = {name: roc_points(s.y, s.scored["pd"].to_numpy()) for name, s in scored.items()}
    aucs = {name: content.numbers["metrics"][name]["roc_auc"] for name in scored}
    curve = ks_curve(test.y, pd_)
    point = ks_point(curve)
    gains = gains_table(test.y, pd_, score)
    distribution = score_distribution(test.y, score)
    content.numbers |= {
        "ks": point | {"split": HELD_OUT},
        "gains": {"split": HELD_OUT, "table": records(gains)},
        "score_distribution": {"split": HELD_OUT, "table": records(distribution)},
    }
    content.figures |= {
        "roc": plot_roc_by_split(rocs, aucs),
        "ks": plot_ks(curve, point, f"KS on {HELD_OUT}"),
        "gains": plot_gains(gains, f"Cumulative gains on {HELD_OUT}"),
        "score_distribution": plot_score_distribution(
            distribution, f"Score distribution by outcome ({HELD_OUT})"
        ),
    }


def calibration_section(
    scored: Mapping[str, ScoredSplit], content: ReportContent, alpha: float
) -> None:
    """Predicted vs observed default rate by PD decile on the test split, the ECE, and the
    validator's calibration tests (``models.evaluation.calibration_tests``) overall, per grade,
    per tier."""
    test = scored[HELD_OUT]
    pd_ = test.scored["pd"].to_numpy()
    table = calibration_table(test.y, pd_)
    groups: dict[str, tuple[Any, Any]] = {"tier": (test.scored["tier"].to_numpy(), TIERS)}
    if "grade" in test.scored:
        grades = test.scored["grade"].to_numpy()
        groups["grade"] = (grades, sorted(set(grades.tolist())))
    content.numbers["calibration"] = {
        "split": HELD_OUT,
        "expected_calibration_error": expected_calibration_error(table),
        "table": records(table),
        "tests": calibration_summary(test.y, pd_, groups, alpha),
    }
    content.figures["calibration"] = plot_calibration(table, f"Calibration by decile ({HELD_OUT})")


def tier_section(scored: Mapping[str, ScoredSplit]) -> dict[str, Any]:
    """Share of customers and observed default rate per tier, per split, and whether the rate
    rises from low to high (it must, or the tiers do not rank risk)."""
    tables = {name: tier_table(s.scored["tier"].to_numpy(), s.y) for name, s in scored.items()}
    return {
        "tables": {name: records(table) for name, table in tables.items()},
        "default_rate_increases": {
            name: default_rate_increases(table) for name, table in tables.items()
        },
    }


def stability_section(
    schema: DatasetSchema,
    scored: Mapping[str, ScoredSplit],
    bands: MonitoringConfig,
    reference: str = "train",
) -> dict[str, Any]:
    """PSI of every feature and of the score, ``reference`` (train) vs the test split, read
    with the PSI bands of ``monitoring`` in params.yaml."""
    expected, actual = scored[reference], scored[HELD_OUT]
    watch, act = bands.psi_watch, bands.psi_act
    features = feature_psi(
        expected.X, actual.X, schema.numeric, schema.categorical, watch=watch, act=act
    )
    score = score_psi(expected.scored, actual.scored)
    return {
        "expected": reference,
        "actual": HELD_OUT,
        "bands": {"watch_from": watch, "act_above": act},
        "score_psi": score,
        "score_band": band(score, watch, act),
        "features": records(features),
    }


def comparison_section(
    candidate: Mapping[str, Mapping[str, float]],
    champion: Mapping[str, Mapping[str, float]],
    split: str = HELD_OUT,
) -> list[dict[str, Any]]:
    """Side-by-side metrics of candidate and champion on the same split, with the difference."""
    return [
        {
            "metric": name,
            "candidate": candidate[split][name],
            "champion": champion[split][name],
            "difference": candidate[split][name] - champion[split][name],
        }
        for name in COMPARED_METRICS
    ]


def build_performance(
    model: CreditRiskModel,
    schema: DatasetSchema,
    splits: Mapping[str, pd.DataFrame],
    alpha: float = 0.05,
    bands: MonitoringConfig | None = None,
) -> tuple[ReportContent, dict[str, ScoredSplit]]:
    """Metrics, discrimination, calibration, tiers and stability sections of one version."""
    scored = score_splits(model, schema, {name: splits[name] for name in SPLITS})
    content = ReportContent({"metrics": metrics_section(scored)})
    discrimination_sections(scored, content)
    calibration_section(scored, content, alpha)
    content.numbers["tiers"] = tier_section(scored)
    content.numbers["stability"] = stability_section(schema, scored, bands or MonitoringConfig())
    return content, scored
