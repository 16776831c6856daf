"""Check a raw table against its ``DatasetSchema`` and return the typed, model-ready frame.

All problems are collected before raising, so a user fixes a file in one pass. Messages
name the file, the column and what was expected; row numbers are 1-based data rows (the
header is not counted).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from features.schema import DatasetSchema, ValueRange

MAX_EXAMPLES = 5


class DataValidationError(ValueError):
    """Raised when a dataset breaks its contract. ``problems`` holds one line per issue."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) found:\n{lines}")


def _examples(values: pd.Series) -> str:
    """Up to ``MAX_EXAMPLES`` offending values with their 1-based row numbers."""
    # The raw frame has a RangeIndex, so the index is the 0-based row position.
    head = values.head(MAX_EXAMPLES)
    shown = ", ".join(f"row {cast(int, i) + 1}: {v!r}" for i, v in head.items())
    more = len(values) - MAX_EXAMPLES
    return shown + (f" (and {more} more)" if more > 0 else "")


def mark_missing(frame: pd.DataFrame, na_values: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with every text cell equal to one of ``na_values`` set to missing.

    The one definition of "missing" for text: ingest/validate, batch scoring, the service and
    the registered pyfunc model all apply it (``data.na_values``, stored with each version).
    Numbers are never tokens (``DatasetSchema`` refuses numeric ones).
    """
    if not na_values:
        return frame
    tokens = list(na_values)
    hits = {
        c: hit
        for c in frame.columns
        if frame[c].dtype in (object, "string") and (hit := frame[c].isin(tokens)).any()
    }
    if not hits:
        return frame
    marked = frame.copy()
    for column, hit in hits.items():
        marked[column] = marked[column].astype(object).where(~hit, None)
    return marked


def check_columns(raw: pd.DataFrame, schema: DatasetSchema) -> list[str]:
    """Missing declared columns and columns the schema does not know."""
    problems = []
    if schema.target not in raw.columns:
        problems.append(
            f"target column {schema.target!r} is missing; set data.target in params.yaml "
            f"(columns found: {list(raw.columns)[:10]})"
        )
    missing = [c for c in schema.declared_columns if c not in raw.columns and c != schema.target]
    if missing:
        problems.append(f"declared column(s) missing from the file: {missing}")
    unknown = [c for c in raw.columns if c not in schema.declared_columns]
    if unknown:
        problems.append(
            f"unknown column(s) {unknown}: give each a role in params.yaml "
            "(data.numeric, data.categorical or data.excluded)"
        )
    return problems


def encode_target(values: pd.Series, schema: DatasetSchema) -> tuple[pd.Series, list[str]]:
    """Map the configured labels to 1 (positive = default) and 0; report anything else."""
    as_text = values.astype("string")
    positive, negative = str(schema.positive_label), str(schema.negative_label)
    if values.isna().any():
        return values, [
            f"target {schema.target!r} has missing values at {_examples(values[values.isna()])}"
        ]
    unexpected = values[~as_text.isin([positive, negative])]
    if len(unexpected):
        labels = sorted(as_text.unique().tolist())
        return values, [
            f"target {schema.target!r} must hold only {positive!r} (default) and {negative!r} "
            f"(no default); found labels {labels[:10]} e.g. {_examples(unexpected)}"
        ]
    encoded = (as_text == positive).astype("int64")
    if encoded.nunique() < 2:
        return values, [
            f"target {schema.target!r} has a single class {labels_of(as_text)}; need both"
        ]
    return encoded, []


def labels_of(values: pd.Series) -> list[str]:
    return sorted(values.dropna().astype(str).unique().tolist())


def coerce_numeric(values: pd.Series, column: str) -> tuple[pd.Series, list[str]]:
    """Parse a numeric column; missing values stay NaN, text and infinities are errors.

    A column of whole numbers without missing values stays ``int64`` (as pandas reads it
    from the raw file), so the model signature accepts raw rows exactly as they are stored.
    """
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = values[parsed.isna() & values.notna()]
    if len(bad):
        return parsed, [
            f"column {column!r} must be numeric; found text at {_examples(bad)}. If such "
            "text means 'missing' in this file, list it in data.na_values"
        ]
    infinite = values[np.isinf(parsed)]
    if len(infinite):
        return parsed, [f"column {column!r} has infinite values at {_examples(infinite)}"]
    if parsed.notna().all() and (parsed == parsed.round()).all():
        return parsed.astype("int64"), []
    return parsed, []


def check_range(values: pd.Series, column: str, valid: ValueRange | None) -> list[str]:
    """Values outside the column's declared range (``data.ranges``), with their rows."""
    if valid is None:
        return []
    outside = values[values.notna() & ~values.between(*valid.bounds)]
    if not len(outside):
        return []
    return [f"column {column!r} must be {valid.words} (data.ranges); found {_examples(outside)}"]


def check_ids(ids: pd.Series, column: str) -> list[str]:
    """Ids must be present and unique: they key scoring history and the audit trail."""
    problems = []
    if ids.isna().any():
        problems.append(f"id column {column!r} has missing values at {_examples(ids[ids.isna()])}")
    duplicated = ids[ids.duplicated(keep=False) & ids.notna()]
    if len(duplicated):
        problems.append(f"id column {column!r} has duplicate ids: {_examples(duplicated)}")
    return problems


def parse_dates(values: pd.Series, column: str) -> tuple[pd.Series, list[str]]:
    parsed = pd.to_datetime(values, errors="coerce")
    bad = values[parsed.isna()]
    if len(bad):
        return parsed, [f"date column {column!r} must hold dates; found {_examples(bad)}"]
    return parsed, []


def validate_dataset(raw: pd.DataFrame, schema: DatasetSchema, source: str) -> pd.DataFrame:
    """Return the typed frame: id, features (float64 / string), excluded, date, target (0/1).

    Raises ``DataValidationError`` listing every problem when the contract is broken.
    Categorical values are kept as strings; missing values are allowed in features (the
    feature pipeline imputes them) but not in the id, date or target.
    """
    if raw.empty:
        raise DataValidationError(source, ["the file has no data rows"])
    problems = check_columns(raw, schema)
    if problems:
        raise DataValidationError(source, problems)
    out = pd.DataFrame(index=raw.index)
    if schema.id_column:
        out[schema.id_column] = raw[schema.id_column].astype("string")
        problems += check_ids(out[schema.id_column], schema.id_column)
    else:
        out[schema.id_name] = [f"{i + 1:07d}" for i in range(len(raw))]
    for column in schema.numeric:
        out[column], found = coerce_numeric(raw[column], column)
        problems += found or check_range(out[column], column, schema.ranges.get(column))
    for column in [*schema.categorical, *schema.excluded]:
        out[column] = raw[column].astype("string").astype(object).where(raw[column].notna(), None)
    if schema.date_column:
        out[schema.date_column], found = parse_dates(raw[schema.date_column], schema.date_column)
        problems += found
    out[schema.target], found = encode_target(raw[schema.target], schema)
    problems += found
    if problems:
        raise DataValidationError(source, problems)
    return out.reset_index(drop=True)
