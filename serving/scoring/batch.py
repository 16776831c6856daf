"""Batch scoring of a CSV or Parquet file with the service's own fast path.

Memory stays bounded: the input is read in chunks (pyarrow record batches for Parquet,
pandas chunks for CSV) and the output written chunk by chunk with a Parquet writer into a
temporary file that is moved into place only when every chunk has succeeded. Each row gets
the service's outputs (``pd``, ``score``, ``tier``, ``reasons`` as JSON, ``unseen_categories``).
A row that the service would refuse (text in a number column, a number outside its valid
range, a missing value where an old version requires one, ...) is written to the rejects CSV
with its row number and reason, never dropped silently.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.schema import TableFormat
from features.validation import mark_missing
from models.scoring.scorecard import assign_tier, pd_to_score
from serving.scoring.predictor import (
    LoadedModel,
    check_finite,
    grades_of,
    reasons_of,
    wants_reasons,
)
from serving.scoring.schemas import INT64_MAX, InputColumn

ROW_NUMBER = "row_number"  # 1-based position of the row in the input file
OUTPUTS = ("pd", "score", "grade", "tier", "reasons", "unseen_categories")
OUTPUT_SCHEMA = pa.schema(
    [
        (ROW_NUMBER, pa.int64()),
        ("pd", pa.float64()),
        ("score", pa.int64()),
        ("grade", pa.int64()),  # master-scale grade (null for versions without one)
        ("tier", pa.string()),
        ("reasons", pa.string()),  # JSON list, null with --no-reasons
        ("unseen_categories", pa.string()),  # JSON list
        ("strategy", pa.string()),  # JSON: the tier's strategy and recommended actions
        ("model_version", pa.string()),
    ]
)


class BatchInputError(ValueError):
    """The input file cannot be scored at all (missing columns, unknown format)."""


@dataclass
class BatchSummary:
    rows: int = 0
    scored: int = 0
    rejected: int = 0


def iter_chunks(path: Path, chunk_rows: int, table: TableFormat) -> Iterator[pd.DataFrame]:
    """The input file in frames of at most ``chunk_rows`` rows (CSV cells read as text).

    Text equal to one of ``table.na_values`` is missing, exactly as in training.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from pd.read_csv(
            path,
            chunksize=chunk_rows,
            dtype=str,
            sep=table.delimiter,
            encoding=table.encoding,
            keep_default_na=False,
            na_values=list(table.na_values),
        )
    elif suffix in (".parquet", ".pq"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield mark_missing(batch.to_pandas(), table.na_values)
    else:
        raise BatchInputError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def column_problems(values: pd.Series, column: InputColumn) -> tuple[pd.Series, pd.Series]:
    """(parsed values, problem text per row or "") for one column, as the service checks
    (a number's valid range, ``column.valid``, is the version's ``data.ranges``)."""
    missing = values.isna()
    problems = pd.Series("", index=values.index, dtype=object)
    if column.type in ("long", "integer", "double", "float"):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        problems[~missing & numbers.isna()] = f"{column.name}: expected {column.expected}"
        bad = ~np.isfinite(numbers) & numbers.notna()
        if column.type in ("long", "integer"):
            bad |= numbers.notna() & ((numbers % 1 != 0) | (numbers.abs() > INT64_MAX))
        problems[bad] = f"{column.name}: expected {column.expected}"
        if column.valid is not None:
            outside = numbers.notna() & ~bad & ~numbers.between(*column.valid.bounds)
            problems[outside] = f"{column.name}: expected {column.expected} (data.ranges)"
        parsed: pd.Series = numbers
    else:
        parsed = values.astype(object).where(~missing, None)
        if pd.api.types.infer_dtype(parsed, skipna=True) not in ("string", "empty"):
            parsed = parsed.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    if column.required:
        problems[missing] = f"{column.name}: missing value (expected {column.expected})"
    return parsed, problems


def check_chunk(model: LoadedModel, frame: pd.DataFrame) -> tuple[dict[str, Any], pd.Series]:
    """Parsed columns of a chunk and each row's problems ("" when the row is valid)."""
    missing = [c.name for c in model.columns if c.name not in frame.columns]
    if missing:
        raise BatchInputError(f"the input lacks the model's column(s) {missing}")
    parsed: dict[str, Any] = {}
    found: list[pd.Series] = []
    for column in model.columns:
        parsed[column.name], problems = column_problems(frame[column.name], column)
        found.append(problems)
    table = pd.concat(found, axis=1)
    problems = pd.Series("", index=frame.index, dtype=object)
    bad = (table != "").any(axis=1)
    if bad.any():
        joined = ["; ".join(p for p in row if p) for row in table[bad].to_numpy()]
        problems[bad] = np.asarray(joined, dtype=object)
    return parsed, problems


def score_chunk(
    model: LoadedModel, frame: pd.DataFrame, first_row: int, reasons: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored rows, rejected rows) of one chunk; row numbers are 1-based file positions."""
    frame = frame.reset_index(drop=True)
    parsed, problems = check_chunk(model, frame)
    numbers = np.arange(first_row, first_row + len(frame))
    ok = (problems == "").to_numpy()
    rejects = pd.DataFrame({ROW_NUMBER: numbers[~ok], "reason": problems[~ok].to_numpy()})
    categorical = model.compiled.categories
    columns = {
        c: parsed[c][ok].to_numpy(dtype=object if c in categorical else "float64")
        for c in model.compiled.raw_columns
    }
    scored = score_table(model, columns, reasons)
    scored.insert(0, ROW_NUMBER, numbers[ok])
    strategies = {
        tier: json.dumps(model.policy.strategies.for_tier(tier).model_dump(mode="json"))
        for tier in ("low", "medium", "high")
    }
    scored["strategy"] = [strategies[tier] for tier in scored["tier"]]
    scored["model_version"] = model.version
    return scored, rejects


def score_table(model: LoadedModel, columns: dict[str, np.ndarray], reasons: bool) -> pd.DataFrame:
    """The service's outputs for many rows, column-wise (no per-row decision objects)."""
    n_rows = len(columns[model.compiled.raw_columns[0]])
    if n_rows == 0:
        return pd.DataFrame({name: [] for name in OUTPUT_SCHEMA.names if name in OUTPUTS})
    scores = model.compiled.predict(columns, contributions=wants_reasons(model, reasons))
    check_finite(scores)
    codes = None
    if scores.contributions is not None:
        codes = reasons_of(model, scores.contributions, lambda i, c: columns[c][i])
    unseen = model.compiled.unseen(columns)
    return pd.DataFrame(
        {
            "pd": scores.pd,
            "score": pd_to_score(scores.pd, model.policy.scaling),
            "grade": pd.array(grades_of(model, scores.pd), dtype="Int64"),
            "tier": assign_tier(scores.pd, model.policy.tiers),
            "reasons": [json.dumps(c) for c in codes] if codes is not None else None,
            "unseen_categories": ["[]" if not u else json.dumps(u) for u in unseen],
        }
    )


def score_file(
    model: LoadedModel,
    paths: tuple[Path, Path, Path],
    chunk_rows: int = 100_000,
    reasons: bool = True,
    progress: Callable[[int], None] | None = None,
    table: TableFormat | None = None,
) -> BatchSummary:
    """Score ``paths = (input, output.parquet, rejects.csv)``; both outputs written atomically.

    ``table``: the CSV delimiter and encoding (default: comma, UTF-8); its ``na_values`` are
    replaced by the model version's own, the text that meant missing in training.
    """
    source, output, rejects_path = paths
    table = (table or TableFormat()).model_copy(update={"na_values": model.policy.na_values})
    summary = BatchSummary()
    with atomic(output) as tmp_out, atomic(rejects_path) as tmp_rejects:
        writer: pq.ParquetWriter | None = None
        with tmp_rejects.open("w", newline="", encoding="utf-8") as rejects_file:
            rejects_csv = csv.writer(rejects_file)
            rejects_csv.writerow([ROW_NUMBER, "reason"])
            for chunk in iter_chunks(source, chunk_rows, table):
                scored, rejected = score_chunk(model, chunk, summary.rows + 1, reasons)
                table = pa.Table.from_pandas(scored, schema=OUTPUT_SCHEMA, preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp_out, OUTPUT_SCHEMA)
                writer.write_table(table)
                rejects_csv.writerows(rejected.itertuples(index=False))
                summary.rows += len(chunk)
                summary.scored += len(scored)
                summary.rejected += len(rejected)
                if progress is not None:
                    progress(len(chunk))
        if writer is None:
            raise BatchInputError(f"{source}: no rows to score")
        writer.close()
    return summary


class atomic:  # noqa: N801 - used like contextlib helpers
    """Context manager: a temporary path beside ``target``, moved into place on success.

    The file is created with mode 0o666 less the umask, as ``open`` would create the target
    (``tempfile.mkstemp`` makes it 0o600, which would hide the output from the group), and
    the umask is never changed to read it (a thread could create a file meanwhile).
    """

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.target.parent / f".{self.target.name}.{secrets.token_hex(8)}.tmp"
        os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        return self.tmp

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            os.replace(self.tmp, self.target)
        self.tmp.unlink(missing_ok=True)
