"""Output files get the mode a plain ``open`` would give them: 0o666 less the umask (not
``tempfile.mkstemp``'s 0o600, which hides outputs from the group)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from experiments.io import write_atomic, write_json, write_parquet
from serving.scoring.batch import atomic


def through_batch_atomic(target: Path) -> None:
    with atomic(target) as tmp:
        tmp.write_text("row_number,reason\n", encoding="utf-8")


WRITERS: dict[str, Callable[[Path], None]] = {
    "experiments.io.write_json": lambda target: write_json(target, {"a": 1}),
    "experiments.io.write_parquet": lambda target: write_parquet(target, pd.DataFrame({"a": [1]})),
    "experiments.io.write_atomic": lambda target: write_atomic(target, lambda t: t.write_text("x")),
    "serving.scoring.batch.atomic": through_batch_atomic,
}


@pytest.fixture(params=[(0o022, 0o644), (0o077, 0o600)], ids=["022", "077"])
def umask_and_mode(request: pytest.FixtureRequest) -> Iterator[tuple[int, int]]:
    mask, mode = request.param
    previous = os.umask(mask)
    yield mask, mode
    os.umask(previous)


@pytest.mark.parametrize("writer", WRITERS)
def test_outputs_follow_the_umask(
    tmp_path: Path, umask_and_mode: tuple[int, int], writer: str
) -> None:
    target = tmp_path / "out" / "file"
    WRITERS[writer](target)
    assert stat.S_IMODE(target.stat().st_mode) == umask_and_mode[1]
    assert [p.name for p in target.parent.iterdir()] == ["file"]  # no temporary file left


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "scored.parquet"
    with pytest.raises(RuntimeError), atomic(target):
        raise RuntimeError("chunk 3 failed")
    assert list(tmp_path.iterdir()) == []
