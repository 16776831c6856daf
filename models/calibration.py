"""Calibrated PDs: a monotone map from the model's log-odds to a probability of default.

A ranking model (LightGBM with class weights, a regularised logistic regression) orders
customers well but its raw output need not be a probability. ``CalibratedPipeline`` wraps the
one model pipeline (``models.factory.build_model_pipeline``) and a calibration map:

- ``platt`` (default): ``PD = sigmoid(slope * margin + intercept)``, fitted by maximum
  likelihood (Platt, 1999, "Probabilistic outputs for support vector machines"; on the
  log-odds, as in Niculescu-Mizil & Caruana, 2005). Calibrated log-odds are an affine map of
  the margin, so SHAP contributions scale by ``slope`` and still add up exactly.
- ``isotonic``: a non-decreasing step function of the margin (Zadrozny & Elkan, 2002),
  interpolated linearly between knots. More flexible, needs more defaults per knot, and not
  additive: explanations then stay in the model's own log-odds (they rank the factors; they
  no longer sum to the calibrated log-odds).
- ``none``: the model's own probability.

**Leakage**: the map is fitted on *out-of-fold* margins. The training rows are cut into
``folds`` stratified folds; for each, a clone of the whole pipeline (feature encoders
included) is fitted on the other folds and predicts the held-out fold. Every row's margin thus
comes from a model that never saw it. The final pipeline is then fitted on all rows. Why not
the validation split: it is smaller (20% vs 60% of the rows), and it is the split the
``register`` stage compares families on; cross-fitting costs ``folds`` extra fits at training
time only (see ARCHITECTURE.md and ``benchmarks/calibration.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from features.schema import FrozenModel

CalibrationMethod = Literal["platt", "isotonic", "none"]
ISOTONIC_PD_FLOOR = 1e-4  # an isotonic step of 0 or 1 would claim certainty; clip to this


class CalibrationConfig(FrozenModel):
    """The ``calibration`` section of ``params.yaml``."""

    method: CalibrationMethod = "platt"
    folds: int = Field(
        default=5, ge=2, le=20, description="cross-fitting folds for the out-of-fold margins"
    )


def sigmoid(log_odds: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(log_odds, dtype="float64"))))


@dataclass(frozen=True, eq=False)
class CalibrationMap:
    """A fitted map from model margin (log-odds) to PD."""

    method: CalibrationMethod
    slope: float = 1.0
    intercept: float = 0.0
    knots: np.ndarray | None = None  # isotonic: margins, increasing
    values: np.ndarray | None = None  # isotonic: PD at each knot

    @property
    def additive(self) -> bool:
        """True when calibrated log-odds are affine in the margin (explanations scale)."""
        return self.method != "isotonic"

    def log_odds(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated log-odds (Platt / none only)."""
        if not self.additive:
            raise ValueError("isotonic calibration has no affine log-odds")
        return self.slope * np.asarray(margin, dtype="float64") + self.intercept

    def pd(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probability of default for each margin."""
        if self.additive:
            return sigmoid(self.log_odds(margin))
        assert self.knots is not None and self.values is not None
        return np.interp(np.asarray(margin, dtype="float64"), self.knots, self.values)

    def describe(self) -> dict[str, Any]:
        """JSON-ready parameters (for MLflow params and the validation report)."""
        if self.method == "isotonic":
            return {"method": self.method, "knots": 0 if self.knots is None else len(self.knots)}
        return {"method": self.method, "slope": self.slope, "intercept": self.intercept}


def fit_platt(margin: np.ndarray, y: np.ndarray, max_iter: int = 100) -> tuple[float, float]:
    """Maximum-likelihood ``(slope, intercept)`` of ``P(y=1) = sigmoid(a * margin + b)``.

    Newton's method on the two parameters, with step halving; the MLE with an intercept makes
    the mean fitted PD equal the observed default rate (calibration in the large).
    """
    x = np.column_stack([np.asarray(margin, dtype="float64"), np.ones(len(margin))])
    y = np.asarray(y, dtype="float64")
    if not np.isfinite(x).all():
        raise ValueError("calibration: the model produced non-finite margins")
    if len(np.unique(y)) < 2:
        raise ValueError("calibration: needs both defaults and non-defaults in the training data")

    def loss(theta: np.ndarray) -> float:
        z = x @ theta
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    theta = np.array([1.0, 0.0])
    for _ in range(max_iter):
        p = sigmoid(x @ theta)
        gradient = x.T @ (p - y)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        current, scale = loss(theta), 1.0
        while loss(theta - scale * step) > current and scale > 1e-8:
            scale /= 2
        theta = theta - scale * step
        if np.max(np.abs(scale * step)) < 1e-12:
            break
    return float(theta[0]), float(theta[1])


def fit_calibration_map(
    margin: np.ndarray, y: np.ndarray, method: CalibrationMethod
) -> CalibrationMap:
    """Fit the map on margins of rows the model did NOT train on (see module docstring)."""
    if method == "none":
        return CalibrationMap("none")
    if method == "platt":
        slope, intercept = fit_platt(margin, y)
        return CalibrationMap("platt", slope, intercept)
    floor = ISOTONIC_PD_FLOOR
    iso = IsotonicRegression(y_min=floor, y_max=1 - floor, out_of_bounds="clip")
    iso.fit(np.asarray(margin, dtype="float64"), np.asarray(y, dtype="float64"))
    knots = np.asarray(iso.X_thresholds_, dtype="float64")
    return CalibrationMap("isotonic", knots=knots, values=np.asarray(iso.y_thresholds_))


def model_margin(pipeline: Any, X: pd.DataFrame) -> np.ndarray:
    """The fitted pipeline's raw output in log-odds of default, per row."""
    model = pipeline[-1]
    encoded = pipeline[:-1].transform(X)
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(encoded), dtype="float64")
    return np.asarray(model.predict(encoded, raw_score=True), dtype="float64")


def out_of_fold_margins(
    pipeline: Any, X: pd.DataFrame, y: np.ndarray, folds: int, seed: int
) -> np.ndarray:
    """Each row's margin from a clone of ``pipeline`` fitted without that row's fold."""
    y = np.asarray(y)
    margins = np.full(len(X), np.nan)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_index, held_out in splitter.split(X, y):
        fold_model = clone(pipeline).fit(X.iloc[train_index], y[train_index])
        margins[held_out] = model_margin(fold_model, X.iloc[held_out])
    return margins


class CalibratedPipeline(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """The one model object: a model pipeline plus its cross-fitted calibration map.

    Parameters are stored as given (scikit-learn contract); ``fit`` checks them. Fitted
    attributes: ``pipeline_`` (the pipeline refitted on all rows), ``classes_`` and the map's
    parameters (``method_``, ``slope_``, ``intercept_``, ``knots_``, ``values_``).
    """

    def __init__(
        self, pipeline: Any, method: str = "platt", folds: int = 5, random_state: int = 0
    ) -> None:
        self.pipeline = pipeline
        self.method = method
        self.folds = folds
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> CalibratedPipeline:
        self.fit_out_of_fold(X, y)
        return self

    def fit_out_of_fold(self, X: pd.DataFrame, y: Any) -> np.ndarray:
        """Fit, and return the calibrated out-of-fold PDs of the training rows.

        Those PDs (never the in-sample ones, which overfit) are what grades and ``auto`` tiers
        are fitted on; they are not stored with the model.
        """
        if self.method not in ("platt", "isotonic", "none"):
            raise ValueError(
                f"calibration.method: expected 'platt', 'isotonic' or 'none', got {self.method!r}"
            )
        if not isinstance(self.folds, int) or self.folds < 2:
            raise ValueError(f"calibration.folds: expected an integer >= 2, got {self.folds!r}")
        y = np.asarray(y)
        margins = out_of_fold_margins(self.pipeline, X, y, self.folds, self.random_state)
        fitted = fit_calibration_map(margins, y, self.method)  # type: ignore[arg-type]
        self.method_, self.slope_, self.intercept_ = fitted.method, fitted.slope, fitted.intercept
        self.knots_, self.values_ = fitted.knots, fitted.values
        self.pipeline_ = clone(self.pipeline).fit(X, y)
        self.classes_ = self.pipeline_.classes_
        return fitted.pd(margins)

    @property
    def calibration_map(self) -> CalibrationMap:
        check_is_fitted(self, "pipeline_")
        return CalibrationMap(self.method_, self.slope_, self.intercept_, self.knots_, self.values_)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The inner model's margin (log-odds before calibration)."""
        check_is_fitted(self, "pipeline_")
        return model_margin(self.pipeline_, X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        pd_ = self.calibration_map.pd(self.decision_function(X))
        return np.column_stack([1 - pd_, pd_])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes_)[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def unwrap(model: Any) -> tuple[Any, CalibrationMap]:
    """``(fitted model pipeline, calibration map)`` of a registered model object.

    Versions registered before calibration hold the bare pipeline: its map is ``none``.
    """
    if isinstance(model, CalibratedPipeline):
        return model.pipeline_, model.calibration_map
    return model, CalibrationMap("none")
