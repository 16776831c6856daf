"""Map contributions of encoded model inputs back to the raw customer columns.

An encoder output column that copies or scales one input (WoE, binned WoE, LightGBM
categoricals, imputed/scaled numbers) maps 1:1; one-hot columns are summed back to their source
feature, using the fitted ``ColumnTransformer`` blocks and ``OneHotEncoder.categories_``. A
ratio feature (``name = numerator / denominator``) has no raw column of its own: its
contribution is split equally between numerator and denominator. This is a convention, not a
SHAP value of the raw columns, but it keeps additivity exact and stays in raw-column terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from models.explain.additive import split_pipeline


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
