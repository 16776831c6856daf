"""Which of the target's two labels means default.

Labels are compared as ``riskgrade validate`` compares them: the text of the value pandas
reads from the file (``1``, ``1.0``, ``True``, ``bad``), so what is written to
``data.positive_label`` always matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from experiments.onboarding.decisions import InitError

# A label that says default by itself, and one that says the opposite.
DEFAULT_WORDS = re.compile(
    r"(?i)^(bad|defaulted|default|charged[ _-]?off|delinquent|written[ _-]?off|write[ _-]?off)$"
)
REPAID_WORDS = re.compile(
    r"(?i)^(good|non[ _-]?default|no[ _-]?default|not[ _-]?defaulted|fully[ _-]?paid|paid|current"
    r"|performing)$"
)
# A coding: the event is 1 / yes / true, unless the target's name says it is the good outcome.
EVENT_CODES = re.compile(r"(?i)^(1|1\.0|yes|y|true|t)$")
NO_EVENT_CODES = re.compile(r"(?i)^(0|0\.0|no|n|false|f)$")
GOOD_OUTCOME_NAME = re.compile(r"(?i)(repaid|paid|good|perform|creditab|creditworth|solven|approv)")


@dataclass(frozen=True)
class TargetLabels:
    positive: str  # means default
    negative: str
    default_rate: float
    why: str


def label_texts(values: pd.Series) -> pd.Series:
    """The label of each row as ``riskgrade validate`` sees it (pandas' type inference, then
    text): ``"01"`` is read as the number 1, ``true`` as the boolean ``True``."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype("string")
    text = values.astype("string")
    if set(text.str.lower().dropna()) <= {"true", "false"}:
        return text.str.lower().map({"true": "True", "false": "False"}).astype("string")
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return numbers.astype("string")
    return text


def infer_target_labels(values: pd.Series, column: str, positive: str | None) -> TargetLabels:
    """The default label (``positive``, or inferred) and the other; ``InitError`` when the
    target has missing values, not exactly two labels, or labels whose meaning is unclear."""
    missing = values.isna()
    if missing.any():
        raise InitError(
            f"target {column!r} is missing in {int(missing.sum())} of {len(values)} rows: a "
            "customer without an outcome cannot train a model; drop those rows from the file"
        )
    texts = label_texts(values)
    counts = texts.value_counts()
    labels = sorted(counts.index.tolist())
    if len(labels) != 2:
        detail = "a single label" if len(labels) == 1 else f"{len(labels)} labels"
        raise InitError(
            f"target {column!r} has {detail}, {labels[:10]}; riskgrade needs exactly two (default "
            "or not): map the file's outcomes to two labels"
        )
    if positive is not None:
        given = positive
        positive = same_label(positive, labels)
        if positive is None:
            raise InitError(
                f"--positive-label {given!r} is not a label of target {column!r}; its labels: "
                f"{labels}"
            )
        why = "--positive-label"
    else:
        positive, why = guess_positive(labels, column, counts)
    negative = next(label for label in labels if label != positive)
    return TargetLabels(positive, negative, float(counts[positive] / len(texts)), why)


def same_label(given: str, labels: list[str]) -> str | None:
    """The label ``given`` names, as the file writes it: itself, or the same number (``1`` for
    ``1.0``) or boolean (``true`` for ``True``)."""
    if given in labels:
        return given
    as_read = label_texts(pd.Series([given, *labels], dtype="string"))
    matches = [label for label, text in zip(labels, as_read[1:], strict=True) if text == as_read[0]]
    if not matches:
        number = pd.to_numeric(pd.Series([given, *labels]), errors="coerce")
        matches = [label for label, n in zip(labels, number[1:], strict=True) if n == number[0]]
    return matches[0] if len(matches) == 1 else None


def guess_positive(labels: list[str], column: str, counts: pd.Series) -> tuple[str, str]:
    for positive, negative in (labels, labels[::-1]):
        if DEFAULT_WORDS.match(positive) and REPAID_WORDS.match(negative):
            return positive, f"{positive!r} says default, {negative!r} says not"
        coded = EVENT_CODES.match(positive) and NO_EVENT_CODES.match(negative)
        if coded and not GOOD_OUTCOME_NAME.search(column):
            return positive, f"{positive!r}/{negative!r} coding: {positive!r} is the event"
    shown = " or ".join(f"{label!r} ({counts[label]} rows)" for label in labels)
    hint = ""
    if GOOD_OUTCOME_NAME.search(column):
        hint = (
            f" (the name {column!r} suggests a good outcome, so the usual coding may be reversed)"
        )
    raise InitError(
        f"cannot tell which label of target {column!r} means default: {shown}{hint}; rerun with "
        f"--positive-label {labels[0]} or --positive-label {labels[1]}"
    )
