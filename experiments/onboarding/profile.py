"""Every column's role, decided from the file's cells by generic rules (nothing per dataset).

In this order, the first rule that holds decides a column (the target, ``--id-column`` and
``--date-column`` are the user's):

1. **constant**: one value (or none) in every row -> excluded.
2. **date-like**: at least ``DATE_SHARE`` of the distinct texts look like and parse as dates
   (or Parquet stores dates) -> excluded, with a hint to pass it as ``--date-column``.
3. **id-like**: present and unique in every row, and text, or whole numbers that are named
   like an id (``id``, ``key``, ``no``...), consecutive or ascending in file order -> the id
   column when none is given, else excluded.
4. **protected attribute** by name (``PROTECTED_WORDS``: sex, gender, marital status, race,
   ethnicity, religion, nationality, foreign...) -> excluded and listed in ``data.protected``,
   as in the bundled params.yaml: kept for the fairness review, never a predictor. Age is
   kept, as there.
5. **decimal commas** (``1,5``: every value a number written so) -> excluded, with how to
   fix the file; **free text / near-id**: text with more than ``FREE_TEXT_LEVELS`` levels and
   more levels than half its values -> excluded.
6. **suspected leakage** (``leakage``): cross-fitted univariate ROC AUC >= 0.95 -> excluded.
7. numbers -> numeric (whole numbers within 0..``FEW_CODES`` get a hint: codes?); anything
   else -> categorical.

Missing-value tokens: see ``tokens``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from experiments.onboarding import leakage
from experiments.onboarding.decisions import ColumnDecision, InitError
from experiments.onboarding.options import (
    InitOptions,
    check_date_column,
    check_id_column,
    check_named_columns,
)
from experiments.onboarding.reading import RawTable
from experiments.onboarding.target import TargetLabels, infer_target_labels, label_texts
from experiments.onboarding.tokens import blank, is_text, missing_tokens

ID_WORDS = re.compile(r"^(id|ids|key|uuid|guid|no|nr|num|number|ref|reference)$")
PROTECTED_WORDS = re.compile(
    r"^(sex|gender|marital|married|marriage|race|racial|ethnic\w*|religio\w*|nationality"
    r"|citizen\w*|foreign\w*|pregnan\w*|disab\w*)$"
)
DATE_TEXT = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|[A-Za-z]{3,9}[-/ ]\d{2,4}|\d{1,2}[-/ ][A-Za-z]{3,9}[-/ ]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
DECIMAL_COMMA = r"[-+]?\d+(,\d+)?"
DATE_SHARE = 0.95
DATE_PROBE = 1000  # distinct texts tried as dates
FREE_TEXT_LEVELS = 20
FEW_CODES = 10  # whole numbers within 0..10 may be category codes (a hint, not a rule)


@dataclass(frozen=True)
class DataProfile:
    """The file's roles (one decision per column, in file order) and how to read it."""

    table: RawTable
    labels: TargetLabels
    decisions: list[ColumnDecision]
    na_values: tuple[str, ...]
    token_columns: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def columns(self, role: str) -> list[str]:
        return [d.column for d in self.decisions if d.role == role]

    def single(self, role: str) -> str | None:
        found = self.columns(role)
        return found[0] if found else None

    def why(self, role: str) -> str:
        """The reason given for the (first) column of ``role``; empty when there is none."""
        return next((d.why for d in self.decisions if d.role == role), "")


def name_words(name: str) -> list[str]:
    """``CustomerID`` -> ``[customer, id]``; ``personal_status_and_sex`` -> its words."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def numbers_of(values: pd.Series) -> pd.Series | None:
    """The column as float64 when every present value is a number, else None."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return None
    parsed = pd.to_numeric(values, errors="coerce").astype("float64")
    return parsed if (parsed.notna() == values.notna()).all() else None


def id_like(column: str, values: pd.Series, numbers: pd.Series | None) -> bool:
    if values.isna().any() or values.nunique() != len(values) or len(values) < 2:
        return False
    if numbers is None:
        return is_text(values)
    if not (numbers == numbers.round()).all():
        return False
    named = any(ID_WORDS.match(word) for word in name_words(column))
    consecutive = numbers.max() - numbers.min() + 1 == len(numbers)
    return named or consecutive or numbers.is_monotonic_increasing


def decimal_commas(values: pd.Series) -> bool:
    """Every value a number written with a decimal comma (``1,5``; a European export)."""
    text = values.dropna().astype(str)
    if text.empty:
        return False
    return bool(text.str.fullmatch(DECIMAL_COMMA).all() and text.str.contains(",").any())


def date_like(values: pd.Series) -> str | None:
    """An example value when the column holds dates, else None."""
    if pd.api.types.is_datetime64_any_dtype(values):
        present = values.dropna()
        return str(present.iloc[0]) if len(present) else None
    if not is_text(values):
        return None
    distinct = pd.Series(values.dropna().astype(str).unique()[:DATE_PROBE])
    if distinct.empty or distinct.str.match(DATE_TEXT).mean() < DATE_SHARE:
        return None
    parsed = pd.to_datetime(distinct, errors="coerce", format="mixed")
    return str(distinct.iloc[0]) if parsed.notna().mean() >= DATE_SHARE else None


def missing_note(values: pd.Series) -> str:
    n = int(values.isna().sum())
    if not n:
        return ""
    share = n / len(values)
    return f"; {n:,} missing ({share:.1%})" if share >= 0.001 else f"; {n:,} missing (<0.1%)"


def feature_decision(
    column: str,
    values: pd.Series,
    numbers: pd.Series | None,
    y: np.ndarray,
    seed: int,
    check_leakage: bool,
) -> ColumnDecision:
    """Rules 5-7 of the module docstring for a column that none of rules 1-4 decided
    (``numbers``: the column as numbers, None when it is not a number column)."""
    levels = values.nunique()
    if numbers is None and decimal_commas(values):
        return ColumnDecision(
            column, "excluded",
            f"numbers with a decimal comma (e.g. {values.dropna().iloc[0]!r}): riskgrade reads "
            "'.' as the decimal point; write the file with '.' to use it",
        )  # fmt: skip
    if numbers is None and levels > max(FREE_TEXT_LEVELS, values.notna().sum() / 2):
        return ColumnDecision(
            column, "excluded",
            f"free text or a near-id: {levels:,} levels in {int(values.notna().sum()):,} values; "
            "group it into fewer levels to use it",
        )  # fmt: skip
    if check_leakage:
        auc = leakage.univariate_auc(
            numbers if numbers is not None else values, y, numbers is not None, seed
        )
        if auc >= leakage.LEAKAGE_AUC:
            return ColumnDecision(
                column, "excluded",
                f"suspected leakage: alone it predicts the target with ROC AUC {auc:.3f} "
                f"(cross-fitted; threshold {leakage.LEAKAGE_AUC}); known only after the outcome? "
                "If it is known when applying, move it to numeric or categorical",
            )  # fmt: skip
    if numbers is not None:
        codes = ""
        present = numbers.dropna()
        if levels <= FEW_CODES and present.isin(range(FEW_CODES + 1)).all():
            codes = f"; only {levels} values: if codes, not amounts, move it to categorical"
        return ColumnDecision(column, "numeric", f"numbers{missing_note(values)}{codes}")
    return ColumnDecision(column, "categorical", f"text, {levels} levels{missing_note(values)}")


def decide_column(
    column: str,
    values: pd.Series,
    y: np.ndarray,
    options: InitOptions,
    id_taken: bool,
    check_leakage: bool,
) -> ColumnDecision:
    present = values.dropna()
    if present.nunique() <= 1:
        why = "missing in every row"
        if len(present):
            why = f"constant: {present.iloc[0]!r} in every row{missing_note(values)}"
        return ColumnDecision(column, "excluded", why)
    if (example := date_like(values)) is not None:
        return ColumnDecision(
            column, "excluded",
            f"dates (e.g. {example!r}): not a predictor; for an out-of-time split rerun with "
            f"--date-column {column}",
        )  # fmt: skip
    numbers = numbers_of(values)
    if id_like(column, values, numbers):
        if not id_taken:
            return ColumnDecision(column, "id", "unique in every row: the customer id")
        return ColumnDecision(
            column, "excluded", "unique in every row: another id, not a predictor"
        )
    if words := [w for w in name_words(column) if PROTECTED_WORDS.match(w)]:
        return ColumnDecision(
            column, "excluded",
            f"protected attribute (name: {words[0]!r}): kept for fairness reporting, never a "
            "predictor",
            protected=True,
        )  # fmt: skip
    return feature_decision(column, values, numbers, y, options.seed, check_leakage)


def profile_table(table: RawTable, options: InitOptions) -> DataProfile:
    """Decide every column's role and how the file is read; ``InitError`` if the user must help."""
    frame = table.frame
    if frame.empty:
        raise InitError(f"{table.source}: the file has no data rows")
    check_named_columns(table, options)
    tokens = missing_tokens(frame)
    cells = blank(frame, list(tokens))
    target = options.target
    labels = infer_target_labels(cells[target], target, options.positive_label)
    y = (label_texts(cells[target]) == labels.positive).to_numpy(dtype="int64")
    check_leakage = leakage.can_check(y)
    given = {
        target: ColumnDecision(
            target, "target",
            f"{labels.positive!r} = default ({labels.default_rate:.1%} of rows): {labels.why}",
        ),
    }  # fmt: skip
    if options.id_column:
        given[options.id_column] = check_id_column(cells[options.id_column], options.id_column)
    if options.date_column:
        given[options.date_column] = check_date_column(
            cells[options.date_column], options.date_column
        )
    decisions: list[ColumnDecision] = []
    for column in map(str, frame.columns):
        taken = options.id_column is not None or any(d.role == "id" for d in decisions)
        decision = given.get(column) or decide_column(
            column, cells[column], y, options, taken, check_leakage
        )
        decisions.append(decision)
    if not any(d.role in ("numeric", "categorical") for d in decisions):
        others = "; ".join(
            f"{d.column!r}: {d.role}, {d.why}" for d in decisions if d.column != target
        )
        raise InitError(f"{table.source}: no column is left as a feature ({others})")
    notes = profile_notes(table, tokens, cells, check_leakage)
    return DataProfile(table, labels, decisions, ("", *tokens), tokens, notes)


def profile_notes(
    table: RawTable, tokens: dict[str, list[str]], cells: pd.DataFrame, check_leakage: bool
) -> list[str]:
    notes = []
    if table.sampled:
        notes.append(
            f"profiled a random sample of {len(table.frame):,} of {table.n_rows:,} rows; "
            "riskgrade validate checks every row"
        )
    for token, columns in tokens.items():
        also = [
            str(c) for c in cells.columns
            if str(c) not in columns and is_text(table.frame[c]) and (table.frame[c] == token).any()
        ]  # fmt: skip
        if also:
            notes.append(
                f"missing-value token {token!r} (from {columns}) also blanks that text in {also}"
            )
    if not check_leakage:
        notes.append(
            f"leakage not checked: fewer than {leakage.MIN_CLASS_ROWS} defaults or non-defaults"
        )
    return notes
