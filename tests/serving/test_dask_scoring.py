"""Partitioned batch scoring (issue 15, item 3): a folder or glob of partitions scored on a Dask
``LocalCluster`` equals the single-process path row for row, rejects included; the output folder
appears complete or not at all; the run is stored once; each worker loads the version once."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client
from serving_support import NAME, Registry, make_settings
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

import serving.scoring.partitioned as partitioned
from experiments.cli import app, register_commands
from serving.scoring.batch import score_file
from serving.scoring.partitioned import (
    SUCCESS,
    ModelRef,
    PartitionError,
    model_ref,
    score_partitions,
)

PARTS = 4
BAD_ROWS = {3: ("credit_amount", "a lot"), 120: ("duration_in_month", "12 months")}


def run(*args: str) -> tuple[int, str]:
    register_commands()
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result.exit_code, result.output


def book(registry: Registry) -> pd.DataFrame:
    """The 200 test customers with ids, two rows that must be rejected, a missing value and an
    unseen category, as text (as an upstream job would write them)."""
    frame = registry.parts["test"][registry.features].reset_index(drop=True).astype(object)
    for row, (column, value) in BAD_ROWS.items():
        frame.loc[row, column] = value
    frame.loc[70, "purpose"] = None
    frame.loc[160, "purpose"] = "spaceship"
    frame.insert(0, "customer_id", [f"C-{i:04d}" for i in range(len(frame))])
    return frame.astype(str).where(frame.notna(), None)


def write_partitions(frame: pd.DataFrame, folder: Path) -> list[int]:
    """``frame`` in ``PARTS`` Parquet files of unequal sizes; returns each one's first row."""
    folder.mkdir(parents=True)
    edges = [0, 30, 95, 150, len(frame)]
    for i, (start, end) in enumerate(itertools.pairwise(edges)):
        frame.iloc[start:end].to_parquet(folder / f"book-{i}.parquet", index=False)
    return edges[:-1]


@pytest.fixture(scope="module")
def ref(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> ModelRef:
    return model_ref(make_settings(registry, tmp_path_factory.mktemp("ref")), "1")


@pytest.fixture
def inputs(registry: Registry, tmp_path: Path) -> Path:
    write_partitions(book(registry), tmp_path / "book")
    return tmp_path / "book"


@pytest.fixture(scope="module")
def worker_process() -> Iterator[Client]:
    """A client of a cluster started as ``--scheduler local`` starts one: here one worker
    process (each spawn imports riskgrade and loads the model: slow on a busy machine)."""
    from serving.scoring.cluster import dask_client

    with dask_client("local", 1) as client:
        yield client


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """An existing cluster (threads, quick to start) that the CLI connects to by address."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
    )  # fmt: skip
    with cluster:
        yield cluster.scheduler_address


def read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All parts and all rejects of an output folder, with the partition of each row."""
    manifest = json.loads((folder / SUCCESS).read_text())
    scored, rejects = [], []
    for number, entry in enumerate(manifest["partitions"]):
        scored.append(pd.read_parquet(folder / entry["part"]).assign(partition=number))
        rejects.append(pd.read_csv(folder / entry["rejects"]).assign(partition=number))
    return pd.concat(scored, ignore_index=True), pd.concat(rejects, ignore_index=True)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_dask_equals_the_single_process_path_row_for_row(
    registry: Registry, ref: ModelRef, tmp_path: Path
) -> None:
    frame = book(registry)
    firsts = write_partitions(frame, tmp_path / "book")
    here = score_partitions(ref, tmp_path / "book", tmp_path / "here")
    finished: list[partitioned.PartitionResult] = []
    dask = score_partitions(
        ref, str(tmp_path / "book" / "*.parquet"), tmp_path / "dask", "local", workers=2,
        processes=False, options=partitioned.ScoringOptions(chunk_rows=16),
        finished=finished.append,
    )  # fmt: skip
    assert sorted(finished, key=lambda r: r.index) == list(dask.partitions)

    assert (dask.rows, dask.scored, dask.rejected) == (here.rows, here.scored, here.rejected)
    assert (here.rows, here.rejected) == (200, 2)
    scored, rejects = read_folder(tmp_path / "dask")
    pd.testing.assert_frame_equal(scored, read_folder(tmp_path / "here")[0])
    pd.testing.assert_frame_equal(rejects, read_folder(tmp_path / "here")[1])
    # and the whole book as one file, row numbers counted from each partition's first row
    whole = tmp_path / "whole.parquet"
    frame.to_parquet(whole, index=False)
    model = partitioned.cached_model(ref)
    score_file(model, (whole, tmp_path / "one.parquet", tmp_path / "one.csv"))
    offsets = scored["partition"].map(dict(enumerate(firsts)))
    pd.testing.assert_frame_equal(
        scored.assign(row_number=scored["row_number"] + offsets).drop(columns="partition"),
        pd.read_parquet(tmp_path / "one.parquet"),
    )
    in_file = rejects["row_number"] + rejects["partition"].map(dict(enumerate(firsts)))
    assert in_file.tolist() == [r + 1 for r in BAD_ROWS]
    assert rejects["reason"].tolist() == pd.read_csv(tmp_path / "one.csv")["reason"].tolist()
    manifest = json.loads((tmp_path / "dask" / SUCCESS).read_text())
    assert [p["input"] for p in manifest["partitions"]] == [
        str((tmp_path / "book" / f"book-{i}.parquet").resolve()) for i in range(PARTS)
    ]
    assert leftovers(tmp_path) == []


def test_a_worker_process_loads_the_version_once(
    registry: Registry, ref: ModelRef, inputs: Path, tmp_path: Path, worker_process: Client
) -> None:
    """A worker process as ``--scheduler local`` starts it (one thread, OMP_WAIT_POLICY=
    PASSIVE), reached by address: four partitions, one load, the reference path's rows."""
    summary = score_partitions(ref, inputs, tmp_path / "there", worker_process.scheduler.address)
    assert (summary.rows, summary.rejected) == (200, 2)
    assert list(worker_process.run(partitioned.loaded_versions).values()) == [[f"{NAME}/1"]]
    assert list(worker_process.run(os.getenv, "OMP_WAIT_POLICY").values()) == ["PASSIVE"]
    assert list(worker_process.nthreads().values()) == [1]
    score_partitions(ref, inputs, tmp_path / "here")
    for there, here in zip(read_folder(tmp_path / "there"), read_folder(tmp_path / "here"),
                           strict=True):  # fmt: skip
        pd.testing.assert_frame_equal(there, here)


def test_a_partition_without_rows_gives_an_empty_part(
    ref: ModelRef, inputs: Path, tmp_path: Path
) -> None:
    """Spark and Dask write empty partitions after a filter: an empty part, not an error."""
    pd.read_parquet(inputs / "book-0.parquet").head(0).to_parquet(inputs / "book-00.parquet")
    summary = score_partitions(ref, inputs, tmp_path / "scored")
    assert [p.rows for p in summary.partitions] == [30, 0, 65, 55, 50]
    scored, rejects = read_folder(tmp_path / "scored")
    assert scored["partition"].value_counts().sort_index().tolist() == [29, 65, 54, 50]
    assert rejects["partition"].tolist() == [0, 3]
    assert pd.read_parquet(tmp_path / "scored" / "part-00001.parquet").empty


@pytest.mark.parametrize("where", [None, "local"])
def test_a_failing_partition_leaves_no_output(
    registry: Registry, ref: ModelRef, inputs: Path, tmp_path: Path, where: str | None
) -> None:
    """A partition that fails while it is scored (bytes that are not UTF-8 after its first
    chunk): no output folder, no temporary folder, the error names the partition."""
    lines = book(registry).head(60).to_csv(index=False).splitlines()
    lines[50] = lines[50].replace("C-0049", "C-\xff49")  # in the third chunk
    broken = inputs / "book-9.csv"
    broken.write_bytes("\n".join(lines).encode("latin-1"))
    output = tmp_path / "scored"
    with pytest.raises(PartitionError, match=r"book-9\.csv: not utf-8 text"):
        score_partitions(ref, inputs, output, where, processes=False,
                         options=partitioned.ScoringOptions(chunk_rows=20))  # fmt: skip
    assert not output.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("where", [None, "local"])
def test_an_interrupted_run_leaves_no_output(
    ref: ModelRef, inputs: Path, tmp_path: Path, where: str | None
) -> None:
    """Ctrl-C or SIGTERM (``SystemExit``) after the first rows: nothing is left, and tasks
    still running on the cluster stop instead of writing into a removed folder."""

    def interrupt(rows: int) -> None:
        raise SystemExit(143)

    output = tmp_path / "scored"
    with pytest.raises(SystemExit):
        score_partitions(ref, inputs, output, where, processes=False, progress=interrupt,
                         options=partitioned.ScoringOptions(chunk_rows=5))  # fmt: skip
    time.sleep(0.5)  # a task that had not stopped would write now
    assert not output.exists() and leftovers(tmp_path) == []


def stored_runs(audit: Path) -> list[tuple[str, int]]:
    engine = create_engine(f"sqlite:///{audit}")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT source, n_customers FROM scoring_runs"))
        return [(str(source), int(n)) for source, n in rows]


def test_cli_scores_on_a_cluster_and_stores_the_run_once(
    cli_env: Path, inputs: Path, scheduler: str
) -> None:
    here, there = cli_env / "here", cli_env / "there"
    code, out = run("score", "--input", str(inputs), "--output", str(here),
                    "--id-column", "customer_id")  # fmt: skip
    assert code == 0, out
    assert stored_runs(cli_env / "audit.db") == [(str(inputs), 198)]
    code, out = run("score", "--input", str(inputs / "*.parquet"), "--output", str(there),
                    "--id-column", "customer_id", "--scheduler", scheduler)  # fmt: skip
    assert code == 0, out
    assert f"scored 198 rows in 4 partition(s) with {NAME} v1 -> {there}; rejected 2" in out
    assert "stored run" in out and "198 scored before" in out
    assert "4/4 partitions" in out  # the progress bar counts partitions as they finish
    assert stored_runs(cli_env / "audit.db")[1:] == [(str(inputs / "*.parquet"), 198)]
    for a, b in zip(read_folder(here), read_folder(there), strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_overwrite_replaces_only_an_earlier_output(cli_env: Path, inputs: Path) -> None:
    output = cli_env / "scored"
    args = ("score", "--input", str(inputs), "--output", str(output), "--no-record")
    assert run(*args)[0] == 0
    assert run(*args) == (
        1,
        f"error: the output {output} already exists; pass --overwrite to replace it, or "
        "choose another folder\n",
    )
    (output / "part-00000.parquet").unlink()
    code, out = run(*args, "--overwrite")
    assert code == 0, out
    assert (output / "part-00000.parquet").is_file() and leftovers(cli_env) == []
    mine = cli_env / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert run("score", "--input", str(inputs), "--output", str(mine), "--no-record",
               "--overwrite") == (
        1,
        f"error: the output {mine} exists and is not a scored output folder (no _SUCCESS); "
        "--overwrite replaces only those: remove it yourself or choose another folder\n",
    )  # fmt: skip
    assert (mine / "notes.txt").read_text() == "keep"


def refusal(cli_env: Path, inputs: Path, case: str) -> tuple[list[str], str]:
    """The arguments of a run that must be refused, and the one line it must print."""
    output = str(cli_env / "scored")
    if case == "empty folder":
        (cli_env / "empty").mkdir()
        (cli_env / "empty" / "_SUCCESS").touch()  # a marker is not a partition
        return ["--input", str(cli_env / "empty"), "--output", output], (
            f"{cli_env / 'empty'}: no partitions (the folder holds no data file); give a "
            "folder or glob of .parquet or .csv files"
        )
    if case == "empty glob":
        return ["--input", str(inputs / "*.csv"), "--output", output], (
            f"{inputs / '*.csv'}: no partitions (the glob matches no file); give a folder or "
            "glob of .parquet or .csv files"
        )
    if case == "mixed columns":
        part = pd.read_parquet(inputs / "book-2.parquet")
        part.rename(columns={"purpose": "loan_purpose"}).to_parquet(inputs / "book-2.parquet")
        return ["--input", str(inputs), "--output", output], (
            f"{inputs / 'book-2.parquet'}: columns differ from {inputs / 'book-0.parquet'} "
            "(missing ['purpose'], extra ['loan_purpose']); every partition must have the "
            "same columns"
        )
    if case == "output inside the input":
        return ["--input", str(inputs), "--output", str(inputs / "scored")], (
            f"the output {inputs / 'scored'} is inside the input folder {inputs}; choose a "
            "folder outside it (scoring never writes into its input)"
        )
    if case == "rejects":
        return ["--input", str(inputs), "--output", output, "--rejects", "r.csv"], (
            f"--rejects: a partitioned output keeps its rejects in {output}/_rejects; drop "
            "--rejects"
        )
    if case == "one file on a cluster":
        single = inputs / "book-0.parquet"
        return ["--input", str(single), "--output", output, "--scheduler", "local"], (
            f"{single}: a single file; a partitioned input is a folder or a glob of .parquet "
            "or .csv files (score a single file without --scheduler)"
        )
    assert case == "unreachable scheduler"
    return ["--input", str(inputs), "--output", output, "--scheduler", "tcp://127.0.0.1:9"], (
        "cannot reach the Dask scheduler at tcp://127.0.0.1:9 (OSError: Timed out trying to "
        "connect to tcp://127.0.0.1:9 after 1 s); start it (`dask scheduler`, then `dask "
        "worker <address>` on each machine) or use --scheduler local"
    )


@pytest.mark.parametrize(
    "case",
    ["empty folder", "empty glob", "mixed columns", "output inside the input", "rejects",
     "one file on a cluster", "unreachable scheduler"],
)  # fmt: skip
def test_inputs_and_outputs_that_cannot_work_are_refused_in_one_line(
    cli_env: Path, inputs: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.scoring.cluster as cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_SECONDS", 1)
    args, message = refusal(cli_env, inputs, case)
    code, out = run("score", *args, "--no-record")
    assert code == 1 and f"error: {message}\n" in out, out  # after the progress bar, if any
    assert not (cli_env / "scored").exists() and leftovers(cli_env) == []


def test_the_plain_cli_and_the_service_do_not_import_dask() -> None:
    probe = (
        "import sys, serving.app, serving.scoring.partitioned, experiments.commands.partitions\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_terminated_cli_run_on_a_worker_process_leaves_nothing(
    cli_env: Path, registry: Registry, repo_root: Path, tmp_path: Path, worker_process: Client
) -> None:
    """SIGTERM while a worker process scores: exit 143, no output, no temporary folder, and
    the worker's task stopped (nothing written after the folder was removed)."""
    frame = book(registry)
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(4):  # 4 partitions of 10,000 rows
        pd.concat([frame] * 50, ignore_index=True).to_parquet(folder / f"p{i}.parquet")
    output = tmp_path / "scored"
    command = [
        sys.executable, "-c", "from experiments.cli import main; main()", "score",
        "--input", str(folder), "--output", str(output), "--chunk-rows", "500", "--no-record",
        "--scheduler", worker_process.scheduler.address, "--params",
        str(repo_root / "params.yaml"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not any(tmp_path.glob(".scored.*.tmp/.part-*")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, out
    time.sleep(1)  # a task still running would write now
    assert not output.exists() and leftovers(tmp_path) == []
