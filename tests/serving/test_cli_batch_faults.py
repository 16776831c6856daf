"""``riskgrade score`` on files that are not what it expects (issue 13, item 8).

A record with more fields than the header goes to the rejects file in its place (row numbers
of the others unchanged); an empty file, an output that is a directory or the input itself are
refused before anything is written; no temporary file is left by any failure.
``row_number`` is the record's position in the file: 1 = the first data row, a line break
inside a quoted field does not count.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from serving_support import NAME, Registry
from typer.testing import CliRunner

import serving.scoring.batch as batch
from experiments.cli import app, register_commands
from features.schema import TableFormat
from serving.scoring.batch import BatchInputError, atomic, iter_chunks, score_file
from serving.scoring.model_store import load_version
from serving.settings import Settings


def run(*args: str) -> tuple[int, str]:
    register_commands()
    result = CliRunner().invoke(app, [*args, "--no-record"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def csv_lines(registry: Registry, n: int) -> list[str]:
    """The header and ``n`` test customers as CSV lines (no line breaks inside fields)."""
    frame = registry.parts["test"][registry.features].head(n)
    return frame.to_csv(index=False, lineterminator="\n").splitlines()


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary files the atomic writes left behind."""
    return sorted(p.name for p in folder.rglob(".*.tmp"))


def scored_and_rejected(output: Path) -> tuple[list[int], pd.DataFrame]:
    scored = pd.read_parquet(output)["row_number"].tolist()
    return scored, pd.read_csv(output.with_suffix(".rejects.csv"))


@pytest.mark.parametrize(("bad", "chunk_rows"), [(1, "100"), (5, "2"), (6, "2"), (9, "4")])
def test_a_record_with_extra_fields_is_rejected_in_its_place(
    cli_env: Path, registry: Registry, bad: int, chunk_rows: str
) -> None:
    lines = csv_lines(registry, 9)
    lines[bad] += ",surprise"  # record ``bad`` has one field more than the header
    source, output = cli_env / "extra.csv", cli_env / "scored.parquet"
    source.write_text("\n".join(lines) + "\n")

    code, out = run("score", "--input", str(source), "--output", str(output),
                    "--chunk-rows", chunk_rows)  # fmt: skip

    assert code == 0, out
    scored, rejects = scored_and_rejected(output)
    width = len(registry.features)
    assert rejects.to_dict("list") == {
        "row_number": [bad],
        "reason": [f"the record has {width + 1} fields; the header has {width}"],
    }
    assert scored == [n for n in range(1, 10) if n != bad]
    assert "scored 8 rows" in out and "rejected 1" in out


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5, 7, 50])
@pytest.mark.parametrize("bad", [[1], [4], [7], [2, 3], [1, 8], [3, 4, 5, 6]])
def test_chunks_keep_every_record_in_its_place(
    tmp_path: Path, chunk_rows: int, bad: list[int]
) -> None:
    """Whatever the chunk size and wherever the malformed records are, each record keeps its
    number (a line break inside quotes included) and each malformed one is marked."""
    rows = [["r1", "a", "1"], ["r2", "b\nb", "2"], *[[f"r{i}", "c", str(i)] for i in range(3, 9)]]
    for number in bad:
        rows[number - 1] = [*rows[number - 1], "x", "y"][: 3 + number % 2 + 1]
    source = tmp_path / "records.csv"
    with source.open("w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows([["id", "text", "n"], *rows])
    numbers: list[int] = []
    marked: list[int] = []
    for frame, malformed in iter_chunks(source, chunk_rows, TableFormat()):
        first = len(numbers) + 1
        numbers += list(range(first, first + len(frame)))
        good = [i for i in range(len(frame)) if i not in malformed]
        assert frame["id"].iloc[good].tolist() == [f"r{first + i}" for i in good]
        marked += [first + i for i in sorted(malformed)]
        for reason in malformed.values():
            assert reason.startswith("the record has ") and reason.endswith("the header has 3")
    assert numbers == list(range(1, 9))
    assert marked == bad


def test_an_empty_file_is_refused_before_anything_is_written(cli_env: Path) -> None:
    source, output = cli_env / "empty.csv", cli_env / "out" / "scored.parquet"
    source.write_bytes(b"")
    code, out = run("score", "--input", str(source), "--output", str(output))
    assert (code, out) == (1, f"error: {source}: the file is empty (no header, no rows)\n")
    assert not output.parent.exists() or not list(output.parent.iterdir())


@pytest.mark.parametrize("content", ["header", "header and blank lines"])
def test_a_file_without_rows_is_refused_before_anything_is_written(
    cli_env: Path, registry: Registry, content: str
) -> None:
    source, output = cli_env / "header.csv", cli_env / "scored.parquet"
    header = csv_lines(registry, 0)[0]
    source.write_text(header + ("\n\n\n" if content != "header" else "\n"))
    code, out = run("score", "--input", str(source), "--output", str(output))
    assert code == 1 and f"error: {source}: no rows to score\n" in out, out
    assert not output.exists() and not output.with_suffix(".rejects.csv").exists()
    assert leftovers(cli_env) == []


def test_an_output_that_is_a_directory_is_refused_before_writing(
    cli_env: Path, registry: Registry
) -> None:
    source, output = cli_env / "customers.csv", cli_env / "scored"
    source.write_text("\n".join(csv_lines(registry, 5)) + "\n")
    output.mkdir()
    code, out = run("score", "--input", str(source), "--output", str(output))
    assert code == 1
    assert out == (
        f"error: the output {output} is a directory; give a file path such as "
        f"{output / 'scored.parquet'}\n"
    )
    assert sorted(p.name for p in cli_env.iterdir()) == ["customers.csv", "scored"]
    assert list(output.iterdir()) == []


def test_a_rejects_path_that_is_a_directory_is_refused_before_writing(
    cli_env: Path, registry: Registry
) -> None:
    source, output = cli_env / "customers.csv", cli_env / "scored.parquet"
    source.write_text("\n".join(csv_lines(registry, 5)) + "\n")
    (cli_env / "rejects").mkdir()
    code, out = run("score", "--input", str(source), "--output", str(output),
                    "--rejects", str(cli_env / "rejects"))  # fmt: skip
    assert code == 1 and "the rejects file " in out and "is a directory" in out, out
    assert sorted(p.name for p in cli_env.iterdir()) == ["customers.csv", "rejects"]


@pytest.mark.parametrize("same", ["output", "rejects", "output via a symlink", "both outputs"])
def test_an_output_that_is_the_input_is_refused(
    cli_env: Path, registry: Registry, same: str
) -> None:
    frame = registry.parts["test"][registry.features].head(5)
    source = cli_env / "customers.parquet"
    frame.to_parquet(source)
    before = source.read_bytes()
    output, rejects = cli_env / "scored.parquet", cli_env / "rejects.csv"
    if same == "output":
        output = source
    elif same == "rejects":
        rejects = source
    elif same == "output via a symlink":
        output = cli_env / "link.parquet"
        output.symlink_to(source)
    else:
        rejects = output
    code, out = run("score", "--input", str(source), "--output", str(output),
                    "--rejects", str(rejects))  # fmt: skip
    assert code == 1, out
    if same == "both outputs":
        assert out == f"error: the output and the rejects file are both {output}\n"
    else:
        which = "output" if same.startswith("output") else "rejects file"
        assert (
            out == f"error: the {which} {output if which == 'output' else rejects} is "
            f"the input file {source}: scoring would overwrite it; choose another path\n"
        )
    assert source.read_bytes() == before
    assert leftovers(cli_env) == [] and not (cli_env / "scored.parquet").exists()


def test_undecodable_and_unreadable_files_fail_in_one_line(
    cli_env: Path, registry: Registry
) -> None:
    lines = csv_lines(registry, 3)
    source, output = cli_env / "latin1.csv", cli_env / "scored.parquet"
    lines[2] = lines[2].replace(",", ",\xf6", 1)  # a Latin-1 byte that UTF-8 cannot decode
    source.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    code, out = run("score", "--input", str(source), "--output", str(output))
    assert code == 1 and f"error: {source}: not utf-8 text (" in out, out
    broken = cli_env / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    code, out = run("score", "--input", str(broken), "--output", str(output))
    assert code == 1 and f"error: {broken}: cannot be read as Parquet (" in out, out
    assert not output.exists() and leftovers(cli_env) == []


def test_a_failure_while_scoring_leaves_no_temporary_file(
    cli_env: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, output = cli_env / "customers.csv", cli_env / "scored.parquet"
    source.write_text("\n".join(csv_lines(registry, 9)) + "\n")
    settings = Settings(model_name=NAME, tracking_uri=registry.uri)
    model = load_version(settings, "1")
    calls = []

    def fail_on_the_second_chunk(*args: Any) -> pd.DataFrame:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C
        return real(*args)

    real = batch.score_table
    monkeypatch.setattr(batch, "score_table", fail_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        score_file(model, (source, output, output.with_suffix(".rejects.csv")), chunk_rows=4)
    assert len(calls) == 2 and sorted(p.name for p in cli_env.iterdir()) == ["customers.csv"]
    with pytest.raises(BatchInputError):  # refused before any temporary file is made
        score_file(model, (source, cli_env, output.with_suffix(".rejects.csv")))
    assert sorted(p.name for p in cli_env.iterdir()) == ["customers.csv"]


def test_atomic_removes_its_temporary_file_when_the_move_fails(tmp_path: Path) -> None:
    target = tmp_path / "scored.parquet"
    target.mkdir()
    with pytest.raises(OSError), atomic(target) as tmp:
        tmp.write_text("complete, but it cannot be moved over a directory")
    assert leftovers(tmp_path) == []


def test_a_terminated_run_leaves_no_temporary_file(
    cli_env: Path, registry: Registry, repo_root: Path
) -> None:
    """SIGTERM (a scheduler stopping the job) cleans up like Ctrl-C does."""
    frame = registry.parts["test"][registry.features]
    source, output = cli_env / "many.csv", cli_env / "scored.parquet"
    pd.concat([frame] * 400, ignore_index=True).to_csv(source, index=False)  # 80,000 rows
    command = [
        sys.executable, "-c", "from experiments.cli import main; main()", "score",
        "--input", str(source), "--output", str(output), "--chunk-rows", "500", "--no-record",
        "--params", str(repo_root / "params.yaml"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not leftovers(cli_env) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(cli_env), "the run ended before writing anything"
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, out
    assert leftovers(cli_env) == [] and not output.exists()
