"""Reading tables and writing outputs atomically (a failed step leaves nothing half-written)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from features.schema import TableFormat
from features.validation import mark_missing

OTHER_DELIMITERS = (";", "\t", "|")
DEFAULT_TABLE = TableFormat()


class InputError(ValueError):
    """An input file is missing or unreadable; the message names it and what to do."""


def check_file(path: Path) -> None:
    """``InputError`` naming the file unless it exists and holds at least one byte."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")


def read_table(path: Path, table: TableFormat = DEFAULT_TABLE) -> pd.DataFrame:
    """Read a CSV or Parquet file, chosen by suffix; raise ``InputError`` naming the file.

    Text cells equal to one of ``table.na_values`` are missing, in both formats (pandas' own
    list of NA strings -- ``NA``, ``null``, ``n/a``... -- is not used: a token means missing
    only where the project declares it).
    """
    check_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return read_csv(path, table)
        if suffix in {".parquet", ".pq"}:
            return mark_missing(pd.read_parquet(path), table.na_values)
    except InputError:
        raise
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: is not {table.encoding} text ({error.reason}); "
            "declare the file's encoding in data.encoding, e.g. latin-1 or cp1252"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        hint = ""
        if suffix == ".csv":
            hint = f" (read with delimiter {table.delimiter!r}: is data.delimiter right?)"
        raise InputError(f"{path}: cannot be read as {suffix[1:]}{hint}: {error}") from None
    raise InputError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def read_csv(path: Path, table: TableFormat) -> pd.DataFrame:
    frame = pd.read_csv(path, **table.csv_options)
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        found = [d for d in OTHER_DELIMITERS if d != table.delimiter and d in header]
        if found:
            raise InputError(
                f"{path}: the header has one column, {header[:100]!r}, which contains "
                f"{found[0]!r}: the file looks {found[0]!r}-separated; set data.delimiter: "
                f"{found[0]!r} in params.yaml"
            )
    return frame


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 would hide outputs
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, write: Callable[[Path], Any]) -> None:
    with atomic_path(target) as tmp:
        write(tmp)


def write_json(target: Path, payload: Any) -> None:
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_parquet(target: Path, frame: pd.DataFrame) -> None:
    write_atomic(target, lambda tmp: frame.to_parquet(tmp, index=False))


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file's bytes. ``md5`` equals DVC 3's content hash of a single file."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
