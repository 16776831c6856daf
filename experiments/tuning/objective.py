"""The tuning objective: cross-validated ROC AUC of one sampled configuration.

The training data and its stratified folds are built once per process (``TuningData``) and
the objective closes over them. The feature pipeline (quantiles, WoE tables, categories) is
fitted on each fold's training part only, so no validation row leaks into its own score.
A boosting family (LightGBM) stops early on the fold's validation part; that makes the fold
score slightly optimistic (the stopping point is chosen on the rows that are scored), which
is why the benchmark measures tuned models on outer folds the study never saw.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from experiments.config import TuneConfig
from experiments.io import file_digest
from features.pipeline import FeatureConfig
from features.schema import DatasetSchema, FrozenModel
from models.factory import build_model_pipeline
from models.families.base import EarlyStopping
from models.families.registry import get_family

Fold = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class StudySpec:
    """Everything a worker process needs to run trials of one study (picklable for spawn).

    ``invocation`` marks the trials of one ``riskgrade tune`` run (for MLflow child runs);
    ``n_existing`` is the number of trials the study had when that run started (sampler seed).
    """

    family: str
    study_name: str
    storage: str
    base: FrozenModel
    schema: DatasetSchema
    features: FeatureConfig
    tune: TuneConfig
    seed: int
    n_jobs: int
    invocation: str
    n_existing: int


@dataclass(frozen=True)
class TuningData:
    """Training rows, 0/1 target and the fixed stratified folds (row positions, all repeats)."""

    X: pd.DataFrame
    y: np.ndarray
    folds: tuple[Fold, ...]
    data_md5: str


def build_tuning_data(
    train_path: Path, schema: DatasetSchema, tune: TuneConfig, seed: int
) -> TuningData:
    """Read the training split; cut it into ``tune.folds`` stratified folds, ``tune.repeats``
    times with different shuffles (seeded). Repeats halve the noise of the objective on small
    data, where the search otherwise chases lucky fold splits."""
    n_folds = tune.folds
    frame = pd.read_parquet(train_path)
    y = frame[schema.target].to_numpy()
    minority = int(min(y.sum(), len(y) - y.sum()))
    if minority < n_folds:
        raise ValueError(
            f"tune.folds = {n_folds} but {train_path} has only {minority} rows of its rarer "
            "class; lower tune.folds or use more data"
        )
    splitter = RepeatedStratifiedKFold(n_splits=n_folds, n_repeats=tune.repeats, random_state=seed)
    folds = tuple(splitter.split(np.zeros(len(y)), y))
    return TuningData(frame[schema.features], y, folds, file_digest(train_path))


class BoostedFold(NamedTuple):
    """A fold's early-stopped model with its (encoded) validation rows."""

    model: Any
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    best_iteration: int
    predict: Callable[[Any, pd.DataFrame, int], np.ndarray]


def fit_boosted_fold(
    pipeline: Pipeline, stopping: EarlyStopping, data: TuningData, fold: Fold, rounds: int
) -> BoostedFold:
    """Fit features on the fold's train part, boost with early stopping on its valid part."""
    train, valid = fold
    features, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
    X_fit = features.fit_transform(data.X.iloc[train], data.y[train])
    X_valid = features.transform(data.X.iloc[valid])
    best = stopping.fit(model, X_fit, data.y[train], X_valid, data.y[valid], rounds)
    return BoostedFold(model, X_valid, data.y[valid], best, stopping.predict)


def score_fold(
    spec: StudySpec, config: FrozenModel, data: TuningData, fold: Fold
) -> tuple[float, BoostedFold | None]:
    """ROC AUC on one fold's validation part (boosting: at the fold's own best round)."""
    pipeline = build_model_pipeline(spec.schema, spec.features, config, spec.seed, spec.n_jobs)
    stopping = get_family(spec.family).early_stopping
    train, valid = fold
    if stopping is not None:
        rounds = spec.tune.early_stopping_rounds
        boosted = fit_boosted_fold(pipeline, stopping, data, fold, rounds)
        return auc_at(boosted, boosted.best_iteration), boosted
    pipeline.fit(data.X.iloc[train], data.y[train])
    pd_ = pipeline.predict_proba(data.X.iloc[valid])[:, 1]
    return float(roc_auc_score(data.y[valid], pd_)), None


def auc_at(fold: BoostedFold, trees: int) -> float:
    """Validation ROC AUC of a fold's model using its first ``trees`` rounds (all if fewer)."""
    return float(roc_auc_score(fold.y_valid, fold.predict(fold.model, fold.X_valid, trees)))


def score_at_common_iteration(folds: list[BoostedFold]) -> tuple[list[float], int]:
    """Fold ROC AUCs when every fold uses one tree count, the mean best iteration; and it.

    Scoring each fold at its own best iteration picks every fold's peak on the very rows that
    are scored, which flatters fast, noisy configurations; the final model gets one tree
    count, so the trial is judged at one tree count too (as ``lightgbm.cv`` does).
    """
    trees = max(1, round(float(np.mean([f.best_iteration for f in folds]))))
    return [auc_at(fold, trees) for fold in folds], trees


def trial_config(spec: StudySpec, trial: Any) -> FrozenModel:
    """The configuration a trial evaluates; a boosting family gets the round cap for early
    stopping."""
    family = get_family(spec.family)
    config: FrozenModel = family.suggest(trial, spec.base)
    if family.early_stopping is not None:
        cap = {family.early_stopping.size_field: spec.tune.max_estimators}
        config = config.model_copy(update=cap)
    return config


def make_objective(spec: StudySpec, data: TuningData) -> Callable[[optuna.Trial], float]:
    """Mean fold ROC AUC; after each fold the running mean is reported for pruning.

    Fold scores and best iterations are stored on the trial as they come, so pruned trials
    keep them (MLflow child runs, the dashboard). BLAS and OpenMP pools are capped at
    ``spec.n_jobs`` like LightGBM: N workers must not each start one thread per core.
    """

    def objective(trial: optuna.Trial) -> float:
        mark_owner(trial, spec.invocation)
        config = trial_config(spec, trial)
        with threadpool_limits(limits=spec.n_jobs):
            return cross_validate(trial, spec, config, data)

    return objective


def cross_validate(
    trial: optuna.Trial, spec: StudySpec, config: FrozenModel, data: TuningData
) -> float:
    """Fold by fold; raises ``optuna.TrialPruned`` when the pruner stops the trial.

    The running mean reported for pruning uses each fold's own score; a LightGBM trial that
    finishes is then valued at one common tree count (``score_at_common_iteration``).
    """
    aucs: list[float] = []
    boosted: list[BoostedFold] = []
    for step, fold in enumerate(data.folds):
        auc, fitted = score_fold(spec, config, data, fold)
        aucs.append(auc)
        if fitted is not None:
            boosted.append(fitted)
            trial.set_user_attr("best_iterations", [f.best_iteration for f in boosted])
        trial.set_user_attr("fold_roc_auc", aucs)
        trial.report(float(np.mean(aucs)), step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"mean ROC AUC {np.mean(aucs):.4f} after fold {step}")
    if boosted:
        aucs, trees = score_at_common_iteration(boosted)
        trial.set_user_attr("fold_roc_auc", aucs)
        trial.set_user_attr("common_iteration", trees)
    return float(np.mean(aucs))


def mark_owner(trial: optuna.Trial, invocation: str) -> None:
    """Record which run and process own a trial, so a killed process's trial can be failed."""
    trial.set_user_attr("invocation", invocation)
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())


def derive_n_estimators(common_iteration: int, n_folds: int) -> int:
    """Trees for the final model, from the folds' early-stopping points.

    ``common_iteration`` is the mean of the folds' best iterations (the tree count the trial
    was scored at, ``score_at_common_iteration``), scaled by ``K / (K - 1)``: each fold model
    learned from (K-1)/K of the training rows and the final model learns from all of them,
    and at the same learning rate more rows support proportionally more boosting rounds
    before overfitting. At least 1.
    """
    if common_iteration < 1:
        raise ValueError(f"common_iteration must be >= 1, got {common_iteration}")
    return max(1, round(common_iteration * n_folds / (n_folds - 1)))
