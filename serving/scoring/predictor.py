"""The per-request fast path: validated customers in, decisions out, no pandas.

``LoadedModel`` is one registered version, compiled (``models.fastpath.compiled``; a family
without a compiler is served through its pipeline, ``models.fastpath.uncompiled``) with its
``ScoringPolicy``. ``decide`` turns customers into PD, score, tier, reason codes and
unseen-category flags with the same functions the pyfunc uses (``pd_to_score``,
``assign_tier``, ``models.scoring.reason_codes``), so the service, batch scoring and
``CreditRiskModel.score`` agree (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from models.fastpath.compiled import CompiledPipeline, FastScores, columns_from_records
from models.fastpath.uncompiled import PipelineScorer
from models.scoring.grades import assign_grade
from models.scoring.reason_codes import (
    build_reason,
    default_label,
    plain_value,
    top_rising,
)
from models.scoring.scorecard import ScoringPolicy, assign_tier, pd_to_score
from serving.scoring.schemas import InputColumn, RequestModels


class UnscorableInputError(ValueError):
    """Valid JSON whose values drive the model to a non-finite result (e.g. overflow)."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """One registered model version, ready to score."""

    name: str
    version: str
    alias: str
    compiled: CompiledPipeline | PipelineScorer  # the pipeline itself if its family cannot compile
    policy: ScoringPolicy
    columns: list[InputColumn]
    requests: RequestModels
    tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    labels: list[str] = field(init=False)  # readable label per raw column, as reasons name them

    def __post_init__(self) -> None:
        labels = self.policy.reasons.labels
        readable = [labels.get(c, default_label(c)) for c in self.compiled.raw_columns]
        object.__setattr__(self, "labels", readable)


@dataclass(frozen=True)
class Decision:
    """The outcome for one customer; ``contributions`` only when explaining."""

    pd: float
    score: int
    grade: int | None
    tier: str
    reasons: list[dict[str, Any]] | None
    unseen: list[str]


def to_columns(model: LoadedModel, customers: Sequence[Mapping[str, Any]]) -> dict:
    """Column arrays in the model's raw column order (see ``columns_from_records``)."""
    compiled = model.compiled
    return columns_from_records(customers, compiled.raw_columns, compiled.categories)


def reasons_of(
    model: LoadedModel, contributions: np.ndarray, value_at: Callable[[int, str], Any]
) -> list[list[dict[str, Any]]]:
    """Top risk-raising reasons per row, exactly as ``models.scoring.reason_codes.reason_codes``."""
    raw, labels, template = model.compiled.raw_columns, model.labels, model.policy.reasons.template
    order, top = top_rising(contributions, model.policy.reasons.top_k)
    worded: dict[tuple, tuple[Any, str]] = {}  # (column, value) -> (plain value, sentence)

    def reason(i: int, j: int, amount: float) -> dict[str, Any]:
        value = value_at(i, raw[j])
        key = (j, type(value), value)
        if key not in worded:  # batches repeat values: word each one once
            code = build_reason(raw[j], value, amount, labels[j], template)
            worded[key] = (code.value, code.sentence)
        plain, sentence = worded[key]
        return {"feature": raw[j], "value": plain, "contribution": amount, "sentence": sentence}

    return [
        [
            reason(i, j, amount)
            for j, amount in zip(order[i].tolist(), top[i].tolist(), strict=True)
            if amount > 0
        ]
        for i in range(len(contributions))
    ]


def check_finite(scores: FastScores) -> None:
    """Refuse results that cannot be a probability (only extreme inputs produce them)."""
    values = [scores.pd] if scores.contributions is None else [scores.pd, scores.contributions]
    if not all(np.isfinite(v).all() for v in values):
        raise UnscorableInputError(
            "the input values are too extreme to score (the model output is not a finite "
            "number); check the numeric fields"
        )


def without_na_text(model: LoadedModel, customer: Mapping[str, Any]) -> Mapping[str, Any]:
    """The customer with text equal to one of the version's ``na_values`` as missing (None)."""
    tokens = model.policy.na_values
    if not any(isinstance(value, str) and value in tokens for value in customer.values()):
        return customer
    return {
        column: None if isinstance(value, str) and value in tokens else value
        for column, value in customer.items()
    }


def decide(
    model: LoadedModel,
    customers: Sequence[Mapping[str, Any]],
    reasons: bool,
) -> list[Decision]:
    """Decisions for customers given as ``{raw column: value}`` (validated upstream).

    One customer takes the plain-Python row path (``predict_record``), several the
    column-wise one; both are checked against the registered pipeline.
    """
    customers = [without_na_text(model, customer) for customer in customers]
    if len(customers) != 1:
        return decide_columns(model, to_columns(model, customers), reasons)
    record = customers[0]
    scores = model.compiled.predict_record(record, contributions=wants_reasons(model, reasons))
    unseen = [model.compiled.unseen_record(record)]
    return finish(model, scores, lambda _, column: record.get(column), unseen)


def decide_columns(
    model: LoadedModel, columns: Mapping[str, np.ndarray], reasons: bool
) -> list[Decision]:
    """Decisions for customers given as column arrays (see ``columns_from_records``)."""
    scores = model.compiled.predict(columns, contributions=wants_reasons(model, reasons))
    unseen = model.compiled.unseen(columns)
    return finish(model, scores, lambda i, column: columns[column][i], unseen)


def wants_reasons(model: LoadedModel, reasons: bool) -> bool:
    return reasons and model.policy.reasons.top_k > 0


def finish(
    model: LoadedModel,
    scores: FastScores,
    value_at: Callable[[int, str], Any],
    unseen: list[list[str]],
) -> list[Decision]:
    """Scores, tiers and reason codes of predicted rows (``value_at(row, column)``: raw value)."""
    check_finite(scores)
    points = pd_to_score(scores.pd, model.policy.scaling).tolist()
    tiers = assign_tier(scores.pd, model.policy.tiers).tolist()
    grades = grades_of(model, scores.pd)
    codes = None
    if scores.contributions is not None:
        codes = reasons_of(model, scores.contributions, value_at)
    return [
        Decision(
            float(p),
            int(points[i]),
            grades[i],
            str(tiers[i]),
            None if codes is None else codes[i],
            unseen[i],
        )
        for i, p in enumerate(scores.pd.tolist())
    ]


def grades_of(model: LoadedModel, pd_: np.ndarray) -> list[int | None]:
    """Master-scale grade per PD; None for versions registered without a master scale."""
    if model.policy.grades is None:
        return [None] * len(pd_)
    return [int(g) for g in assign_grade(pd_, model.policy.grades).tolist()]


def explanation_of(
    model: LoadedModel, customer: Mapping[str, Any]
) -> tuple[Decision, dict[str, Any]]:
    """One customer's decision (without reason codes) and full per-raw-column explanation
    (largest |contribution| first), both from one prediction."""
    customer = without_na_text(model, customer)
    scores = model.compiled.predict_record(customer, contributions=True)
    check_finite(scores)
    assert scores.contributions is not None and scores.base_value is not None
    unseen = [model.compiled.unseen_record(customer)]
    decision = finish(model, FastScores(scores.pd), lambda _, c: customer.get(c), unseen)[0]
    row = scores.contributions[0]
    items: list[dict[str, Any]] = [
        {
            "feature": column,
            "label": label,
            "value": plain_value(customer.get(column)),
            "contribution": float(row[j]),
        }
        for j, (column, label) in enumerate(
            zip(model.compiled.raw_columns, model.labels, strict=True)
        )
    ]
    items.sort(key=lambda item: -abs(item["contribution"]))
    margin = scores.base_value + float(row.sum())
    method = model.compiled.method
    return decision, {
        "base_value": scores.base_value,
        "margin": margin,
        "contributions": items,
        "method": method,
    }
