"""The scorecard family: optimal binning (optbinning), weight of evidence, logistic regression.

The model credit validators and regulators know. ``features.binning.OptimalBinningWoE`` bins
every characteristic (numbers under a monotonic event-rate trend; categories grouped; missing
values and special codes in bins of their own) and replaces it by its bin's WoE; a logistic
regression on the WoE columns gives the log-odds of default. It is optbinning's ``Scorecard``
(``BinningProcess`` + estimator) in the project's one pipeline shape: equal to
``optbinning.Scorecard(...).predict_proba`` to 1e-9 (tested), and stored without optbinning.

**Points.** With the project's scaling (``scorecard.scaling``: ``factor = pdo / ln 2``,
``offset``) and the calibration map ``a * margin + b`` (Platt; ``a = 1, b = 0`` for none), the
attribute (bin) ``i`` of characteristic ``j`` scores
``points_ij = -factor * a * coef_j * WoE_ij + (offset - factor * (a * intercept + b)) / n``,
so a customer's points add up to the unclipped credit score (optbinning's ``pdo_odds``
scaling, plus the calibration map). **Reason codes** are the points lost per characteristic
against its best attribute (the populated bin with the most points): the explanation has
contributions ``coef_j * (WoE_j(x) - WoE_j*)`` >= 0 in log-odds, i.e. points lost / factor,
and base value the log-odds of a customer with every best attribute. The fast path is the
linear one with those best attributes as its baseline.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.linear_model import LogisticRegression

from features.binning import OptimalBinningWoE
from features.pipeline import FeatureConfig
from features.schema import DatasetSchema, FrozenModel
from models.calibration import unwrap
from models.explain.additive import Explanation, contributions_linear, split_pipeline
from models.families.base import ModelFamily, TrialLike
from models.fastpath.encoders import BinnedNumberTerm, CategoryTerm, ColumnEncoder
from models.fastpath.linear import Terms, compile_linear
from models.fastpath.parts import CompiledModel
from models.scoring.scorecard import ScoreScaling

POINTS_LOST = "scorecard points lost vs the best attribute"


class BinnedScorecardConfig(FrozenModel):
    """``models.scorecard``: bin constraints of the optimal binning and the regression's C."""

    max_n_bins: int = Field(default=5, ge=2, le=20)
    min_bin_size: float = Field(default=0.05, gt=0, le=0.5, description="share of rows")
    max_n_prebins: int = Field(default=20, ge=2, le=100)
    monotonic_trend: Literal["auto_asc_desc", "ascending", "descending", "auto", "none"] = (
        "auto_asc_desc"
    )
    special_codes: tuple[float, ...] = ()  # numeric values binned apart (e.g. -999)
    C: float = Field(default=1.0, gt=0)
    class_weight: Literal["balanced"] | None = None
    max_iter: int = Field(default=2000, ge=10)


def build_binning(
    schema: DatasetSchema, features: FeatureConfig, config: BinnedScorecardConfig
) -> OptimalBinningWoE:
    return OptimalBinningWoE(
        categorical=list(schema.categorical),
        max_n_bins=config.max_n_bins,
        min_bin_size=config.min_bin_size,
        max_n_prebins=config.max_n_prebins,
        monotonic_trend=config.monotonic_trend,
        special_codes=list(config.special_codes),
    )


def build_regression(
    config: BinnedScorecardConfig, input_columns: list[str], seed: int, n_jobs: int = 1
) -> LogisticRegression:
    """L2 logistic regression on the WoE columns (lbfgs; one solver thread)."""
    return LogisticRegression(
        C=config.C, class_weight=config.class_weight, max_iter=config.max_iter, random_state=seed
    )


def suggest_scorecard(
    trial: TrialLike, base: BinnedScorecardConfig | None = None
) -> BinnedScorecardConfig:
    """Bin constraints (count, minimum share, trend) and the regression's C and weighting.

    Fewer, larger bins generalise on small books; more bins pay off on large ones, so both
    ranges are wide. ``special_codes`` and ``max_n_prebins`` come from ``base``.
    """
    base = base or BinnedScorecardConfig()
    values = {
        "max_n_bins": trial.suggest_int("max_n_bins", 2, 10),
        "min_bin_size": trial.suggest_float("min_bin_size", 0.02, 0.2, log=True),
        "monotonic_trend": trial.suggest_categorical("monotonic_trend", ["auto_asc_desc", "auto"]),
        "C": trial.suggest_float("C", 1e-3, 100.0, log=True),
        "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
    }
    return BinnedScorecardConfig.model_validate(base.model_dump() | values)


def owns_scorecard(encoder: Any, model: Any) -> bool:
    return isinstance(encoder, OptimalBinningWoE) and isinstance(model, LogisticRegression)


def best_attributes(encoder: OptimalBinningWoE, model: LogisticRegression) -> pd.Series:
    """Per characteristic, the WoE of its populated bin with the lowest ``coef * WoE`` (the
    most points). WoE 0 (an empty bin, an unseen category) lies between the lowest and highest
    populated WoE, so no value loses negative points."""
    coef = np.asarray(model.coef_, dtype="float64").ravel()
    best = {}
    for column, weight in zip(encoder.feature_names_in_, coef, strict=True):
        woe = np.asarray(encoder.woe_[column])
        populated = np.asarray(encoder.counts_[column]) > 0
        best[str(column)] = float(woe[populated][np.argmin(weight * woe[populated])])
    return pd.Series(best, dtype="float64")


def scorecard_baseline(pipeline: Any, background: pd.DataFrame) -> pd.Series:
    """What a version carries: its best attributes (from the model; no training rows)."""
    features, model = split_pipeline(pipeline)
    return best_attributes(features.named_steps["encode"], model)


def explain_scorecard(
    encoder: OptimalBinningWoE,
    model: LogisticRegression,
    X_model: pd.DataFrame,
    baseline: pd.Series | None,
) -> Explanation:
    """Points lost per characteristic (in log-odds) against its best attribute."""
    best = best_attributes(encoder, model) if baseline is None else baseline
    return contributions_linear(model, X_model, best, POINTS_LOST)


def scorecard_terms(encoder: OptimalBinningWoE, coef: dict[str, float], inputs: list[str]) -> Terms:
    """``coef * WoE`` per numeric bin (closed on the left, as optbinning bins) with special
    and missing bins, or per category (unseen categories: ``coef *`` their WoE, 0)."""
    encoders: list[ColumnEncoder] = []
    categories: dict[str, tuple[str, ...]] = {}
    for column in inputs:
        weight = coef[column]
        terms = [weight * w for w in encoder.woe_[column]]
        *bins, special, missing = terms
        if column in encoder.groups_:
            table: dict[str | None, float] = {
                value: bins[i] for i, group in enumerate(encoder.groups_[column]) for value in group
            }
            table[None] = missing
            encoders.append(CategoryTerm(table, weight * encoder.unseen_woe_[column]))
            categories[column] = tuple(v for group in encoder.groups_[column] for v in group)
        else:
            edges = np.asarray(encoder.splits_[column], dtype="float64")
            specials = tuple(float(s) for s in encoder.special_codes)
            encoders.append(
                BinnedNumberTerm(edges, np.asarray(bins), missing, "right", specials, special)
            )
    return encoders, categories


def compile_scorecard(
    encoder: OptimalBinningWoE,
    model: LogisticRegression,
    inputs: list[str],
    baseline: pd.Series | None,
    num_threads: int,
) -> CompiledModel:
    """Bin lookups + points: the linear fast path with the best attributes as baseline."""
    best = best_attributes(encoder, model) if baseline is None else baseline
    return compile_linear(encoder, model, inputs, best, scorecard_terms, POINTS_LOST)


def points_table(model: Any, scaling: ScoreScaling) -> dict[str, pd.DataFrame]:
    """The points of every attribute (see the module docstring), one row per bin."""
    pipeline, calibration = unwrap(model)
    features, regression = split_pipeline(pipeline)
    encoder: OptimalBinningWoE = features.named_steps["encode"]
    a, b = (calibration.slope, calibration.intercept) if calibration.additive else (1.0, 0.0)
    coef = np.asarray(regression.coef_, dtype="float64").ravel()
    intercept = float(np.asarray(regression.intercept_).ravel()[0])
    factor, n = scaling.factor, len(coef)
    share = (scaling.offset - factor * (a * intercept + b)) / n
    rows = []
    for column, weight in zip(encoder.feature_names_in_, coef, strict=True):
        points = [share - factor * a * weight * w for w in encoder.woe_[column]]
        populated = np.asarray(encoder.counts_[column]) > 0
        best = max(p for p, used in zip(points, populated, strict=True) if used)
        labels = encoder.bin_labels(str(column))
        for i, label in enumerate(labels):
            if label == "Special" and not encoder.special_codes:
                continue
            rows.append(
                {
                    "characteristic": str(column),
                    "attribute": label,
                    "count": encoder.counts_[column][i],
                    "event_rate": encoder.event_rates_[column][i],
                    "woe": encoder.woe_[column][i],
                    "coefficient": float(weight),
                    "points": points[i],
                    "points_lost": best - points[i],
                }
            )
    return {"points_table": pd.DataFrame(rows)}


FAMILY = ModelFamily(
    name="scorecard",
    summary="optimal-binning WoE scorecard (optbinning) with points table, points-lost reasons",
    config_type=BinnedScorecardConfig,
    build_encoder=build_binning,
    build_estimator=build_regression,
    suggest=suggest_scorecard,
    owns=owns_scorecard,
    explain=explain_scorecard,
    baseline=scorecard_baseline,
    compile=compile_scorecard,
    tables=points_table,
    trusted_types=("features.binning.OptimalBinningWoE",),
)
