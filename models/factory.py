"""The one way to build a model: the family's encoder and estimator in one pipeline.

Each model family (``models.families``) supplies its encoder, estimator and search space;
nothing here knows one family from another. What is trained and registered is
``build_calibrated_model``: the pipeline plus its calibration map; tuning searches the bare
pipeline (a monotone calibration map changes no ranking metric).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.pipeline import FeatureConfig, build_feature_pipeline
from features.schema import DatasetSchema, FrozenModel
from models.calibration import CalibratedPipeline, CalibrationConfig
from models.families.registry import family_of_config
from models.scoring.scorecard import ScorecardConfig, ScoringPolicy, fit_scoring_policy


def build_estimator(
    config: FrozenModel, input_columns: list[str], seed: int, n_jobs: int = 1
) -> Any:
    """Unfitted estimator of the family whose config ``config`` is.

    ``input_columns`` are the columns the encoder receives (before encoding), used to place
    per-column settings such as LightGBM's monotone constraints.
    """
    return family_of_config(config).build_estimator(config, input_columns, seed, n_jobs)


def model_input_columns(schema: DatasetSchema, features: FeatureConfig) -> list[str]:
    """Columns after the ratio step, in order: the dataset's features, then the ratios."""
    return [*schema.features, *(r.name for r in features.ratios)]


def build_model_pipeline(
    schema: DatasetSchema,
    features: FeatureConfig,
    config: FrozenModel,
    seed: int,
    n_jobs: int = 1,
) -> Pipeline:
    """Ratios -> the family's encoder -> its estimator, as ONE scikit-learn pipeline: raw
    customer columns in, PD out.

    This object is what is cross-validated, logged to MLflow and served, so serving runs
    exactly the transforms that were validated.
    """
    family = family_of_config(config)
    encoder = family.build_encoder(schema, features, config)
    inputs = model_input_columns(schema, features)
    return Pipeline(
        [
            ("features", build_feature_pipeline(schema, features, encoder)),
            ("model", family.build_estimator(config, inputs, seed, n_jobs)),
        ]
    )


def build_calibrated_model(
    schema: DatasetSchema,
    features: FeatureConfig,
    config: FrozenModel,
    calibration: CalibrationConfig,
    seed: int,
    n_jobs: int = 1,
) -> CalibratedPipeline:
    """The registered model object: ``build_model_pipeline`` + its calibration map
    (``models.calibration``), fitted on cross-fitted out-of-fold margins."""
    pipeline = build_model_pipeline(schema, features, config, seed, n_jobs)
    return CalibratedPipeline(pipeline, calibration.method, calibration.folds, seed)


def fit_credit_model(
    model: CalibratedPipeline,
    scorecard: ScorecardConfig,
    X: pd.DataFrame,
    y: np.ndarray,
    schema: DatasetSchema | None = None,
) -> ScoringPolicy:
    """Fit ``model`` on the training rows and return the scoring policy fitted with it:
    grades and ``auto`` tiers on the out-of-fold calibrated PDs of the same rows; with the
    dataset's ``schema``, also its input contract (missing-value text, number columns and
    their valid ranges), which every scoring path of the version applies."""
    book_pd = model.fit_out_of_fold(X, y)
    policy = fit_scoring_policy(scorecard, book_pd, model.calibration_map.describe())
    if schema is None:
        return policy
    contract = {"na_values": schema.na_values, "numeric_inputs": schema.numeric}
    return policy.model_copy(update=contract | {"ranges": schema.ranges})
