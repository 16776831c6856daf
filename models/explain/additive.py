"""Additive explanations in log-odds of default: the value type and its building blocks.

For each row ``base_value + contributions.sum(axis=1) == margin`` and ``sigmoid(margin)`` is
the PD. The model families (``models.families``) build their explanations from these pieces;
``models.explain.explanation`` dispatches to the family and maps encoded columns back to raw
ones (``models.explain.columns``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from models.calibration import CalibrationMap, unwrap

ADDITIVITY_TOLERANCE = 1e-6  # log-odds


@dataclass(frozen=True, eq=False)
class Explanation:
    """Per-row additive explanation, all in log-odds of default.

    ``contributions`` has one row per explained row (same index) and one column per feature
    column (raw columns from ``explain``, encoded model inputs from ``explain_model_inputs``).
    ``margin`` is the model's raw output per row. ``method`` names the explainer used.
    Frozen means the fields cannot be reassigned; do not mutate the frame in place either.
    """

    base_value: float
    contributions: pd.DataFrame
    margin: np.ndarray
    method: str = ""


def split_pipeline(pipeline: Pipeline) -> tuple[Pipeline, Any]:
    """The fitted ``features`` sub-pipeline and estimator of a ``build_model_pipeline`` object."""
    pipeline, _ = unwrap(pipeline)
    steps: dict[str, Any] = dict(getattr(pipeline, "named_steps", {}))
    features = steps.get("features")
    if list(steps) != ["features", "model"] or "ratios" not in getattr(features, "named_steps", {}):
        raise TypeError(
            "explain: expected the Pipeline from models.factory.build_model_pipeline "
            f"(steps 'features' [ratios, encode] -> 'model'), got steps {list(steps)}"
        )
    model = steps["model"]
    check_is_fitted(model)
    if len(getattr(model, "classes_", ())) != 2:
        raise ValueError("explain: only binary classifiers (default / no default) are supported")
    return features, model


def contributions_linear(
    model: Any, X_model: pd.DataFrame, baseline: pd.Series, method: str
) -> Explanation:
    """``coef * (x - baseline)`` per encoded column, base value ``intercept + coef . baseline``.

    With the mean training row as ``baseline`` this is interventional linear SHAP (encoded
    features taken as independent, as in ``shap.LinearExplainer``'s default); with a
    scorecard's best attributes it is the log-odds of points lost. Units: log-odds.
    """
    coef = np.asarray(model.coef_, dtype="float64").ravel()
    reference = baseline.reindex(X_model.columns).to_numpy(dtype="float64")
    values = (X_model.to_numpy(dtype="float64") - reference) * coef
    base_value = float(np.asarray(model.intercept_).ravel()[0] + coef @ reference)
    contributions = pd.DataFrame(values, index=X_model.index, columns=X_model.columns)
    margin = np.asarray(model.decision_function(X_model), dtype="float64")
    return Explanation(base_value, contributions, margin, method)


def calibrated(explanation: Explanation, calibration: CalibrationMap) -> Explanation:
    """The explanation in calibrated log-odds: with Platt's ``a * margin + b`` every
    contribution scales by ``a`` and the base value becomes ``a * base + b``, so additivity
    holds exactly. Isotonic calibration is not affine: the explanation stays in the model's
    own log-odds (it still ranks the factors) and its method says so."""
    if calibration.method == "none":
        return explanation
    method = calibrated_method(explanation.method, calibration)
    if not calibration.additive:
        return Explanation(
            explanation.base_value, explanation.contributions, explanation.margin, method
        )
    a, b = calibration.slope, calibration.intercept
    return Explanation(
        a * explanation.base_value + b,
        explanation.contributions * a,
        a * explanation.margin + b,
        method,
    )


def calibrated_method(method: str, calibration: CalibrationMap) -> str:
    """An explanation method's name, saying how the calibration map applies to it."""
    if calibration.method == "none":
        return method
    if not calibration.additive:
        return f"{method}; log-odds before isotonic calibration"
    return f"{method}, Platt-calibrated (x {calibration.slope:.4g})"


def check_additivity(explanation: Explanation, tolerance: float = ADDITIVITY_TOLERANCE) -> None:
    """Fail loudly if base value + contributions differ from the margin by > ``tolerance``."""
    total = explanation.base_value + explanation.contributions.to_numpy().sum(axis=1)
    gap = float(np.max(np.abs(total - explanation.margin)))
    if gap > tolerance:
        raise RuntimeError(
            f"explain: contributions do not add up to the model margin (max gap {gap:.3g} "
            f"log-odds > {tolerance:g}); the explainer does not match this model"
        )


def encoded_background_mean(pipeline: Pipeline, background: pd.DataFrame) -> pd.Series:
    """Mean of each encoded model input over raw background (training) rows.

    This aggregate is all a linear explanation needs of the background, so a model can carry
    it instead of customers' records.
    """
    features, _ = split_pipeline(pipeline)
    if len(background) == 0:
        raise ValueError("explain: background has no rows; pass raw training rows")
    encoded = features.transform(background)
    return pd.Series(encoded.to_numpy(dtype="float64").mean(axis=0), index=encoded.columns)
