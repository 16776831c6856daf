"""The LightGBM family: gradient-boosted trees on native categories and missing values.

Explanations are exact path-dependent TreeSHAP from LightGBM itself (``pred_contrib``; the
trees' own cover is the baseline, so a version carries none). The fast path runs the booster
through LightGBM's single-row C API with TreeSHAP tabulated per tree
(``models.fastpath.lightgbm_runner``). Tuning stops each fold early on its validation loss
and derives the tree count from the folds.
"""

from __future__ import annotations

from typing import Any, Literal

import lightgbm
import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from pydantic import Field

from features.pipeline import FeatureConfig, build_encoder
from features.schema import DatasetSchema, FrozenModel
from features.transformers import CategoryEncoder
from models.explain.additive import Explanation
from models.families.base import EarlyStopping, ModelFamily, TrialLike
from models.fastpath.encoders import CategoryCode, ColumnEncoder, PassNumber
from models.fastpath.lightgbm_runner import LightGBMRunner
from models.fastpath.parts import CompiledModel


class LightGBMConfig(FrozenModel):
    """``models.lightgbm``. Deterministic settings are fixed by the builder, not here."""

    n_estimators: int = Field(default=300, ge=1, le=20000)
    learning_rate: float = Field(default=0.03, gt=0, le=1)
    num_leaves: int = Field(default=8, ge=2, le=4096)
    max_depth: int = Field(default=-1, ge=-1)
    min_child_samples: int = Field(default=20, ge=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    subsample_freq: int = Field(default=1, ge=0)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_alpha: float = Field(default=0.0, ge=0)
    reg_lambda: float = Field(default=1.0, ge=0)
    cat_smooth: float = Field(default=10.0, ge=0)
    min_data_per_group: int = Field(default=20, ge=1)
    class_weight: Literal["balanced"] | None = None
    monotone_constraints: dict[str, Literal[-1, 0, 1]] = Field(default_factory=dict)


def build_native_encoder(
    schema: DatasetSchema, features: FeatureConfig, config: LightGBMConfig
) -> CategoryEncoder:
    """Categories as pandas categoricals: LightGBM splits on them and on missing values."""
    encoder = build_encoder(schema, features, "native")
    assert isinstance(encoder, CategoryEncoder)
    return encoder


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


def suggest_lightgbm(trial: TrialLike, base: LightGBMConfig | None = None) -> LightGBMConfig:
    """A LightGBM configuration: shrinkage, tree shape, row/column sampling, L1/L2, weighting.

    ``n_estimators`` stays at ``base``'s value: tuning treats it as a cap and lets early
    stopping choose the number of trees. ``subsample`` acts because ``subsample_freq`` is set
    to 1 (bagging every iteration). ``min_child_samples`` is a count of rows per leaf, log-scaled
    so both small and large portfolios find a sensible value.
    """
    base = base or LightGBMConfig()
    values = {
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 2, 128, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 12),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
    }
    return LightGBMConfig.model_validate(base.model_dump() | values)


def owns_lightgbm(encoder: Any, model: Any) -> bool:
    return isinstance(model, LGBMClassifier)


def explain_lightgbm(
    encoder: Any, model: LGBMClassifier, X_model: pd.DataFrame, baseline: pd.Series | None
) -> Explanation:
    """Exact path-dependent TreeSHAP from LightGBM itself; the last column is the base value.

    ``shap.TreeExplainer`` delegates to the same call for LightGBM in this mode, so it would
    give the same numbers with more overhead and a dependency serving does not need.
    """
    raw = np.asarray(model.predict(X_model, pred_contrib=True), dtype="float64")
    contributions = pd.DataFrame(raw[:, :-1], index=X_model.index, columns=X_model.columns)
    margin = np.asarray(model.predict(X_model, raw_score=True), dtype="float64")
    return Explanation(float(raw[0, -1]), contributions, margin, "lightgbm pred_contrib TreeSHAP")


def compile_lightgbm(
    encoder: Any,
    model: LGBMClassifier,
    inputs: list[str],
    baseline: pd.Series | None,
    num_threads: int,
) -> CompiledModel:
    """Pass-through numbers and LightGBM category codes (its ``pandas_categorical`` order);
    the booster behind LightGBM's single-row API with tabulated TreeSHAP."""
    if not isinstance(encoder, CategoryEncoder):
        raise TypeError(
            f"fast path: LightGBM expects a CategoryEncoder, got {type(encoder).__name__}"
        )
    known: dict[str, list[str]] = encoder.categories_
    booster = model.booster_
    if len(booster.feature_name()) != len(inputs):
        raise ValueError(
            f"fast path: the booster has {len(booster.feature_name())} inputs, the feature "
            f"pipeline produces {len(inputs)} ({inputs})"
        )
    categorical = [c for c in inputs if c in known]
    orders = dict(zip(categorical, booster.pandas_categorical or [], strict=True))
    encoders: list[ColumnEncoder] = []
    for column in inputs:
        if column not in known:
            encoders.append(PassNumber())
            continue
        order = [str(c) for c in orders[column]]
        codes = {c: float(order.index(c)) for c in known[column] if c in order}
        encoders.append(CategoryCode(dict(codes)))  # type: ignore[arg-type]
    categories = {c: tuple(known[c]) for c in categorical}
    return CompiledModel(tuple(encoders), categories, LightGBMRunner(booster, num_threads))


def fit_early_stopped(
    model: Any,
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    rounds: int,
) -> int:
    """Boost with early stopping on the validation log loss; the best round.

    Log loss is smoother than AUC on a few hundred rows, and measured to give better tree
    counts (``benchmarks/tuning.py``). With ``class_weight="balanced"`` the loss is weighted
    the same way, so stopping follows the loss the trees minimise.
    """
    model.fit(
        X_fit,
        y_fit,
        eval_X=X_valid,
        eval_y=y_valid,
        eval_class_weight=[model.class_weight],
        callbacks=[lightgbm.early_stopping(rounds, verbose=False)],
    )
    return int(model.best_iteration_)


def predict_at(model: Any, X: pd.DataFrame, trees: int) -> np.ndarray:
    """PD using the first ``trees`` trees (all if fewer)."""
    return np.asarray(model.predict_proba(X, num_iteration=trees)[:, 1], dtype="float64")


FAMILY = ModelFamily(
    name="lightgbm",
    summary="gradient-boosted trees (LightGBM), native categories, TreeSHAP reasons",
    config_type=LightGBMConfig,
    build_encoder=build_native_encoder,
    build_estimator=build_lightgbm,
    suggest=suggest_lightgbm,
    owns=owns_lightgbm,
    explain=explain_lightgbm,
    compile=compile_lightgbm,
    early_stopping=EarlyStopping(fit_early_stopped, predict_at),
    trusted_types=(
        "features.transformers.CategoryEncoder",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "collections.OrderedDict",
    ),
    requirements=("lightgbm",),
)
