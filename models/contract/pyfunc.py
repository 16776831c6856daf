"""The model contract as an MLflow pyfunc.

Raw customer record in; per customer ``pd`` (calibrated), ``score``, ``grade`` (master
scale), ``tier``, ``reasons`` (JSON list of
the top risk-raising factors) and ``strategy`` (JSON: the tier's credit-limit policy, payment
terms, collateral, review frequency and recommended actions) out. A registered version is
this wrapper around the whole fitted model (``models.calibration.CalibratedPipeline``: the
scikit-learn pipeline and its calibration map, stored with skops, MLflow's safe format), the
``ScoringPolicy`` fitted with it (grades, tier cut-offs) and, for families that explain
relative to one, the baseline of its explanations (logistic: the mean encoded training row;
scorecard: its best attributes; an aggregate either way, no customer's record is stored;
the artifact keeps its first name, ``background_mean``). So a version always scores and
explains the same way. Pass ``params={"reason_codes": k}`` to change the number of reasons
(0: none). This module only defines the adapter; logging happens in ``experiments``.
A version carries a copy of ``models`` and ``features`` (``pyfunc_entry`` says when it is
used), so it loads where only its ``requirements.txt`` is installed: nothing on the load and
predict path may import ``experiments``, ``serving`` or a training-only package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import skops.io
from mlflow.pyfunc import PythonModel
from sklearn.pipeline import Pipeline

from features.validation import mark_missing
from models.calibration import CalibratedPipeline
from models.explain.explanation import explain
from models.families.registry import trusted_types
from models.scoring.reason_codes import plain_value, reason_codes
from models.scoring.scorecard import ScoringPolicy, score_customers

PIPELINE_ARTIFACT = "pipeline"
POLICY_ARTIFACT = "policy"
BACKGROUND_ARTIFACT = "background_mean"
REASONS_PARAM = "reason_codes"

# Types inside a riskgrade pipeline that skops must be told to trust when loading: the
# shared steps, and what each model family declares.
TRUSTED_TYPES = [
    "features.transformers.RatioFeatures",
    "models.calibration.CalibratedPipeline",
    *trusted_types(),
]


Model: TypeAlias = CalibratedPipeline | Pipeline  # a bare Pipeline: registered before calibration


def save_pipeline(pipeline: Model, path: Path) -> None:
    skops.io.dump(pipeline, path)


def load_pipeline(path: Path) -> Model:
    untrusted = skops.io.get_untrusted_types(file=path)
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ValueError(f"{path}: pipeline holds types riskgrade does not trust: {unexpected}")
    pipeline: Model = skops.io.load(path, trusted=untrusted)
    return pipeline


def numbers_checked(rows: pd.DataFrame, policy: ScoringPolicy) -> pd.DataFrame:
    """``rows`` with each number column (``policy.numeric_inputs``) as float64; text there, or
    a number outside the column's valid range (``policy.ranges``), is refused with the column,
    row and value (the signature types these columns ``Any``)."""
    parsed = {}
    for column in policy.numeric_inputs:
        if column not in rows:
            continue
        values = pd.to_numeric(rows[column], errors="coerce").astype("float64")
        valid = policy.ranges.get(column)
        bad = values.isna() & rows[column].notna()
        if valid is not None:
            bad |= values.notna() & ~values.between(*valid.bounds)
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            expected = "a number" if valid is None else f"a number {valid.words}"
            raise ValueError(
                f"column {column!r}: expected {expected} or a missing value, found "
                f"{plain_value(rows[column].iloc[first])!r} in row {first + 1}"
            )
        if not pd.api.types.is_numeric_dtype(rows[column].dtype):
            parsed[column] = values
    return rows.assign(**parsed) if parsed else rows


class CreditRiskModel(PythonModel):  # type: ignore[misc]
    """pyfunc adapter: one row per customer with pd, score, tier and reasons."""

    def __init__(self) -> None:
        self.pipeline: Model | None = None
        self.policy: ScoringPolicy | None = None
        self.background_mean: pd.Series | None = None

    def load_context(self, context: Any) -> None:
        self.pipeline = load_pipeline(Path(context.artifacts[PIPELINE_ARTIFACT]))
        policy_text = Path(context.artifacts[POLICY_ARTIFACT]).read_text(encoding="utf-8")
        self.policy = ScoringPolicy.model_validate_json(policy_text)
        # Versions logged before explanations travelled with the model have no background.
        background = context.artifacts.get(BACKGROUND_ARTIFACT)
        means = json.loads(Path(background).read_text(encoding="utf-8")) if background else {}
        self.background_mean = pd.Series(means, dtype="float64") if means else None

    def score(self, rows: pd.DataFrame, n_reasons: int) -> pd.DataFrame:
        """pd, score, tier (+ reasons as a JSON list when ``n_reasons`` > 0) per row.

        Text equal to one of the version's ``na_values`` is a missing value, as in training.
        """
        if self.pipeline is None or self.policy is None:
            raise RuntimeError("CreditRiskModel used before load_context")
        rows = numbers_checked(mark_missing(rows, self.policy.na_values), self.policy)
        scored = score_customers(self.pipeline.predict_proba(rows)[:, 1], self.policy)
        reasons: list[list[dict[str, Any]]] = [[] for _ in range(len(rows))]
        if n_reasons > 0:
            frame = rows.reset_index(drop=True)
            explanation = explain(self.pipeline, frame, self.background_mean)
            settings = self.policy.reasons
            codes = reason_codes(explanation, frame, n_reasons, settings.labels, settings.template)
            reasons = [[code.to_dict() for code in row] for row in codes]
        scored["reasons"] = [json.dumps(row) for row in reasons]
        strategies = {
            tier: json.dumps(self.policy.strategies.for_tier(tier).model_dump(mode="json"))
            for tier in ("low", "medium", "high")
        }
        scored["strategy"] = [strategies[tier] for tier in scored["tier"]]
        return scored

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        default = self.policy.reasons.top_k if self.policy else 0
        n_reasons = int((params or {}).get(REASONS_PARAM, default))
        return self.score(model_input, n_reasons)
