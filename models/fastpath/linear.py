"""Fast path of linear models: each input column's margin term as a table or a formula.

A logistic model's margin is ``intercept + sum_k coef_k * x_k`` over the encoded columns
``x_k``. Grouping the encoded columns by the input column they come from gives one *term* per
input column: ``coef * WoE`` (a table per bin or category), ``sum over categories of coef * 1``
(one-hot: the active category's coefficient) or ``coef * (x - mean) / scale`` (scaled numbers).
The baseline term of each input column, ``sum_k coef_k * baseline_k``, turns a term into the
column's contribution, exactly as the family's explanation does: the mean training row for
logistic regression (linear SHAP), the best attribute for a scorecard (points lost).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from features.transformers import MISSING, WoEEncoder
from models.explain.columns import encoded_sources
from models.fastpath.encoders import (
    BinnedNumberTerm,
    ColumnEncoder,
    ScaledNumberTerm,
    category_terms,
)
from models.fastpath.parts import CompiledModel

Terms = tuple[list[ColumnEncoder], dict[str, tuple[str, ...]]]
TermBuilder = Callable[[Any, dict[str, float], list[str]], Terms]


def woe_encoders(
    encoder: WoEEncoder, coef: dict[str, float], inputs: list[str]
) -> tuple[list[ColumnEncoder], dict[str, tuple[str, ...]]]:
    """``coef * WoE`` per bin (numbers) or per category; unseen values encode to WoE 0."""
    encoders: list[ColumnEncoder] = []
    categories: dict[str, tuple[str, ...]] = {}
    for column in inputs:
        table, weight = encoder.woe_[column], coef[column]
        if column in encoder.edges_:
            edges = np.asarray(encoder.edges_[column], dtype="float64")
            bins = np.array([weight * table.get(str(i), 0.0) for i in range(len(edges) + 1)])
            encoders.append(BinnedNumberTerm(edges, bins, weight * table.get(MISSING, 0.0)))
        else:
            encoders.append(category_terms({k: weight * v for k, v in table.items()}))
            categories[column] = tuple(sorted(k for k in table if k != MISSING))
    return encoders, categories


def block_steps(step: Any) -> dict[type, Any]:
    """The fitted steps of a ColumnTransformer block by type (a Pipeline or a single step)."""
    steps = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
    return {type(s): s for s in steps}


def numeric_block(
    steps: dict[type, Any], columns: list[str], coef: dict[str, float]
) -> list[ScaledNumberTerm]:
    """Median imputation + standard scaling of numbers, one term per column."""
    imputer, scaler = steps.get(SimpleImputer), steps.get(StandardScaler)
    if imputer is None or scaler is None or imputer.strategy != "median" or imputer.add_indicator:
        raise TypeError("fast path: numeric one-hot block must be median imputer + scaler")
    mean = scaler.mean_ if scaler.mean_ is not None else np.zeros(len(columns))
    scale = scaler.scale_ if scaler.scale_ is not None else np.ones(len(columns))
    return [
        ScaledNumberTerm(float(imputer.statistics_[i]), float(mean[i]), float(scale[i]), coef[c])
        for i, c in enumerate(columns)
    ]


def onehot_block(
    steps: dict[type, Any], columns: list[str], coef: dict[str, float]
) -> tuple[list[ColumnEncoder], dict[str, tuple[str, ...]]]:
    """One-hot categories (unknown ignored): the term is the active category's coefficient."""
    onehot, imputer = steps.get(OneHotEncoder), steps.get(SimpleImputer)
    if onehot is None or onehot.drop_idx_ is not None or onehot.handle_unknown != "ignore":
        raise TypeError("fast path: categorical block must be a OneHotEncoder ignoring unknowns")
    missing_key = str(imputer.fill_value) if imputer is not None else MISSING
    encoders: list[ColumnEncoder] = []
    categories: dict[str, tuple[str, ...]] = {}
    names = iter(onehot.get_feature_names_out(columns))
    for column, known in zip(columns, onehot.categories_, strict=True):
        terms = {str(category): coef[str(next(names))] for category in known}
        encoders.append(category_terms(terms, missing_key))
        categories[column] = tuple(str(c) for c in known if str(c) != missing_key)
    return encoders, categories


def column_transformer_encoders(
    encoder: ColumnTransformer, coef: dict[str, float], inputs: list[str]
) -> tuple[list[ColumnEncoder], dict[str, tuple[str, ...]]]:
    """Terms for the one-hot family's ColumnTransformer, returned in ``inputs`` order."""
    by_column: dict[str, ColumnEncoder] = {}
    categories: dict[str, tuple[str, ...]] = {}
    for name, step, columns in encoder.transformers_:
        if isinstance(step, str) or encoder.output_indices_[name].stop == 0:
            continue
        names = [str(c) for c in columns]
        steps = block_steps(step)
        if OneHotEncoder in steps:
            encoders, known = onehot_block(steps, names, coef)
            categories |= known
        else:
            encoders = list(numeric_block(steps, names, coef))
        by_column |= dict(zip(names, encoders, strict=True))
    missing = [c for c in inputs if c not in by_column]
    if missing:
        raise TypeError(f"fast path: the ColumnTransformer does not encode {missing}")
    return [by_column[c] for c in inputs], categories


def logistic_terms(encoder: Any, coef: dict[str, float], inputs: list[str]) -> Terms:
    """Terms of the logistic family's encoders: WoE tables or the one-hot ColumnTransformer."""
    if isinstance(encoder, WoEEncoder):
        return woe_encoders(encoder, coef, inputs)
    if isinstance(encoder, ColumnTransformer):
        return column_transformer_encoders(encoder, coef, inputs)
    raise TypeError(f"fast path: unsupported encoder {type(encoder).__name__}")


def compile_linear(
    encoder: Any,
    model: Any,
    inputs: list[str],
    baseline: pd.Series,
    terms: TermBuilder,
    method: str,
) -> CompiledModel:
    """A linear model's margin terms (``terms`` builds them from the fitted encoder), its
    intercept, and the baseline term of each input column (``coef . baseline`` over the
    encoded columns it feeds), which turns a term into the column's contribution."""
    sources = encoded_sources(encoder, inputs)
    encoded = [name for name, _ in sources]
    weights = np.asarray(model.coef_, dtype="float64").ravel()
    if len(weights) != len(encoded):
        raise ValueError(f"fast path: {len(weights)} coefficients for {len(encoded)} inputs")
    coef = dict(zip(encoded, weights.tolist(), strict=True))
    values = baseline.reindex(encoded).to_numpy(dtype="float64")
    if np.isnan(values).any():
        raise ValueError("fast path: the baseline lacks some encoded model inputs")
    per_input = dict.fromkeys(inputs, 0.0)
    for (_, source), weight, value in zip(sources, weights, values, strict=True):
        per_input[source] += weight * value
    encoders, categories = terms(encoder, coef, inputs)
    intercept = float(np.asarray(model.intercept_).ravel()[0])
    baseline_terms = np.array([per_input[c] for c in inputs])
    return CompiledModel(tuple(encoders), categories, None, intercept, baseline_terms, method)
