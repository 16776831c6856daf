"""``riskgrade score`` on a partitioned input (a folder or glob of files), in this process or on
a Dask cluster (``--scheduler``): the command's side of ``serving.scoring.partitioned``.

Everything that can be checked is checked before the model is loaded or a cluster started: the
partitions (found, same columns), the output folder (never inside the input; an existing one
only with ``--overwrite``), the id column. The run is stored in the portfolio once, after the
output folder is complete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from experiments.cli import fail
from experiments.commands.serving import (
    FileReading,
    check_id_column,
    check_run_store,
    chosen_version,
    file_reading,
    report_stored,
    service_settings,
    stopped_cleanly,
)


@dataclass(frozen=True)
class PartitionedRun:
    """The ``score`` options that matter for partitions."""

    input: Path
    output: Path
    rejects: Path | None
    version: str | None
    chunk_rows: int
    reasons: bool
    threads: int
    id_column: str | None
    record: bool
    scheduler: str | None
    dask_workers: int
    overwrite: bool


def score_partitioned(run: PartitionedRun, params: Path, project_dir: Path,
                      registered: Path) -> None:  # fmt: skip
    """Check, score every partition, report, and store the run once."""
    from tqdm import tqdm

    from serving.scoring.batch import BatchInputError
    from serving.scoring.model_store import ModelLoadError
    from serving.scoring.partitioned import (
        PartitionStoppedError,
        SchedulerError,
        ScoringOptions,
        model_ref,
        score_partitions,
    )

    reading = file_reading(params)
    partitions = check_plan(run, reading)
    column = run.id_column or reading.id_column
    if run.record and column is not None:
        given_by = "--id-column" if run.id_column else "data.id_column"
        check_id_column(partitions[0], column, given_by, reading.table)  # same columns in all
    threads = 1 if run.scheduler is not None else run.threads  # one core per worker
    settings = service_settings(params, project_dir, lightgbm_threads=threads)
    if run.record and column is not None:
        check_run_store(settings)
    settings, number = chosen_version(settings, run.version, registered)
    options = ScoringOptions(run.chunk_rows, run.reasons, reading.table)
    started = time.perf_counter()
    with stopped_cleanly(), tqdm(unit="rows", unit_scale=True, desc=f"v{number}") as bar:
        done: list[Any] = []

        def finished(result: Any) -> None:
            done.append(result)
            bar.set_postfix_str(f"{len(done)}/{len(partitions)} partitions")

        try:
            ref = model_ref(settings, number)
            summary = score_partitions(
                ref, str(run.input), run.output, run.scheduler, options=options,
                workers=run.dask_workers, overwrite=run.overwrite, progress=bar.update,
                finished=finished,
            )  # fmt: skip
        except (BatchInputError, ModelLoadError, SchedulerError, PartitionStoppedError,
                OSError) as error:  # fmt: skip
            fail(str(error))
        except Exception as error:
            if not type(error).__module__.startswith("distributed"):
                raise
            fail(f"Dask: {type(error).__name__}: {error}")  # a worker died (KilledWorker), ...
    rate = summary.rows / max(time.perf_counter() - started, 1e-9)
    typer.echo(
        f"scored {summary.scored} rows in {len(summary.partitions)} partition(s) with "
        f"{settings.model_name} v{number} -> {run.output}; rejected {summary.rejected} -> "
        f"{run.output / '_rejects'} ({rate:,.0f} rows/s)"
    )
    if run.record and column is not None:
        record_partitions(settings, reading, summary, str(run.input), column)
    elif run.record:
        typer.echo("run not stored: no customer id column (pass --id-column)")


def check_plan(run: PartitionedRun, reading: FileReading) -> list[Path]:
    """The partitions, refused in one line if they or the output cannot work."""
    from serving.scoring.batch import BatchInputError
    from serving.scoring.partitioned import check_columns, check_output, find_partitions

    if run.rejects is not None:
        fail(
            f"--rejects: a partitioned output keeps its rejects in {run.output / '_rejects'}; "
            "drop --rejects"
        )
    try:
        partitions = find_partitions(str(run.input))
        check_columns(partitions, reading.table)
        check_output(run.output, str(run.input), partitions, run.overwrite)
    except BatchInputError as error:
        fail(str(error))
    return partitions


def record_partitions(
    settings: Any, reading: FileReading, summary: Any, source: str, column: str
) -> None:
    """Store the run of every partition as one portfolio run and print its alerts."""
    from sqlalchemy.exc import SQLAlchemyError

    from experiments.portfolio.runs import record_scored_partitions

    try:
        stored = record_scored_partitions(
            settings.audit_url, summary.model, summary.parts(), source, column,
            settings.hash_secret, reading.alerts, reading.table,
        )  # fmt: skip
    except (ValueError, SQLAlchemyError) as error:
        fail(f"scores written, but the run was not stored: {error}")
    report_stored(stored)
