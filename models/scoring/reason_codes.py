"""Reason codes: for each scored customer, the features that pushed the risk UP the most.

They come from the model's own contributions (``models.explain.explanation.explain``), in
log-odds of default: a positive contribution raises the PD above the baseline customer's.
Features that lower the risk are never reported as reasons. Each reason carries the customer's
raw value and a sentence from a template, so serving can return it as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from features.schema import FrozenModel
from models.explain.additive import Explanation

DEFAULT_TEMPLATE = "{label} {value} raises risk"
"""Placeholders: ``{label}`` (readable feature name) and ``{value}`` (formatted value:
quoted text for categories, a number, or ``missing``)."""


class ReasonSettings(FrozenModel):
    """How many reasons come with each score, and how they read (``scorecard.reasons``)."""

    top_k: int = Field(default=4, ge=0, le=20)
    labels: dict[str, str] = Field(default_factory=dict, description="column -> readable label")
    template: str = DEFAULT_TEMPLATE


@dataclass(frozen=True)
class ReasonCode:
    """One risk-raising factor of one customer.

    ``value`` is the raw input (``None`` when missing); ``contribution`` is in log-odds of
    default and always > 0.
    """

    feature: str
    value: str | int | float | None
    contribution: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (plain Python types only)."""
        return asdict(self)


def default_label(column: str) -> str:
    """``status_of_existing_checking_account`` -> ``Status of existing checking account``."""
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def plain_value(value: Any) -> str | int | float | None:
    """The raw value as a plain Python scalar; missing (NaN, None, NA) becomes ``None``."""
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        return int(number) if number.is_integer() else number
    return str(value)


def format_value(value: str | int | float | None) -> str:
    """``missing``, a number with thousands separators (at most 2 decimals), or quoted text."""
    if value is None:
        return "missing"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"'{value}'"


def top_rising(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and values of each row's ``k`` largest contributions, largest first.

    Ties keep column order (stable sort). Callers drop entries that are not > 0.
    """
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(contributions, order, axis=1)


def build_reason(
    feature: str, value: Any, contribution: float, label: str, template: str
) -> ReasonCode:
    """One reason code with its sentence; ``value`` is the raw input value."""
    plain = plain_value(value)
    sentence = template.format(label=label, value=format_value(plain))
    return ReasonCode(feature, plain, float(contribution), sentence)


def reason_codes(
    explanation: Explanation,
    X_raw: pd.DataFrame,
    k: int = 4,
    labels: Mapping[str, str] | None = None,
    template: str = DEFAULT_TEMPLATE,
) -> list[list[ReasonCode]]:
    """Per row of ``X_raw``, up to ``k`` features that raised the risk, largest first.

    ``explanation`` must come from ``explain`` on the same rows (same index, raw columns).
    A row gets fewer than ``k`` reasons when fewer features push its risk up. ``labels`` maps
    column -> readable label (default: the column name with spaces, capitalised).
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"reason_codes: k must be a positive integer, got {k!r}")
    contributions = explanation.contributions
    if not X_raw.index.equals(contributions.index):
        raise ValueError(
            "reason_codes: X_raw must be the rows that were explained (same index, same order)"
        )
    missing = [c for c in contributions.columns if c not in X_raw.columns]
    if missing:
        raise ValueError(f"reason_codes: X_raw lacks the explained column(s) {missing}")
    columns = [str(c) for c in contributions.columns]
    readable = [(labels or {}).get(c, default_label(c)) for c in columns]
    values = X_raw[columns].to_numpy(dtype=object)
    order, top = top_rising(contributions.to_numpy(dtype="float64"), k)
    return [
        [
            build_reason(columns[j], values[i, j], amount, readable[j], template)
            for j, amount in zip(order[i], top[i], strict=True)
            if amount > 0
        ]
        for i in range(len(values))
    ]
