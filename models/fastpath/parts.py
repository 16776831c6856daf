"""What a model family's compiler hands the fast path: the model step as lookups and arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.fastpath.encoders import ColumnEncoder
from models.fastpath.lightgbm_runner import LightGBMRunner


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """One encoder per model-input column, the training categories of categorical raw
    columns, and the model step: a LightGBM booster, or a linear margin (``intercept`` plus the
    encoders' terms) whose explanation is relative to ``baseline_terms`` (one per input)."""

    encoders: tuple[ColumnEncoder, ...]
    categories: dict[str, tuple[str, ...]]
    booster: LightGBMRunner | None = None
    intercept: float = 0.0
    baseline_terms: np.ndarray | None = None
    method: str = ""  # the explanation method (LightGBM's runner names its own)
