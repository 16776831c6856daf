"""SHAP explanations of a fitted model pipeline, in terms of the ORIGINAL input columns.

Everything is in log-odds of default: for each row,
``base_value + contributions.sum(axis=1) == margin`` and ``sigmoid(margin)`` is the PD. For a
Platt-calibrated model (``models.calibration``) these are the *calibrated* log-odds: the
model's TreeSHAP / linear SHAP values times the Platt slope, so they still add up exactly.

Explainer per model family:

- **LightGBM**: LightGBM's own ``pred_contrib=True``, i.e. exact path-dependent TreeSHAP
  computed in C++ over all threads, with native categorical splits and missing values handled
  by the booster itself. ``shap.TreeExplainer`` delegates to the same call for LightGBM in this
  mode, so it would give the same numbers with more overhead and a dependency serving does
  not need. The baseline is the trees' own training cover, so ``background`` is not used.
- **Logistic regression**: the closed form of the interventional linear SHAP explainer,
  ``coef_j * (x_j - mean_background_j)`` on the encoded inputs, with base value
  ``intercept + coef . mean_background``; equal to ``shap.LinearExplainer`` (tested). It needs
  ``background`` = raw training rows; the baseline is the average training customer.

Mapping encoded columns back to raw columns (``raw_column_weights``): an encoder output
column that copies or scales one input (WoE, LightGBM categoricals, imputed/scaled numbers)
maps 1:1; one-hot columns are summed back to their source feature, using the fitted
``ColumnTransformer`` blocks and ``OneHotEncoder.categories_``. A ratio feature
(``name = numerator / denominator``) has no raw column of its own: its contribution is split
equally between numerator and denominator. This is a convention, not a SHAP value of the raw
columns, but it keeps additivity exact and stays in raw-column terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
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


def contributions_lightgbm(model: LGBMClassifier, X_model: pd.DataFrame) -> Explanation:
    """Exact path-dependent TreeSHAP from LightGBM itself; the last column is the base value."""
    raw = np.asarray(model.predict(X_model, pred_contrib=True), dtype="float64")
    contributions = pd.DataFrame(raw[:, :-1], index=X_model.index, columns=X_model.columns)
    margin = np.asarray(model.predict(X_model, raw_score=True), dtype="float64")
    return Explanation(float(raw[0, -1]), contributions, margin, "lightgbm pred_contrib TreeSHAP")


def contributions_linear(
    model: Any, X_model: pd.DataFrame, background_mean: pd.Series
) -> Explanation:
    """Interventional linear SHAP: ``coef * (x - mean(background))`` per encoded column.

    Assumes the encoded features are independent (the interventional convention, as in
    ``shap.LinearExplainer``'s default). Units: log-odds.
    """
    coef = np.asarray(model.coef_, dtype="float64").ravel()
    mean = background_mean.reindex(X_model.columns).to_numpy(dtype="float64")
    values = (X_model.to_numpy(dtype="float64") - mean) * coef
    base_value = float(np.asarray(model.intercept_).ravel()[0] + coef @ mean)
    contributions = pd.DataFrame(values, index=X_model.index, columns=X_model.columns)
    margin = np.asarray(model.decision_function(X_model), dtype="float64")
    return Explanation(base_value, contributions, margin, "linear SHAP (interventional)")


def calibrated(explanation: Explanation, calibration: CalibrationMap) -> Explanation:
    """The explanation in calibrated log-odds: with Platt's ``a * margin + b`` every
    contribution scales by ``a`` and the base value becomes ``a * base + b``, so additivity
    holds exactly. Isotonic calibration is not affine: the explanation stays in the model's
    own log-odds (it still ranks the factors) and its method says so."""
    if calibration.method == "none":
        return explanation
    if not calibration.additive:
        method = f"{explanation.method}; log-odds before isotonic calibration"
        return Explanation(
            explanation.base_value, explanation.contributions, explanation.margin, method
        )
    a, b = calibration.slope, calibration.intercept
    return Explanation(
        a * explanation.base_value + b,
        explanation.contributions * a,
        a * explanation.margin + b,
        f"{explanation.method}, Platt-calibrated (x {a:.4g})",
    )


def needs_background(pipeline: Pipeline) -> bool:
    """True for linear models, whose explanation is relative to an average (background) customer."""
    _, model = split_pipeline(pipeline)
    return not isinstance(model, LGBMClassifier)


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


def explain_model_inputs(
    pipeline: Pipeline, X_raw: pd.DataFrame, background: pd.DataFrame | pd.Series | None = None
) -> Explanation:
    """Explanation over the ENCODED model-input columns (e.g. ``purpose_car``), log-odds.

    ``background``: raw training rows, or their ``encoded_background_mean``; required for
    logistic regression, unused for LightGBM.
    """
    features, model = split_pipeline(pipeline)
    if len(X_raw) == 0:
        raise ValueError("explain: X_raw has no rows; pass at least one row of raw features")
    X_model = features.transform(X_raw)
    calibration = unwrap(pipeline)[1]
    if isinstance(model, LGBMClassifier):
        return calibrated(contributions_lightgbm(model, X_model), calibration)
    if hasattr(model, "coef_") and hasattr(model, "decision_function"):
        if background is None or len(background) == 0:
            raise ValueError(
                "explain: a linear model needs background rows (raw training rows, e.g. "
                "train[schema.features]) to define the average customer; got none"
            )
        if isinstance(background, pd.DataFrame):
            background = encoded_background_mean(pipeline, background)
        return calibrated(contributions_linear(model, X_model, background), calibration)
    raise TypeError(
        f"explain: supported estimators are LGBMClassifier and linear classifiers such as "
        f"LogisticRegression, got {type(model).__name__}"
    )


def explain(
    pipeline: Pipeline, X_raw: pd.DataFrame, background: pd.DataFrame | pd.Series | None = None
) -> Explanation:
    """Explain rows of raw features with contributions per ORIGINAL raw column, in log-odds.

    ``pipeline`` is a fitted ``build_model_pipeline`` object; ``X_raw`` holds raw feature
    columns (extra columns such as ids are ignored). ``background``: raw training rows,
    required for logistic regression (the baseline customer), unused for LightGBM.
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


def check_additivity(explanation: Explanation, tolerance: float = ADDITIVITY_TOLERANCE) -> None:
    """Fail loudly if base value + contributions differ from the margin by > ``tolerance``."""
    total = explanation.base_value + explanation.contributions.to_numpy().sum(axis=1)
    gap = float(np.max(np.abs(total - explanation.margin)))
    if gap > tolerance:
        raise RuntimeError(
            f"explain: contributions do not add up to the model margin (max gap {gap:.3g} "
            f"log-odds > {tolerance:g}); the explainer does not match this model"
        )


def raw_column_weights(pipeline: Pipeline) -> pd.DataFrame:
    """Matrix (encoded model-input columns x raw columns) mapping contributions back.

    Each row sums to 1, so ``encoded_contributions @ weights`` preserves additivity. One-hot
    columns get weight 1 on their source feature; a ratio column 0.5 on its numerator and 0.5
    on its denominator.
    """
    features, _ = split_pipeline(pipeline)
    ratio_step = features.named_steps["ratios"]
    raw_columns = [str(c) for c in ratio_step.feature_names_in_]
    ratios = {name: (num, den) for name, num, den in ratio_step.ratios}
    inputs = [str(c) for c in ratio_step.get_feature_names_out()]
    sources = encoded_sources(features.named_steps["encode"], inputs)
    weights = np.zeros((len(sources), len(raw_columns)))
    for row, (encoded, source) in enumerate(sources):
        parts = ratios.get(source, (source,))
        for raw_column in parts:
            if raw_column not in raw_columns:
                raise ValueError(
                    f"explain: encoded column {encoded!r} comes from {source!r}, which is "
                    f"neither a raw column nor a ratio of raw columns ({raw_columns})"
                )
            weights[row, raw_columns.index(raw_column)] += 1.0 / len(parts)
    return pd.DataFrame(weights, index=[name for name, _ in sources], columns=raw_columns)


def encoded_sources(encoder: Any, input_columns: list[str]) -> list[tuple[str, str]]:
    """``(encoded column, source input column)`` for every encoder output, in output order."""
    if isinstance(encoder, ColumnTransformer):
        return column_transformer_sources(encoder)
    outputs = [str(c) for c in encoder.get_feature_names_out()]
    if outputs != input_columns:
        raise ValueError(
            f"explain: {type(encoder).__name__} renames or reshapes its inputs ({outputs}); "
            "only 1:1 encoders and ColumnTransformers can be mapped back to raw columns"
        )
    return [(c, c) for c in outputs]


def column_transformer_sources(transformer: ColumnTransformer) -> list[tuple[str, str]]:
    """Sources of a fitted ColumnTransformer's outputs, block by block (``output_indices_``)."""
    names = [str(c) for c in transformer.get_feature_names_out()]
    sources: list[tuple[str, str]] = []
    for name, step, columns in transformer.transformers_:
        block = transformer.output_indices_[name]
        if block.stop == block.start:
            continue
        inputs = input_column_names(transformer, columns)
        counts = outputs_per_input(step, inputs)
        if sum(counts) != block.stop - block.start:
            raise ValueError(
                f"explain: block {name!r} of the ColumnTransformer has "
                f"{block.stop - block.start} outputs for inputs {inputs}; expected "
                f"{sum(counts)} (1:1 transformers or a plain OneHotEncoder)"
            )
        owners = np.repeat(np.asarray(inputs, dtype=object), counts)
        sources += zip(names[block], (str(o) for o in owners), strict=True)
    return sources


def input_column_names(transformer: ColumnTransformer, columns: Any) -> list[str]:
    """Column names of a ColumnTransformer block given by names, positions or a mask."""
    selected = np.asarray(columns)
    if selected.dtype.kind in "iub":
        return [str(c) for c in np.asarray(transformer.feature_names_in_)[selected]]
    return [str(c) for c in selected]


def outputs_per_input(step: Any, inputs: list[str]) -> list[int]:
    """How many output columns each input column of a ColumnTransformer block produces."""
    if isinstance(step, str):  # "passthrough" (a "drop" block has no outputs)
        return [1] * len(inputs)
    last = step.steps[-1][1] if isinstance(step, Pipeline) else step
    if isinstance(last, OneHotEncoder):
        dropped = last.drop_idx_
        return [
            len(categories) - int(dropped is not None and dropped[i] is not None)
            for i, categories in enumerate(last.categories_)
        ]
    if [str(c) for c in step.get_feature_names_out(inputs)] == inputs:
        return [1] * len(inputs)
    raise ValueError(
        f"explain: cannot map the outputs of {type(last).__name__} back to its inputs "
        f"{inputs}; supported: 1:1 transformers and OneHotEncoder"
    )


def global_importance(explanation: Explanation) -> pd.Series:
    """Mean |contribution| per feature (log-odds), sorted descending: the SHAP ranking."""
    importance = explanation.contributions.abs().mean(axis=0).sort_values(ascending=False)
    return importance.rename("mean_abs_contribution_log_odds")
