"""The registered pipeline behind the fast path's interface, for families without a compiler.

A model family need not compile (``models.families.base.ModelFamily.compile``): the service
then scores through the pipeline itself -- pandas and scikit-learn per request, slower,
with the same PD and explanation as ``CreditRiskModel`` (it *is* that computation). It does
not know the training categories, so it flags no unseen category and the request schema
lists none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.calibration import unwrap
from models.explain.additive import split_pipeline
from models.explain.explanation import explain
from models.fastpath.compiled import Columns, FastScores, columns_from_records


class PipelineScorer:
    """``CompiledPipeline``'s scoring interface over the fitted pipeline itself."""

    booster = None

    def __init__(
        self, pipeline: Any, baseline: pd.Series | None, categorical: Sequence[str], reason: str
    ) -> None:
        features, _ = split_pipeline(pipeline)
        self.pipeline = pipeline
        self.baseline = baseline
        self.raw_columns = tuple(str(c) for c in features.named_steps["ratios"].feature_names_in_)
        self.categories: dict[str, tuple[str, ...]] = {c: () for c in categorical}
        self.calibration = unwrap(pipeline)[1]
        self.reason = reason  # why the pipeline is served (no compiled fast path)
        self.method = ""

    def frame(self, columns: Columns) -> pd.DataFrame:
        return pd.DataFrame({c: columns[c] for c in self.raw_columns})

    def predict(self, columns: Columns, contributions: bool = False) -> FastScores:
        """PD per row; with ``contributions``, the raw-column explanation (log-odds)."""
        frame = self.frame(columns)
        pd_ = np.asarray(self.pipeline.predict_proba(frame)[:, 1], dtype="float64")
        if not contributions:
            return FastScores(pd_)
        explanation = explain(self.pipeline, frame, self.baseline)
        self.method = explanation.method
        values = explanation.contributions[list(self.raw_columns)].to_numpy(dtype="float64")
        return FastScores(pd_, values, explanation.base_value)

    def predict_record(self, record: Mapping[str, Any], contributions: bool = False) -> FastScores:
        columns = columns_from_records([record], self.raw_columns, self.categories)
        return self.predict(columns, contributions)

    def unseen_record(self, record: Mapping[str, Any]) -> list[str]:
        return []

    def unseen(self, columns: Columns) -> list[list[str]]:
        return [[] for _ in range(len(next(iter(columns.values()))))]
