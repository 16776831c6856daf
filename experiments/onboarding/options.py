"""The columns the user names (``--target``, ``--id-column``, ``--date-column``) and the
checks they must pass: a given id or date column is used as it is, so it must already be
what ``riskgrade validate`` requires (present, unique ids; a date in every row)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from experiments.onboarding.decisions import ColumnDecision, InitError
from experiments.onboarding.reading import RawTable


@dataclass(frozen=True)
class InitOptions:
    """What the user said: the target column, and optionally the label meaning default, the id
    and the date column. ``seed``: the random sample of a large file and the leakage folds."""

    target: str
    positive_label: str | None = None
    id_column: str | None = None
    date_column: str | None = None
    seed: int = 42


def check_named_columns(table: RawTable, options: InitOptions) -> None:
    columns = [str(c) for c in table.frame.columns]
    named = {"--target": options.target, "--id-column": options.id_column}
    named["--date-column"] = options.date_column
    for option, column in named.items():
        if column is not None and column not in columns:
            raise InitError(
                f"{table.source}: {option} {column!r} is not a column; its columns: {columns[:20]}"
            )
    chosen = [c for c in named.values() if c is not None]
    if len(set(chosen)) < len(chosen):
        raise InitError("--target, --id-column and --date-column must name different columns")


def check_id_column(values: pd.Series, column: str) -> ColumnDecision:
    if values.isna().any():
        raise InitError(f"--id-column {column!r} is missing in {int(values.isna().sum())} rows")
    repeated = values[values.duplicated()]
    if len(repeated):
        raise InitError(
            f"--id-column {column!r} is not unique: {len(repeated)} repeated ids, e.g. "
            f"{repeated.iloc[0]!r}"
        )
    return ColumnDecision(column, "id", "--id-column")


def check_date_column(values: pd.Series, column: str) -> ColumnDecision:
    with warnings.catch_warnings():  # pandas warns when it cannot infer one format
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(values, errors="coerce")  # as riskgrade validate parses it
    bad = values[parsed.isna()]
    if len(bad):
        example = "a missing value" if bad.isna().iloc[0] else repr(bad.iloc[0])
        raise InitError(
            f"--date-column {column!r}: {len(bad)} rows are not dates (e.g. {example}); the "
            "out-of-time split needs a date in every row"
        )
    return ColumnDecision(column, "date", "--date-column: the out-of-time split")
