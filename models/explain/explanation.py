"""Explanations of a fitted model pipeline, in terms of the ORIGINAL input columns.

Everything is in log-odds of default: for each row
``base_value + contributions.sum(axis=1) == margin`` and ``sigmoid(margin)`` is the PD. For a
Platt-calibrated model (``models.calibration``) these are the *calibrated* log-odds: the
model's own contributions times the Platt slope, so they still add up exactly.

Each model family explains itself (``models.families``: LightGBM's own TreeSHAP, linear SHAP
relative to the average training customer for logistic regression, points lost against the
best attribute for the scorecard); this module finds the pipeline's family, applies the
calibration map and maps encoded columns back to raw ones (``models.explain.columns``).
"""

from __future__ import annotations

import pandas as pd
from sklearn.pipeline import Pipeline

from models.calibration import unwrap
from models.explain.additive import Explanation, calibrated, check_additivity, split_pipeline
from models.explain.columns import raw_column_weights
from models.families.registry import family_of


def needs_background(pipeline: Pipeline) -> bool:
    """True when the family explains relative to an aggregate it must be given or carry
    (logistic regression: the mean training row; a scorecard: its best attributes)."""
    return family_of(pipeline).baseline is not None


def explain_model_inputs(
    pipeline: Pipeline, X_raw: pd.DataFrame, background: pd.DataFrame | pd.Series | None = None
) -> Explanation:
    """Explanation over the ENCODED model-input columns (e.g. ``purpose_car``), log-odds.

    ``background``: raw training rows, or the baseline a version carries
    (``models.families.base.ModelFamily.baseline``); required for logistic regression, not
    used by LightGBM, derived from the model itself by a scorecard when absent.
    """
    family = family_of(pipeline)
    features, model = split_pipeline(pipeline)
    if len(X_raw) == 0:
        raise ValueError("explain: X_raw has no rows; pass at least one row of raw features")
    X_model = features.transform(X_raw)
    if isinstance(background, pd.DataFrame):  # raw rows: the family's baseline from them
        rows, background = background, None
        if family.baseline is not None and len(rows) > 0:
            background = family.baseline(unwrap(pipeline)[0], rows)
    explanation = family.explain(features.named_steps["encode"], model, X_model, background)
    return calibrated(explanation, unwrap(pipeline)[1])


def explain(
    pipeline: Pipeline, X_raw: pd.DataFrame, background: pd.DataFrame | pd.Series | None = None
) -> Explanation:
    """Explain rows of raw features with contributions per ORIGINAL raw column, in log-odds.

    ``pipeline`` is a fitted ``build_model_pipeline`` object; ``X_raw`` holds raw feature
    columns (extra columns such as ids are ignored). ``background``: as for
    ``explain_model_inputs``.
    Raises ``RuntimeError`` if base value + contributions do not add up to the margin.
    """
    encoded = explain_model_inputs(pipeline, X_raw, background)
    weights = raw_column_weights(pipeline)
    matrix = weights.loc[encoded.contributions.columns].to_numpy()
    contributions = pd.DataFrame(
        encoded.contributions.to_numpy() @ matrix,
        index=encoded.contributions.index,
        columns=weights.columns,
    )
    explanation = Explanation(encoded.base_value, contributions, encoded.margin, encoded.method)
    check_additivity(explanation)
    return explanation


def global_importance(explanation: Explanation) -> pd.Series:
    """Mean |contribution| per feature (log-odds), sorted descending: the SHAP ranking."""
    importance = explanation.contributions.abs().mean(axis=0).sort_values(ascending=False)
    return importance.rename("mean_abs_contribution_log_odds")
