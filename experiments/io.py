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


class InputError(ValueError):
    """An input file is missing or unreadable; the message names it and what to do."""


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, chosen by suffix; raise ``InputError`` naming the file."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise InputError(f"{path}: cannot be read as {suffix[1:]}: {error}") from None
    raise InputError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


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
