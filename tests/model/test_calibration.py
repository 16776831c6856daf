"""Calibrated PDs: no leakage into the map, a probability on held-out data, exact explanations.

The German Credit tests fit on the training split and check the held-out test split; the
leakage test uses an estimator that memorises its training rows, so any row that reached the
map through a model that had seen it would show up as a non-zero margin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from experiments.config import ProjectConfig
from features.splitting import split_dataset
from models.calibration import (
    CalibratedPipeline,
    CalibrationConfig,
    fit_calibration_map,
    fit_platt,
    out_of_fold_margins,
    sigmoid,
)
from models.explain.additive import encoded_background_mean
from models.explain.explanation import explain, needs_background
from models.factory import build_calibrated_model, fit_credit_model
from models.fastpath.compiled import compile_pipeline

MEMORISED = 10.0  # margin the memorising model gives a row it trained on


class MemorisingClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Margin +/-10 for a row seen in training (by its ``row`` value), 0 for any other."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> MemorisingClassifier:
        self.seen_ = dict(zip(X["row"].tolist(), np.asarray(y).tolist(), strict=True))
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        label = [self.seen_.get(r) for r in X["row"].tolist()]
        return np.array([0.0 if v is None else (MEMORISED if v else -MEMORISED) for v in label])


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, np.ndarray]:
    y = np.random.default_rng(1).integers(0, 2, size=60)
    return pd.DataFrame({"row": np.arange(60)}), y


def memorising_pipeline() -> Pipeline:
    return Pipeline([("identity", FunctionTransformer()), ("model", MemorisingClassifier())])


def test_map_never_sees_a_row_through_a_model_that_trained_on_it(rows: Any) -> None:
    X, y = rows
    margins = out_of_fold_margins(memorising_pipeline(), X, y, folds=5, seed=0)
    assert np.array_equal(margins, np.zeros(len(X)))  # every margin from a model without it
    model = CalibratedPipeline(memorising_pipeline(), "platt", folds=5, random_state=0)
    book_pd = model.fit_out_of_fold(X, y)
    # All out-of-fold margins are 0, so the map can only learn the base rate ...
    assert np.allclose(book_pd, y.mean(), atol=1e-9)
    # ... while the final model, refitted on every row, does memorise them.
    assert np.array_equal(np.abs(model.decision_function(X)), np.full(len(X), MEMORISED))


def test_platt_recovers_a_known_map_and_equals_unpenalised_logistic_regression() -> None:
    rng = np.random.default_rng(7)
    margin = rng.normal(0, 2, 20_000)
    y = (rng.random(20_000) < sigmoid(0.5 * margin - 1.0)).astype(int)
    slope, intercept = fit_platt(margin, y)
    assert slope == pytest.approx(0.5, abs=0.03) and intercept == pytest.approx(-1.0, abs=0.05)
    reference = LogisticRegression(C=1e12, max_iter=1000).fit(margin[:, None], y)
    assert slope == pytest.approx(reference.coef_[0, 0], abs=1e-5)
    assert intercept == pytest.approx(reference.intercept_[0], abs=1e-5)
    # Maximum likelihood with an intercept: mean fitted PD = observed default rate.
    assert sigmoid(slope * margin + intercept).mean() == pytest.approx(y.mean(), abs=1e-9)


def test_isotonic_map_is_monotone_and_bounded() -> None:
    margin = np.linspace(-3, 3, 400)
    y = (np.random.default_rng(3).random(400) < sigmoid(margin)).astype(int)
    fitted = fit_calibration_map(margin, y, "isotonic")
    pd_ = fitted.pd(np.linspace(-5, 5, 1000))
    assert np.all(np.diff(pd_) >= 0) and pd_.min() > 0 and pd_.max() < 1
    assert not fitted.additive


def test_bad_method_is_refused_with_the_key() -> None:
    model = CalibratedPipeline(memorising_pipeline(), "sigmoid")
    with pytest.raises(ValueError, match=r"calibration.method: expected 'platt', 'isotonic'"):
        model.fit(pd.DataFrame({"row": range(10)}), np.array([0, 1] * 5))


@pytest.fixture(scope="module")
def split(project_config: ProjectConfig, german_credit: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return split_dataset(german_credit, project_config.data, project_config.split, 42)


def fitted(config: ProjectConfig, split: dict, family: str, method: str = "platt") -> Any:
    schema, train = config.data, split["train"]
    model = build_calibrated_model(
        schema, config.features, config.models.get(family),  # type: ignore[arg-type]
        CalibrationConfig(method=method), config.seed,
    )  # fmt: skip
    policy = fit_credit_model(
        model, config.scorecard, train[schema.features], train[schema.target].to_numpy()
    )
    return model, policy


def fast_columns(compiled: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The fast path's input: float64 numbers, object categories (``columns_from_records``)."""
    return {
        c: X[c].to_numpy(dtype=object if c in compiled.categories else "float64")
        for c in compiled.raw_columns
    }


@pytest.fixture(scope="module", params=["lightgbm", "logistic"])
def platt(request: pytest.FixtureRequest, project_config: ProjectConfig, split: dict) -> Any:
    """Each family with Platt calibration and its policy, fitted once per module."""
    return fitted(project_config, split, request.param)


def test_calibrated_pd_is_a_probability_and_keeps_the_ranking(
    project_config: ProjectConfig, split: dict, platt: Any
) -> None:
    schema = project_config.data
    model, policy = platt
    test = split["test"]
    X, y = test[schema.features], test[schema.target].to_numpy()
    pd_ = model.predict_proba(X)[:, 1]
    raw = model.pipeline_.predict_proba(X)[:, 1]
    assert roc_auc_score(y, pd_) == pytest.approx(roc_auc_score(y, raw), abs=1e-12)
    assert roc_auc_score(y, pd_) > 0.75
    # Mean PD within 15% of the observed default rate on rows the model never saw.
    assert abs(pd_.mean() / y.mean() - 1) < 0.15
    assert policy.calibration["method"] == "platt" and policy.grades is not None


def test_contributions_add_up_to_calibrated_log_odds_and_fast_path_agrees(
    project_config: ProjectConfig, split: dict, platt: Any
) -> None:
    schema = project_config.data
    model, _ = platt
    X = split["test"][schema.features].reset_index(drop=True)
    background = (
        encoded_background_mean(model, split["train"][schema.features])
        if needs_background(model)
        else None
    )
    explanation = explain(model, X, background)
    pd_ = model.predict_proba(X)[:, 1]
    total = explanation.base_value + explanation.contributions.sum(axis=1).to_numpy()
    assert np.abs(total - np.log(pd_ / (1 - pd_))).max() < 1e-6
    bare = explain(model.pipeline_, X, background)
    slope = model.calibration_map.slope
    assert np.abs(explanation.contributions - slope * bare.contributions).to_numpy().max() < 1e-9
    compiled = compile_pipeline(model, background)
    fast = compiled.predict(fast_columns(compiled, X), contributions=True)
    assert np.abs(fast.pd - pd_).max() < 1e-9
    assert fast.contributions is not None
    assert np.abs(fast.contributions - explanation.contributions.to_numpy()).max() < 1e-9
    one = compiled.predict_record(X.iloc[0].to_dict())
    assert abs(one.pd[0] - pd_[0]) < 1e-9


def test_isotonic_fast_path_equals_pipeline(project_config: ProjectConfig, split: dict) -> None:
    schema = project_config.data
    model, policy = fitted(project_config, split, "lightgbm", "isotonic")
    X = split["test"][schema.features]
    compiled = compile_pipeline(model)
    assert (
        np.abs(compiled.predict(fast_columns(compiled, X)).pd - model.predict_proba(X)[:, 1]).max()
        < 1e-9
    )
    assert policy.calibration["method"] == "isotonic"
