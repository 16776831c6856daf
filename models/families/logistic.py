"""The logistic family: logistic regression on one-hot or weight-of-evidence encoded features.

Explanations are the closed form of interventional linear SHAP,
``coef_j * (x_j - mean_j)`` on the encoded inputs with base value
``intercept + coef . mean`` (equal to ``shap.LinearExplainer``, tested): relative to the
average training customer, whose mean encoded row is all a version carries (no customer's
record). The fast path turns each input column into its margin term
(``models.fastpath.linear``).
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import Field
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression

from features.pipeline import FeatureConfig, build_encoder
from features.schema import DatasetSchema, FrozenModel
from features.transformers import WoEEncoder
from models.explain.additive import Explanation, contributions_linear, encoded_background_mean
from models.families.base import ModelFamily, TrialLike
from models.fastpath.linear import compile_linear, logistic_terms
from models.fastpath.parts import CompiledModel

LINEAR_SHAP = "linear SHAP (interventional)"


class LogisticConfig(FrozenModel):
    """``models.logistic``: logistic regression on one-hot or weight-of-evidence features."""

    C: float = Field(default=1.0, gt=0)
    penalty: Literal["l2", "l1"] = "l2"
    encoding: Literal["onehot", "woe"] = "woe"
    class_weight: Literal["balanced"] | None = None
    max_iter: int = Field(default=2000, ge=10)


def build_logistic_encoder(
    schema: DatasetSchema, features: FeatureConfig, config: LogisticConfig
) -> ColumnTransformer | WoEEncoder:
    """One-hot (imputed, scaled numbers) or weight of evidence, as ``config.encoding`` says."""
    encoder = build_encoder(schema, features, config.encoding)
    assert isinstance(encoder, ColumnTransformer | WoEEncoder)
    return encoder


def build_logistic(
    config: LogisticConfig, input_columns: list[str], seed: int, n_jobs: int = 1
) -> LogisticRegression:
    """liblinear for L1, lbfgs for L2; ``n_jobs`` is unused (one solver thread)."""
    solver = "liblinear" if config.penalty == "l1" else "lbfgs"
    return LogisticRegression(
        C=config.C,
        l1_ratio=1.0 if config.penalty == "l1" else 0.0,
        solver=solver,
        class_weight=config.class_weight,
        max_iter=config.max_iter,
        random_state=seed,
    )


def suggest_logistic(trial: TrialLike, base: LogisticConfig | None = None) -> LogisticConfig:
    """A logistic regression: encoding (one-hot or weight of evidence), C, penalty, weighting.

    ``C`` is the inverse regularisation strength (larger = weaker penalty), log-uniform over
    five decades. ``max_iter`` comes from ``base``.
    """
    base = base or LogisticConfig()
    values = {
        "encoding": trial.suggest_categorical("encoding", ["onehot", "woe"]),
        "C": trial.suggest_float("C", 1e-3, 100.0, log=True),
        "penalty": trial.suggest_categorical("penalty", ["l1", "l2"]),
        "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
    }
    return LogisticConfig.model_validate(base.model_dump() | values)


def owns_logistic(encoder: Any, model: Any) -> bool:
    return isinstance(model, LogisticRegression) and isinstance(
        encoder, ColumnTransformer | WoEEncoder
    )


def explain_logistic(
    encoder: Any, model: LogisticRegression, X_model: pd.DataFrame, baseline: pd.Series | None
) -> Explanation:
    """Linear SHAP relative to ``baseline``, the mean encoded training row (required)."""
    if baseline is None or len(baseline) == 0:
        raise ValueError(
            "explain: a linear model needs background rows (raw training rows, e.g. "
            "train[schema.features]) to define the average customer; got none"
        )
    return contributions_linear(model, X_model, baseline, LINEAR_SHAP)


def compile_logistic(
    encoder: Any,
    model: LogisticRegression,
    inputs: list[str],
    baseline: pd.Series | None,
    num_threads: int,
) -> CompiledModel:
    if baseline is None:
        raise ValueError("fast path: a linear model needs its background mean (the baseline)")
    return compile_linear(encoder, model, inputs, baseline, logistic_terms, LINEAR_SHAP)


FAMILY = ModelFamily(
    name="logistic",
    summary="logistic regression on one-hot or weight-of-evidence features, linear SHAP",
    config_type=LogisticConfig,
    build_encoder=build_logistic_encoder,
    build_estimator=build_logistic,
    suggest=suggest_logistic,
    owns=owns_logistic,
    explain=explain_logistic,
    baseline=encoded_background_mean,
    compile=compile_logistic,
    trusted_types=(
        "features.transformers.MissingToNaN",
        "features.transformers.WoEEncoder",
        "numpy.dtype",  # SimpleImputer._fit_dtype in the one-hot path (tuning may choose it)
    ),
)
