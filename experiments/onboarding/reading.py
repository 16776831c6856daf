"""Reading a file before any ``params.yaml`` describes it: its text encoding, its delimiter,
and its cells (a random sample of a large file).

CSV cells are read as text, exactly as written (an empty field is ``""``), so the profile sees
the file's own missing-value tokens; Parquet columns keep their stored types.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from experiments.io import InputError, check_file

SAMPLE_ROWS = 100_000
"""Larger files are profiled on a random sample of about this many rows (seeded)."""
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 256 * 1024
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
BLOCK = 1 << 20


@dataclass(frozen=True)
class RawTable:
    """The cells of a file (all of it, or a sample), and how it was read."""

    source: Path
    frame: pd.DataFrame
    n_rows: int  # data rows in the whole file
    format: str  # csv or parquet
    delimiter: str = ","
    encoding: str = "utf-8"
    encoding_note: str = ""

    @property
    def sampled(self) -> bool:
        return len(self.frame) < self.n_rows


def detect_encoding(path: Path) -> tuple[str, str]:
    """``(encoding, why)``: a byte-order mark's, else UTF-8 if every byte decodes, else cp1252
    (Windows Western European, the usual non-UTF-8 export of a spreadsheet), else latin-1
    (which decodes any byte)."""
    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, name in BOMS:
        if head.startswith(bom):
            return name, "the file starts with its byte-order mark"
    bad = first_undecodable(path, "utf-8")
    if bad is None:
        return "utf-8", "every byte decodes as UTF-8"
    if first_undecodable(path, "cp1252") is None:
        return (
            "cp1252",
            f"not UTF-8 (byte {bad[1]} at offset {bad[0]}); every byte decodes as cp1252",
        )
    return (
        "latin-1",
        f"not UTF-8 (byte {bad[1]} at offset {bad[0]}) nor cp1252; latin-1 reads any byte",
    )


def first_undecodable(path: Path, encoding: str) -> tuple[int, str] | None:
    """Offset and hex value of the first byte ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                return offset + error.start, f"0x{block[error.start]:02X}"
            offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        return offset + error.start, "(truncated character)"
    return None


def detect_delimiter(sample: str, path: Path) -> str:
    """The candidate that splits the most sampled lines into the same number (> 1) of fields
    (quotes respected; ties: the most fields). A lone column cannot be a credit dataset."""
    lines = sample if sample.endswith("\n") else sample[: sample.rfind("\n") + 1] or sample
    scores = []
    for delimiter in DELIMITERS:
        counts = pd.Series(
            [len(row) for row in csv.reader(io.StringIO(lines), delimiter=delimiter) if row]
        )
        if counts.empty:
            continue
        fields = int(counts.mode().iloc[0])
        if fields > 1:
            scores.append(((counts == fields).mean(), fields, delimiter))
    if not scores:
        raise InputError(
            f"{path}: no delimiter among , ; tab | splits its lines into several columns; "
            "riskgrade init needs a header line and one line per customer"
        )
    return max(scores, key=lambda score: score[:2])[2]


def read_raw_table(path: Path, seed: int, max_rows: int = SAMPLE_ROWS) -> RawTable:
    """The file's cells; raises ``InputError`` naming the file when it cannot be read."""
    check_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return read_csv_cells(path, seed, max_rows)
        if suffix == ".parquet":
            return read_parquet_cells(path, seed, max_rows)
    except InputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise InputError(f"{path}: cannot be read as {suffix[1:]}: {error}") from None
    raise InputError(
        f"{path}: unsupported file type {suffix!r}; riskgrade reads .csv (any delimiter, "
        "detected) and .parquet: rename or convert the file"
    )


def read_csv_cells(path: Path, seed: int, max_rows: int) -> RawTable:
    encoding, note = detect_encoding(path)
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES).decode(encoding, errors="ignore")
    delimiter = detect_delimiter(sample, path)
    chunks = pd.read_csv(
        path, sep=delimiter, encoding=encoding, dtype=str, keep_default_na=False,
        chunksize=max_rows,
    )  # fmt: skip
    frame, n_rows = sample_chunks(chunks, count_lines(path) - 1, seed, max_rows)
    return RawTable(path, frame, n_rows, "csv", delimiter, encoding, note)


def read_parquet_cells(path: Path, seed: int, max_rows: int) -> RawTable:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    batches = (batch.to_pandas() for batch in parquet.iter_batches(batch_size=max_rows))
    frame, n_rows = sample_chunks(batches, parquet.metadata.num_rows, seed, max_rows)
    return RawTable(path, frame, n_rows, "parquet")


def sample_chunks(
    chunks: Iterable[pd.DataFrame], estimated_rows: int, seed: int, max_rows: int
) -> tuple[pd.DataFrame, int]:
    """All rows when there are at most ``max_rows``; else the same random share of each
    chunk, about ``max_rows`` in all. Returns the frame and the exact number of rows."""
    share = min(1.0, max_rows / max(estimated_rows, 1))
    parts, n_rows = [], 0
    for number, chunk in enumerate(chunks):
        n_rows += len(chunk)
        if share < 1:  # file order kept: an id ascending in the file stays ascending
            chunk = chunk.sample(frac=share, random_state=seed + number).sort_index()
        parts.append(chunk)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame, n_rows


def count_lines(path: Path) -> int:
    """Line breaks in the file: an upper bound of its rows, to size the sample."""
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            lines += block.count(b"\n")
    return lines
