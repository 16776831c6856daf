"""Missing-value tokens: the text a file writes where a value is missing.

The empty field always; in any column, the text that means missing in common exports
(``UNAMBIGUOUS_TOKENS``: R's and pandas' ``NA``/``NaN``, SQL's ``NULL``, Excel's ``#N/A``, the
UCI repository's ``?``); and in a column otherwise made of numbers, up to
``MAX_COLUMN_TOKENS`` distinct texts without a digit ("-", "none", "missing"): a number
column cannot hold words, so those words mean missing. A word that is a level of a text
column only ("none" as "no guarantor") is not a token. ``data.na_values`` applies to every
column, so a token also blanks the same text in a text column (``riskgrade init`` says so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

UNAMBIGUOUS_TOKENS = ("NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NULL", "null", "?")
MAX_COLUMN_TOKENS = 3


def is_text(values: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(values)
        or pd.api.types.is_bool_dtype(values)
        or pd.api.types.is_datetime64_any_dtype(values)
    )


def column_tokens(values: pd.Series) -> list[str]:
    """The missing-value tokens this column gives evidence of (see the module docstring)."""
    if not is_text(values):
        return []
    text = values.dropna().astype(str)
    text = text[text != ""]
    found = [t for t in UNAMBIGUOUS_TOKENS if (text == t).any()]
    rest = text[~text.isin(found)]
    values_seen = pd.Series(rest.unique())  # parse each distinct text once
    distinct = values_seen[pd.to_numeric(values_seen, errors="coerce").isna()].tolist()
    words = int(rest.isin(distinct).sum())
    few_words = 0 < len(distinct) <= MAX_COLUMN_TOKENS and len(rest) - words >= words
    if few_words and not any(re.search(r"\d", w) for w in distinct):
        found += sorted(distinct)
    return found


def missing_tokens(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Each token and the columns that hold it as missing-value evidence."""
    tokens: dict[str, list[str]] = {}
    for column in frame.columns:
        for token in column_tokens(frame[column]):
            tokens.setdefault(token, []).append(str(column))
    return tokens


def blank(frame: pd.DataFrame, tokens: Sequence[str]) -> pd.DataFrame:
    """Text cells equal to a token, or empty, as missing (what ``data.na_values`` does)."""
    out = frame.copy()
    for column in out.columns:
        if is_text(out[column]):
            text = out[column]
            out[column] = text.astype(object).where(~text.isin(["", *tokens]) & text.notna(), None)
    return out
