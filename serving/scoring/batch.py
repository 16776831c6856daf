"""Batch scoring of a CSV or Parquet file with the service's own fast path.

Memory stays bounded: the input is read in chunks (pyarrow record batches for Parquet,
pandas chunks for CSV) and the output written chunk by chunk with a Parquet writer into a
temporary file that is moved into place only when every chunk has succeeded. Each row gets
the service's outputs (``pd``, ``score``, ``tier``, ``reasons`` as JSON, ``unseen_categories``).
A row that the service would refuse (text in a number column, a number outside its valid
range, a missing value where an old version requires one, a CSV record with more fields than
the header, ...) is written to the rejects CSV with its row number and reason, never dropped
silently. Paths that cannot work (an empty input, an output that is a directory or the input
itself) are refused before anything is written, and no failure leaves a temporary file.

``row_number`` is the record's position in the file, 1 = the first data row: the header line
is not counted, nor are blank lines, and a record whose quoted field holds a line break counts
once (so it is the line number only for a file without those).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import secrets
import warnings
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

ROW_NUMBER = "row_number"  # the record's position in the file, 1 = the first data row
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
    """The input file cannot be scored at all (missing columns, unknown format, empty)."""


class OutputPathError(BatchInputError):
    """An output path that cannot be written (a directory, the input file); the message names
    the paths. Raised before anything is written."""


@dataclass
class BatchSummary:
    rows: int = 0
    scored: int = 0
    rejected: int = 0


Malformed = dict[int, str]  # position of a record in its chunk -> why it cannot be read


def iter_chunks(
    path: Path, chunk_rows: int, table: TableFormat
) -> Iterator[tuple[pd.DataFrame, Malformed]]:
    """The input file in frames of at most ``chunk_rows`` records (CSV cells read as text), each
    with its malformed records (CSV: more fields than the header), which keep their place.

    Text equal to one of ``table.na_values`` is missing, exactly as in training.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from csv_chunks(path, chunk_rows, table)
    elif suffix in (".parquet", ".pq"):
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield mark_missing(batch.to_pandas(), table.na_values), {}
        except pa.ArrowInvalid as error:
            raise BatchInputError(f"cannot be read as Parquet ({first_line(error)})") from None
    else:
        raise BatchInputError(f"unsupported file type {suffix!r}; use .csv or .parquet")


def csv_chunks(
    path: Path, chunk_rows: int, table: TableFormat
) -> Iterator[tuple[pd.DataFrame, Malformed]]:
    """A CSV file in chunks, read by pandas' C parser while every record fits the header.

    The header line is read as a record (``header=None``): pandas would otherwise take a first
    data record with one field more for an index, or cut it with ``index_col=False``. At the
    first record with more fields than the header, the C parser would drop it (``warn``); the
    file is then read again from the first record not yet given out by the Python parser,
    which hands such records to ``keep_in_place`` (slower, so only for such files).
    """
    options: dict[str, Any] = table.csv_options | {
        "dtype": str,
        "header": None,
        "chunksize": chunk_rows,
    }
    try:
        names = list(pd.read_csv(path, **(options | {"header": 0, "chunksize": None, "nrows": 0})))
        seen = 0  # records given out, the header line included
        with pd.read_csv(path, on_bad_lines="warn", **options) as reader:
            while isinstance(chunk := next_chunk(reader), pd.DataFrame):
                frame, seen = chunk.iloc[max(1 - seen, 0) :], seen + len(chunk)
                if len(frame):
                    yield named(frame, names), {}
        if chunk is DROPPED:
            yield from marked_chunks(path, options, names, max(seen, 1))
    except UnicodeDecodeError as error:
        raise BatchInputError(
            f"not {table.encoding} text ({error.reason}); set data.encoding to the file's encoding"
        ) from None
    except pd.errors.EmptyDataError:
        raise BatchInputError("no header line (the file holds only blank lines)") from None
    except pd.errors.ParserError as error:
        raise BatchInputError(f"cannot be read as CSV ({first_line(error)})") from None


DROPPED = "dropped"


def next_chunk(reader: Any) -> pd.DataFrame | str | None:
    """The reader's next chunk, None at the end, or ``DROPPED`` if the C parser dropped a
    record of it (more fields than the header)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        chunk = next(reader, None)
    dropped = False
    for warning in caught:
        if issubclass(warning.category, pd.errors.ParserWarning):
            dropped = True
        else:  # someone else's warning: let it through
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return DROPPED if dropped else chunk


def marked_chunks(
    path: Path, options: dict[str, Any], names: list[str], skip: int
) -> Iterator[tuple[pd.DataFrame, Malformed]]:
    """The file from record ``skip`` on (0 = the header) by pandas' Python parser, each record
    with more fields than the header kept in its place, marked and described."""
    marker = f"\x00riskgrade-malformed-{secrets.token_hex(8)}-"  # no real first field
    widths: list[int] = []

    def keep_in_place(fields: list[str]) -> list[str]:
        widths.append(len(fields))
        return [f"{marker}{len(widths) - 1}", *[""] * (len(names) - 1)]

    seen = 0
    with pd.read_csv(path, engine="python", on_bad_lines=keep_in_place, **options) as reader:
        for chunk in reader:
            frame, seen = chunk.iloc[max(skip - seen, 0) :], seen + len(chunk)
            if not len(frame):
                continue
            first = frame.iloc[:, 0].astype(object).to_numpy()
            malformed = {
                int(i): f"the record has {widths[int(first[i][len(marker) :])]} fields; the "
                f"header has {len(names)}"
                for i in np.flatnonzero(
                    [isinstance(v, str) and v.startswith(marker) for v in first]
                )
            }
            yield named(frame, names), malformed


def named(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """A chunk read without a header, with the header's names and positions from 0."""
    if frame.shape[1] != len(names):
        raise BatchInputError(
            f"the header line has {frame.shape[1]} fields but {len(names)} column names"
        )
    return frame.set_axis(names, axis=1).reset_index(drop=True)


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


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
    model: LoadedModel,
    frame: pd.DataFrame,
    first_row: int,
    reasons: bool,
    malformed: Malformed | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored rows, rejected rows) of one chunk; row numbers are 1-based record positions.
    ``malformed`` records (by position in the chunk) are rejected with their reason."""
    frame = frame.reset_index(drop=True)
    parsed, problems = check_chunk(model, frame)
    if malformed:
        problems.iloc[list(malformed)] = list(malformed.values())
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
    replaced by the model version's own, the text that meant missing in training. Paths that
    cannot work (``check_paths``) and a file without rows are refused before anything is
    written; on any failure, Ctrl-C included, no output and no temporary file is left.
    """
    source, output, rejects_path = paths
    check_paths(source, output, rejects_path)
    table = (table or TableFormat()).model_copy(update={"na_values": model.policy.na_values})
    chunks = iter_chunks(source, chunk_rows, table)
    first = next(chunks, None)  # an unreadable or empty file fails here, before any write
    if first is None:
        raise BatchInputError("no rows to score")
    summary = BatchSummary()
    with atomic(output) as tmp_out, atomic(rejects_path) as tmp_rejects:
        writer = pq.ParquetWriter(tmp_out, OUTPUT_SCHEMA)
        try:
            with tmp_rejects.open("w", newline="", encoding="utf-8") as rejects_file:
                rejects_csv = csv.writer(rejects_file)
                rejects_csv.writerow([ROW_NUMBER, "reason"])
                for chunk, malformed in itertools.chain([first], chunks):
                    first_row = summary.rows + 1
                    scored, rejected = score_chunk(model, chunk, first_row, reasons, malformed)
                    writer.write_table(
                        pa.Table.from_pandas(scored, schema=OUTPUT_SCHEMA, preserve_index=False)
                    )
                    rejects_csv.writerows(rejected.itertuples(index=False))
                    summary.rows += len(chunk)
                    summary.scored += len(scored)
                    summary.rejected += len(rejected)
                    if progress is not None:
                        progress(len(chunk))
        finally:
            writer.close()
    return summary


def check_paths(source: Path, output: Path, rejects: Path) -> None:
    """Refuse, before anything is read or written, paths that cannot work: an input that is
    missing or empty (``BatchInputError``), an output or rejects path that is a directory or
    the input file, or both outputs at one path (``OutputPathError``)."""
    if not source.is_file():
        raise BatchInputError("file not found" if not source.exists() else "not a file")
    if source.stat().st_size == 0:
        raise BatchInputError("the file is empty (no header, no rows)")
    for name, path, example in (
        ("output", output, "scored.parquet"),
        ("rejects file", rejects, "scored.rejects.csv"),
    ):
        if path.is_dir():
            raise OutputPathError(
                f"the {name} {path} is a directory; give a file path such as {path / example}"
            )
        if same_file(path, source):
            raise OutputPathError(
                f"the {name} {path} is the input file {source}: scoring would overwrite it; "
                "choose another path"
            )
    if same_file(output, rejects):
        raise OutputPathError(f"the output and the rejects file are both {output}")


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (through symbolic or hard links too)."""
    if first.resolve() == second.resolve():
        return True
    return first.exists() and second.exists() and os.path.samefile(first, second)


class atomic:  # noqa: N801 - used like contextlib helpers
    """Context manager: a temporary path beside ``target``, moved into place on success.

    The file is created with mode 0o666 less the umask, as ``open`` would create the target
    (``tempfile.mkstemp`` makes it 0o600, which would hide the output from the group), and
    the umask is never changed to read it (a thread could create a file meanwhile). The
    temporary file is removed whatever happens, a failed move into place included.
    """

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.target.parent / f".{self.target.name}.{secrets.token_hex(8)}.tmp"
        os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        return self.tmp

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            if kind is None:
                os.replace(self.tmp, self.target)
        finally:
            self.tmp.unlink(missing_ok=True)
