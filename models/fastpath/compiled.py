"""Fast path: a fitted riskgrade pipeline compiled to plain dict and numpy operations.

Scoring one customer through the scikit-learn pipeline costs milliseconds of pandas and
``ColumnTransformer`` overhead; the same arithmetic on a numpy row costs microseconds. The
compiled form runs exactly the fitted transforms (ratios, category codes, WoE tables, one-hot,
imputation and scaling, the linear dot product or LightGBM's own booster), so it returns the
pipeline's PD and ``models.explain.explanation.explain``'s raw-column contributions to
floating-point rounding (tested to 1e-9 on every test row of every model family).

Input everywhere is ``columns``: raw column -> numpy array, numbers as float64 (NaN = missing),
categories as object (``None`` = missing); ``columns_from_records`` builds it from dicts.
Pure: no I/O, no global state; LightGBM's thread count is an explicit argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from models.calibration import CalibrationMap, unwrap
from models.explain.additive import calibrated_method, split_pipeline
from models.explain.columns import encoded_sources, raw_column_weights
from models.families.registry import family_of
from models.fastpath.encoders import NAN, ColumnEncoder, number
from models.fastpath.lightgbm_runner import LightGBMRunner

Columns = Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class FastScores:
    """PD and (optionally) per-raw-column contributions in log-odds, one row per customer."""

    pd: np.ndarray
    contributions: np.ndarray | None = None
    base_value: float | None = None


@dataclass(frozen=True, eq=False)
class CompiledPipeline:
    """A fitted ``build_model_pipeline`` object as lookups and arrays (see module docstring)."""

    raw_columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]  # categorical raw column -> training categories
    ratios: tuple[tuple[str, str, str], ...]  # (name, numerator, denominator)
    input_columns: tuple[str, ...]  # raw columns + ratios: the encoders' inputs
    encoders: tuple[ColumnEncoder, ...]
    weights: np.ndarray  # input columns x raw columns, as models.explain.explanation maps them
    booster: LightGBMRunner | None = None  # None for a linear model
    intercept: float = 0.0
    baseline_terms: np.ndarray | None = None  # linear: coef . baseline, per input
    calibration: CalibrationMap = field(default_factory=lambda: CalibrationMap("none"))
    explain_method: str = ""  # a linear family's explanation (LightGBM's runner names its own)
    known_sets: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        known = {c: frozenset(values) for c, values in self.categories.items()}
        object.__setattr__(self, "known_sets", known)

    def with_ratios(self, columns: Columns) -> dict[str, np.ndarray]:
        """The raw columns plus each ratio; a zero or missing denominator gives NaN."""
        full = {c: columns[c] for c in self.raw_columns}
        for name, numerator, denominator in self.ratios:
            den = np.asarray(full[denominator], dtype="float64")
            num = np.asarray(full[numerator], dtype="float64")
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                full[name] = num / np.where(den != 0, den, np.nan)
        return full

    def encode(self, columns: Columns) -> np.ndarray:
        """Rows x input columns: LightGBM's inputs, or a linear model's margin terms."""
        full = self.with_ratios(columns)
        pairs = zip(self.input_columns, self.encoders, strict=True)
        encoded = [enc.encode(full[c]) for c, enc in pairs]
        return np.column_stack(encoded)

    def encode_record(self, record: Mapping[str, Any]) -> np.ndarray:
        """One customer (``{raw column: value}``) as a 1 x inputs row, in plain Python."""
        values = {c: record.get(c) for c in self.raw_columns}
        for name, numerator, denominator in self.ratios:
            num, den = number(values[numerator]), number(values[denominator])
            values[name] = NAN if den == 0 or den != den else num / den
        pairs = zip(self.input_columns, self.encoders, strict=True)
        return np.array([[enc.encode_one(values[c]) for c, enc in pairs]], dtype="float64")

    def predict_record(self, record: Mapping[str, Any], contributions: bool = False) -> FastScores:
        """``predict`` for one customer given as a dict (no per-column numpy work)."""
        return self.predict_encoded(self.encode_record(record), contributions)

    def predict(self, columns: Columns, contributions: bool = False) -> FastScores:
        """PD per row; with ``contributions``, also the raw-column explanation (log-odds)."""
        return self.predict_encoded(self.encode(columns), contributions)

    def predict_encoded(self, encoded: np.ndarray, contributions: bool) -> FastScores:
        """The model step on encoded rows (LightGBM inputs or linear margin terms)."""
        if self.booster is not None:
            return self.predict_lightgbm(encoded, contributions)
        assert self.baseline_terms is not None
        margin = self.intercept + encoded.sum(axis=1)
        if self.calibration.method == "none":
            pd_ = 1.0 / (1.0 + np.exp(-margin))
        else:
            pd_ = self.calibration.pd(margin)
        if not contributions:
            return FastScores(pd_)
        raw = (encoded - self.baseline_terms) @ self.weights
        return self.calibrated(pd_, raw, self.intercept + float(self.baseline_terms.sum()))

    def predict_lightgbm(self, encoded: np.ndarray, contributions: bool) -> FastScores:
        """LightGBM's booster on the float rows; TreeSHAP as ``pred_contrib`` computes it.

        Uncalibrated models keep LightGBM's own PD (bit-identical to ``Booster.predict``);
        calibrated ones map the raw score, exactly as ``CalibratedPipeline.predict_proba``.
        """
        assert self.booster is not None
        if self.calibration.method == "none":
            if not contributions:
                return FastScores(self.booster.predict(encoded))
            pd_, shap = self.booster.contributions(encoded)
            return FastScores(pd_, shap[:, :-1] @ self.weights, float(shap[0, -1]))
        if not contributions:
            return FastScores(self.calibration.pd(self.booster.margin(encoded)))
        margin, shap = self.booster.margin_contributions(encoded)
        pd_ = self.calibration.pd(margin)
        return self.calibrated(pd_, shap[:, :-1] @ self.weights, float(shap[0, -1]))

    @property
    def method(self) -> str:
        """How contributions are computed, as ``models.explain.explanation`` names it."""
        method = self.booster.shap_method if self.booster is not None else self.explain_method
        return calibrated_method(method, self.calibration)

    def calibrated(self, pd_: np.ndarray, raw: np.ndarray, base_value: float) -> FastScores:
        """Contributions in calibrated log-odds (``models.explain.explanation.calibrated``)."""
        if not self.calibration.additive or self.calibration.method == "none":
            return FastScores(pd_, raw, base_value)
        a, b = self.calibration.slope, self.calibration.intercept
        return FastScores(pd_, raw * a, a * base_value + b)

    def unseen_record(self, record: Mapping[str, Any]) -> list[str]:
        """``unseen`` for one customer given as a dict."""
        return unseen_in_record(self, record)

    def unseen(self, columns: Columns) -> list[list[str]]:
        """Per row, the categorical columns whose value was never seen in training."""
        flags: list[list[str]] = [[] for _ in range(len(next(iter(columns.values()))))]
        for column, known in self.known_sets.items():
            codes, uniques = pd.factorize(np.asarray(columns[column], dtype=object))
            new = np.array([str(u) not in known for u in uniques] + [False], dtype=bool)
            for i in np.flatnonzero(new[codes]).tolist():  # code -1 (missing) is never new
                flags[i].append(column)
        return flags


def unseen_in_record(compiled: CompiledPipeline, record: Mapping[str, Any]) -> list[str]:
    """The categorical columns of one customer whose value was never seen in training."""
    flagged = []
    for column, known in compiled.known_sets.items():
        value = record.get(column)
        if value is not None and value == value and str(value) not in known:
            flagged.append(column)
    return flagged


def columns_from_records(
    records: Sequence[Mapping[str, Any]], raw_columns: Sequence[str], categorical: Mapping
) -> dict[str, np.ndarray]:
    """Column arrays from dicts: float64 for numbers (``None`` -> NaN), object for categories."""
    return {
        c: np.array([r.get(c) for r in records], dtype=object if c in categorical else "float64")
        for c in raw_columns
    }


def input_weights(pipeline: Pipeline, encoder: Any, inputs: list[str]) -> np.ndarray:
    """Input column x raw column weights (a ratio splits 0.5/0.5), from ``explanation``."""
    weights = raw_column_weights(pipeline)
    rows: dict[str, np.ndarray] = {}
    for encoded, source in encoded_sources(encoder, inputs):
        rows.setdefault(source, weights.loc[encoded].to_numpy(dtype="float64"))
    zero = np.zeros(weights.shape[1])
    return np.vstack([rows.get(c, zero) for c in inputs])


def compile_pipeline(
    pipeline: Pipeline, baseline: pd.Series | None = None, num_threads: int = 1
) -> CompiledPipeline:
    """Compile a fitted ``build_model_pipeline`` object through its family's compiler.

    ``baseline``: what the version carries for its explanations (a linear model's mean
    encoded training row; a scorecard's best attributes, derived when absent).
    ``num_threads``: LightGBM prediction threads (1 per server worker). A
    ``CalibratedPipeline`` compiles to its inner pipeline plus its calibration map.
    Raises ``NotCompiledError`` when the family has no compiled fast path.
    """
    family = family_of(pipeline)
    if family.compile is None:
        raise NotCompiledError(f"the {family.name} family has no compiled fast path")
    calibration = unwrap(pipeline)[1]
    features, model = split_pipeline(pipeline)
    ratio_step, encoder = features.named_steps["ratios"], features.named_steps["encode"]
    inputs = [str(c) for c in ratio_step.get_feature_names_out()]
    parts = family.compile(encoder, model, inputs, baseline, num_threads)
    return CompiledPipeline(
        raw_columns=tuple(str(c) for c in ratio_step.feature_names_in_),
        ratios=tuple(tuple(r) for r in ratio_step.ratios),
        input_columns=tuple(inputs),
        weights=input_weights(pipeline, encoder, inputs),
        calibration=calibration,
        categories=parts.categories,
        encoders=parts.encoders,
        booster=parts.booster,
        intercept=parts.intercept,
        baseline_terms=parts.baseline_terms,
        explain_method=parts.method,
    )


class NotCompiledError(TypeError):
    """The pipeline's family has no compiled fast path (serve the pipeline itself)."""
