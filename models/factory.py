"""The one way to build a model: an estimator factory and the full pipeline around it.

Adding a model family means one ``*Config`` class, one branch in ``build_estimator`` and
(for tuning) one search-space function -- never a copied training loop. What is trained and
registered is ``build_calibrated_model``: the pipeline plus its calibration map; tuning
searches the bare pipeline (a monotone calibration map changes no ranking metric).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from features.pipeline import FeatureConfig, build_feature_pipeline
from features.schema import DatasetSchema
from models.calibration import CalibratedPipeline, CalibrationConfig
from models.families.config import LightGBMConfig, LogisticConfig
from models.scoring.scorecard import ScorecardConfig, ScoringPolicy, fit_scoring_policy


def build_lightgbm(
    config: LightGBMConfig, input_columns: list[str], seed: int, n_jobs: int
) -> LGBMClassifier:
    """LightGBM with deterministic, thread-bounded settings.

    ``deterministic`` + ``force_row_wise`` + a fixed seed give identical models on every run
    with the same ``n_jobs``; ``n_jobs`` is explicit because OpenMP's default (all cores,
    spinning waits) fights other work on small machines.
    """
    params = config.model_dump(exclude={"monotone_constraints"})
    unknown = sorted(set(config.monotone_constraints) - set(input_columns))
    if unknown:
        raise ValueError(
            f"models.lightgbm.monotone_constraints: {unknown} are not model input columns "
            f"(numeric, categorical or ratio features: {input_columns})"
        )
    if config.monotone_constraints:
        # LightGBM takes one constraint per input column, in the pipeline's column order.
        params["monotone_constraints"] = [
            config.monotone_constraints.get(c, 0) for c in input_columns
        ]
        params["monotone_constraints_method"] = "advanced"
    return LGBMClassifier(
        **params,
        random_state=seed,
        n_jobs=n_jobs,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )


def build_logistic(config: LogisticConfig, seed: int) -> LogisticRegression:
    solver = "liblinear" if config.penalty == "l1" else "lbfgs"
    return LogisticRegression(
        C=config.C,
        l1_ratio=1.0 if config.penalty == "l1" else 0.0,
        solver=solver,
        class_weight=config.class_weight,
        max_iter=config.max_iter,
        random_state=seed,
    )


def build_estimator(
    config: LightGBMConfig | LogisticConfig, input_columns: list[str], seed: int, n_jobs: int = 1
) -> ClassifierMixin:
    """Unfitted estimator for a model family's configuration.

    ``input_columns`` are the raw columns the feature pipeline hands on (before encoding),
    used to place per-column settings such as monotone constraints.
    """
    if isinstance(config, LightGBMConfig):
        return build_lightgbm(config, input_columns, seed, n_jobs)
    return build_logistic(config, seed)


def model_input_columns(schema: DatasetSchema, features: FeatureConfig) -> list[str]:
    """Columns after the ratio step, in order: the dataset's features, then the ratios."""
    return [*schema.features, *(r.name for r in features.ratios)]


def build_model_pipeline(
    schema: DatasetSchema,
    features: FeatureConfig,
    config: LightGBMConfig | LogisticConfig,
    seed: int,
    n_jobs: int = 1,
) -> Pipeline:
    """Features + estimator as ONE scikit-learn pipeline: raw customer columns in, PD out.

    This object is what is cross-validated, logged to MLflow and served, so serving runs
    exactly the transforms that were validated.
    """
    return Pipeline(
        [
            ("features", build_feature_pipeline(schema, features, config.encoding)),
            ("model", build_estimator(config, model_input_columns(schema, features), seed, n_jobs)),
        ]
    )


def build_calibrated_model(
    schema: DatasetSchema,
    features: FeatureConfig,
    config: LightGBMConfig | LogisticConfig,
    calibration: CalibrationConfig,
    seed: int,
    n_jobs: int = 1,
) -> CalibratedPipeline:
    """The registered model object: ``build_model_pipeline`` + its calibration map
    (``models.calibration``), fitted on cross-fitted out-of-fold margins."""
    pipeline = build_model_pipeline(schema, features, config, seed, n_jobs)
    return CalibratedPipeline(pipeline, calibration.method, calibration.folds, seed)


def fit_credit_model(
    model: CalibratedPipeline, scorecard: ScorecardConfig, X: pd.DataFrame, y: np.ndarray
) -> ScoringPolicy:
    """Fit ``model`` on the training rows and return the scoring policy fitted with it:
    grades and ``auto`` tiers on the out-of-fold calibrated PDs of the same rows."""
    book_pd = model.fit_out_of_fold(X, y)
    return fit_scoring_policy(scorecard, book_pd, model.calibration_map.describe())
