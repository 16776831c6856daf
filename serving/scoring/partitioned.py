"""Batch scoring of a partitioned input -- a folder or a glob of Parquet (or CSV) files -- one
task per partition, in this process or on a Dask cluster (``serving.scoring.cluster``).

Each partition is scored by ``score_partition``, which is ``batch.score_file`` (the single-file
path: chunks, the version's missing-value text, checks, rejects) on a model loaded once per
process (``cached_model``): the result is the same wherever a partition runs. The output is a
folder, as Spark and Dask write one::

    <output>/part-00000.parquet ...        one per input partition (sorted input paths), rows
                                           as ``score_file`` writes them (``row_number`` is the
                                           record's position in its own partition)
    <output>/_rejects/part-00000.csv ...   the rejected rows of each partition, with reasons
    <output>/_SUCCESS                      JSON: model, version, and per part its input and counts

Readers of a Parquet dataset (pyarrow, Dask, Spark) skip names starting with ``_``. The folder is
written as a hidden temporary sibling and renamed into place with its ``_SUCCESS`` only when
every partition has succeeded; on any failure (Ctrl-C and SIGTERM included) the temporary folder
is removed, after the tasks still running on the cluster have stopped, so nothing that looks
complete, or half-written, is left.

API for scripts and benchmarks::

    ref = model_ref(settings, "3")           # the version; workers load it from MLflow
    summary = score_partitions(ref, "data/book/", Path("scored/"), "local", workers=2)
    summary.rows, summary.scored, summary.rejected, summary.parts()

``scheduler``: None (this process, partition by partition: the reference path), ``"local"``
(a ``distributed.LocalCluster`` of ``workers`` single-threaded worker processes) or a scheduler
address (``tcp://host:port``). Inputs and output must be on a filesystem that this process and
every worker see (a local disk for ``local``, a shared mount for a cluster).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features.schema import TableFormat
from serving.scoring.batch import (
    OUTPUT_SCHEMA,
    ROW_NUMBER,
    BatchInputError,
    OutputPathError,
    first_line,
    score_file,
)
from serving.scoring.predictor import LoadedModel
from serving.settings import Settings

SUCCESS = "_SUCCESS"
REJECTS = "_rejects"
ABORTED = "_ABORTED"  # written into the temporary folder: running tasks stop at their next chunk
SUFFIXES = (".parquet", ".pq", ".csv")
Progress = Callable[[int], None]  # rows scored since the last call


class PartitionError(BatchInputError):
    """The partitioned input cannot be scored (no partitions, mixed columns, a partition that
    fails); the message names the folder, glob or partition and what to do."""


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached or the local cluster cannot start; one line."""


class PartitionStoppedError(RuntimeError):
    """A partition stopped because the run failed elsewhere or was interrupted."""


@dataclass(frozen=True)
class ModelRef:
    """The version a worker loads from MLflow (never a pickled model). ``digest``: the
    ``artifacts_sha256`` tag at registration, so a worker's cached model is reused only for
    the files it was loaded from. No secret: this is sent to every worker."""

    tracking_uri: str | None
    name: str
    version: str
    digest: str = ""
    lightgbm_threads: int = 1

    def settings(self) -> Settings:
        """Settings that load this version, built without reading the worker's environment."""
        return Settings.model_construct(
            model_name=self.name,
            tracking_uri=self.tracking_uri,
            lightgbm_threads=self.lightgbm_threads,
        )


@dataclass(frozen=True)
class ScoringOptions:
    """How each partition is read and scored, as ``score_file`` takes it."""

    chunk_rows: int = 100_000
    reasons: bool = True
    table: TableFormat = field(default_factory=TableFormat)  # CSV delimiter and encoding


@dataclass(frozen=True)
class Partition:
    """One task: input partition ``index`` and where its output goes (``folder``)."""

    index: int
    source: Path
    folder: Path

    @property
    def part(self) -> Path:
        return self.folder / f"part-{self.index:05d}.parquet"

    @property
    def rejects(self) -> Path:
        return self.folder / REJECTS / f"part-{self.index:05d}.csv"


@dataclass(frozen=True)
class PartitionResult:
    index: int
    source: Path
    rows: int
    scored: int
    rejected: int


@dataclass(frozen=True)
class PartitionedSummary:
    """A finished run: the output folder and each partition's counts, in input order."""

    output: Path
    model: tuple[str, str]  # name, version
    partitions: tuple[PartitionResult, ...]

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def scored(self) -> int:
        return sum(p.scored for p in self.partitions)

    @property
    def rejected(self) -> int:
        return sum(p.rejected for p in self.partitions)

    def parts(self) -> list[tuple[Path, Path]]:
        """(input partition, its scored part in the output folder), in input order."""
        return [(p.source, Partition(p.index, p.source, self.output).part) for p in self.partitions]


def model_ref(settings: Settings, version: str) -> ModelRef:
    """The reference workers load ``version`` of ``settings.model_name`` by, with its digest."""
    from models.contract.digest import DIGEST_TAG
    from serving.scoring.model_store import version_details

    details = version_details(settings, version)
    digest = dict(details.tags).get(DIGEST_TAG, "")
    return ModelRef(settings.tracking_uri, settings.model_name, str(version), digest,
                    settings.lightgbm_threads)  # fmt: skip


def find_partitions(inputs: str | Path) -> list[Path]:
    """The partition files of a folder (its files, not those whose name starts with ``_`` or
    ``.``, as Spark's ``_SUCCESS``) or of a glob (``**`` recursive), sorted by path."""
    spec = str(inputs)
    if Path(spec).is_dir():
        found = [p for p in Path(spec).iterdir() if p.is_file() and p.name[0] not in "_."]
        where = "the folder holds no data file"
    elif glob.has_magic(spec):
        found = [Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file()]
        where = "the glob matches no file"
    else:
        what = "not found" if not Path(spec).exists() else "a single file"
        raise PartitionError(
            f"{spec}: {what}; a partitioned input is a folder or a glob of .parquet or .csv "
            "files (score a single file without --scheduler)"
        )
    if not found:
        raise PartitionError(f"{spec}: no partitions ({where}); give a folder or glob of "
                             ".parquet or .csv files")  # fmt: skip
    for path in found:
        if path.suffix.lower() not in SUFFIXES:
            raise PartitionError(
                f"{path}: unsupported file type {path.suffix!r} among the partitions of {spec}; "
                "every partition must be a .parquet or .csv file (move the others away)"
            )
    return sorted(found)


def columns_of(path: Path, table: TableFormat) -> list[str]:
    """A partition's column names, from its Parquet schema or CSV header line."""
    try:
        if path.suffix.lower() == ".csv":
            return [str(c) for c in pd.read_csv(path, nrows=0, **table.csv_options).columns]
        return list(pq.read_schema(path).names)
    except Exception as error:  # unreadable, empty, not the format its name says
        raise PartitionError(f"{path}: cannot read its columns ({first_line(error)})") from None


def check_columns(partitions: Sequence[Path], table: TableFormat) -> list[str]:
    """The columns every partition has; a partition with other columns than the first is
    refused, naming both and the difference."""
    first = columns_of(partitions[0], table)
    for path in partitions[1:]:
        found = columns_of(path, table)
        if set(found) != set(first):
            missing = [c for c in first if c not in found]
            extra = [c for c in found if c not in first]
            raise PartitionError(
                f"{path}: columns differ from {partitions[0]} (missing {missing}, extra "
                f"{extra}); every partition must have the same columns"
            )
    return first


def check_output(output: Path, inputs: str | Path, partitions: Sequence[Path],
                 overwrite: bool) -> None:  # fmt: skip
    """Refuse an output folder that would write into the input or replace anything but an
    earlier output: inside an input folder, holding (or being) a partition, an existing path
    without ``overwrite``, or, with it, a path that is not a finished output folder."""
    target = output.resolve()
    if Path(inputs).is_dir():
        folder = Path(inputs).resolve()
        if target == folder or folder in target.parents:
            raise OutputPathError(
                f"the output {output} is inside the input folder {inputs}; choose a folder "
                "outside it (scoring never writes into its input)"
            )
    for path in partitions:
        source = path.resolve()
        if source == target or target in source.parents:
            raise OutputPathError(
                f"the output {output} holds the input partition {path}; choose another folder"
            )
    if not output.exists() and not output.is_symlink():
        return
    if not overwrite:
        raise OutputPathError(
            f"the output {output} already exists; pass --overwrite to replace it, or choose "
            "another folder"
        )
    if not output.is_dir() or output.is_symlink() or not (output / SUCCESS).is_file():
        raise OutputPathError(
            f"the output {output} exists and is not a scored output folder (no {SUCCESS}); "
            "--overwrite replaces only those: remove it yourself or choose another folder"
        )


_models: dict[ModelRef, LoadedModel] = {}
_loads: list[str] = []  # name/version of every load in this process, in order
_loading = threading.Lock()


def cached_model(ref: ModelRef) -> LoadedModel:
    """The version of ``ref``, loaded (downloaded, verified, compiled, smoke-tested) once per
    process: each worker loads it at its first partition, not at every one."""
    with _loading:
        if ref not in _models:
            import mlflow

            from serving.scoring.model_store import load_version

            if ref.tracking_uri is not None:  # models:/ URIs resolve through the global store
                mlflow.set_tracking_uri(ref.tracking_uri)
            _models[ref] = load_version(ref.settings(), ref.version)
            _loads.append(f"{ref.name}/{ref.version}")
        return _models[ref]


def loaded_versions() -> list[str]:
    """``name/version`` of each load this process has made (tests count loads with it)."""
    return list(_loads)


def stopped(folder: Path) -> bool:
    """Whether the run this folder belongs to has failed or been interrupted."""
    return (folder / ABORTED).exists() or not folder.is_dir()


def score_partition(
    ref: ModelRef, partition: Partition, options: ScoringOptions, progress: Progress | None = None
) -> PartitionResult:
    """Score one partition into its part and rejects file (``score_file``, atomically). Runs on
    a worker; stops, leaving no file, as soon as the run is aborted (``ABORTED``)."""
    if not partition.folder.is_dir():
        raise PartitionError(
            f"{partition.folder}: not found where the worker runs; the output must be on a "
            "filesystem that every worker sees (a shared mount)"
        )
    if stopped(partition.folder):
        raise PartitionStoppedError(f"{partition.source}: not scored, the run was stopped")
    model = cached_model(ref)

    def advance(rows: int) -> None:
        if stopped(partition.folder):
            raise PartitionStoppedError(f"{partition.source}: stopped, the run was stopped")
        if progress is not None:
            progress(rows)

    paths = (partition.source, partition.part, partition.rejects)
    try:
        if is_empty_parquet(partition.source):  # a filtered Spark/Dask partition: no rows
            write_empty(partition)
            return PartitionResult(partition.index, partition.source, 0, 0, 0)
        summary = score_file(model, paths, options.chunk_rows, options.reasons, advance,
                             options.table)  # fmt: skip
    except BatchInputError as error:
        raise PartitionError(f"{partition.source}: {error}") from None
    return PartitionResult(
        partition.index, partition.source, summary.rows, summary.scored, summary.rejected
    )


def is_empty_parquet(path: Path) -> bool:
    try:
        return path.suffix.lower() != ".csv" and pq.ParquetFile(path).metadata.num_rows == 0
    except Exception:  # not readable as Parquet: score_file says why
        return False


def write_empty(partition: Partition) -> None:
    """The part and rejects file of a partition without rows."""
    pq.write_table(OUTPUT_SCHEMA.empty_table(), partition.part)
    partition.rejects.parent.mkdir(exist_ok=True)
    partition.rejects.write_text(f"{ROW_NUMBER},reason\n", encoding="utf-8")


def score_partitions(
    ref: ModelRef,
    inputs: str | Path,
    output: Path,
    scheduler: str | None = None,
    *,
    options: ScoringOptions | None = None,
    workers: int = 2,
    processes: bool = True,
    overwrite: bool = False,
    progress: Progress | None = None,
    finished: Callable[[PartitionResult], None] | None = None,
) -> PartitionedSummary:
    """Score every partition of ``inputs`` (a folder or a glob) into the folder ``output``.

    ``scheduler``: None (here, one partition after another), ``"local"`` (a LocalCluster of
    ``workers`` single-threaded workers, in processes unless ``processes`` is False) or a
    Dask scheduler's address. ``progress`` gets rows as they finish (per chunk here, per
    partition on a cluster), ``finished`` each partition's result as it finishes. Raises
    ``PartitionError``/``OutputPathError`` (bad input or output, before anything is
    written), ``ModelLoadError``, ``SchedulerError``; the output folder exists only after
    a return.
    """
    options = options or ScoringOptions()
    partitions = find_partitions(inputs)
    check_columns(partitions, options.table)
    check_output(output, inputs, partitions, overwrite)
    with temporary_folder(output) as folder:
        jobs = [Partition(i, source, folder) for i, source in enumerate(partitions)]
        if scheduler is None:
            results = []
            for job in jobs:
                results.append(score_partition(ref, job, options, progress))
                if finished is not None:
                    finished(results[-1])
        else:
            from serving.scoring.cluster import run_on_cluster

            watch = (progress, finished)
            results = run_on_cluster(ref, jobs, options, scheduler, workers, processes, watch)
        summary = PartitionedSummary(output, (ref.name, ref.version), tuple(results))
        write_success(folder, summary)
        move_into_place(folder, output)
    return summary


@contextmanager
def temporary_folder(output: Path) -> Iterator[Path]:
    """A hidden folder beside ``output`` (created with the umask's mode, as ``mkdir`` makes
    the output), removed whatever happens unless it was moved into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    folder = output.parent / f".{output.name}.{secrets.token_hex(8)}.tmp"
    folder.mkdir()
    (folder / REJECTS).mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_success(folder: Path, summary: PartitionedSummary) -> None:
    """The ``_SUCCESS`` marker: what was scored, with which version, into which part."""
    manifest = {
        "model": summary.model[0],
        "version": summary.model[1],
        "rows": summary.rows,
        "scored": summary.scored,
        "rejected": summary.rejected,
        "partitions": [
            {
                "part": Partition(p.index, p.source, Path()).part.as_posix(),
                "rejects": Partition(p.index, p.source, Path()).rejects.as_posix(),
                "input": str(p.source.resolve()),
                "rows": p.rows,
                "scored": p.scored,
                "rejected": p.rejected,
            }
            for p in summary.partitions
        ],
    }
    (folder / SUCCESS).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def move_into_place(folder: Path, output: Path) -> None:
    """Rename the finished folder to ``output``; an earlier output there (``check_output``
    allowed it) is first renamed aside, then removed."""
    if not output.exists():
        os.rename(folder, output)
        return
    old = output.parent / f".{output.name}.{secrets.token_hex(8)}.old"
    os.rename(output, old)
    try:
        os.rename(folder, output)
    except OSError:
        os.rename(old, output)  # put the earlier output back
        raise
    shutil.rmtree(old, ignore_errors=True)
