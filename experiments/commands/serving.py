"""Serving commands: serve (the API), score (batch files), audit (query decisions), api-key.

Service settings come from ``RISKGRADE_*`` environment variables (``serving.settings``); the
model name and MLflow store default to ``params.yaml`` (``registry.model_name``, ``mlflow``)
when those variables are not set, so the commands work in the project as they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from experiments.cli import (
    REGISTERED_RECORD,
    ParamsOption,
    ProjectOption,
    RegisteredOption,
    app,
    fail,
    load,
    run_stage,
)
from features.schema import TableFormat
from models.monitoring.early_warning import AlertConfig

ModelVersionOption = Annotated[
    str | None,
    typer.Option(
        "--version",
        help="Model version: a number, an alias (challenger) or <name>/<version>, <name>@<alias>.",
        show_default="RISKGRADE_MODEL_ALIAS, champion",
    ),
]


def service_settings(params: Path, project_dir: Path, **overrides: Any) -> Any:
    """``Settings`` from the environment, defaulting model name and store to params.yaml; a
    refusal is one line naming the variables, never their values (a secret may be one)."""
    from experiments.tracking import resolve_tracking_uri
    from serving.settings import SettingsRefusedError, read_settings

    if not standalone():
        config = project_config(params)  # only for what the environment leaves open
        os.environ.setdefault("RISKGRADE_MODEL_NAME", config.registry.model_name)
        os.environ.setdefault(
            "RISKGRADE_TRACKING_URI", resolve_tracking_uri(config.mlflow, project_dir.resolve())
        )
    try:
        return read_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsRefusedError as error:
        fail(f"service settings: {error}")


def standalone() -> bool:
    """The environment names the model and its store: no project needed to find them."""
    return {"RISKGRADE_MODEL_NAME", "RISKGRADE_TRACKING_URI"} <= set(os.environ)


def project_config(params: Path) -> Any:
    """``params`` loaded; a missing file says how to work without a project."""
    if not params.exists():
        fail(
            f"{params}: configuration file not found; run in the project directory, pass "
            "--params, or set RISKGRADE_MODEL_NAME and RISKGRADE_TRACKING_URI to use a "
            "registered version without a project"
        )
    return load(params)


def chosen_version(settings: Any, version: str | None, registered: Path) -> tuple[Any, str]:
    """``(settings, version number)`` of ``--version`` (a number, an alias or a full
    reference, ``experiments.registry.refs``) or, without it, of the service's alias. An
    ``@challenger`` that the register stage's DVC record contradicts is refused."""
    from mlflow.exceptions import MlflowException

    from experiments.registry.record import resolve_checked
    from experiments.registry.refs import parse_model_ref
    from serving.scoring.model_store import ModelLoadError, registry_client, resolve_alias

    try:
        if version is None:
            resolve_alias(settings)  # when there is no such alias, its message names ways out
            name, ref = settings.model_name, settings.model_alias
        else:
            name, ref = parse_model_ref(version, settings.model_name)
        if ref.isdigit():
            return settings.model_copy(update={"model_name": name}), ref
        settings = settings.model_copy(update={"model_name": name, "model_alias": ref})
        resolved = resolve_checked(registry_client(settings), name, ref, registered)
    except (ModelLoadError, ValueError, MlflowException) as error:
        fail(str(getattr(error, "message", error)))
    return settings, str(resolved.version)


def load_model(settings: Any, version: str) -> Any:
    import mlflow

    from serving.scoring.model_store import ModelLoadError, load_version

    mlflow.set_tracking_uri(settings.tracking_uri)
    try:
        return load_version(settings, version)
    except ModelLoadError as error:
        fail(str(error))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    registered: RegisteredOption = REGISTERED_RECORD,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Run the scoring API (uvicorn) on the @champion version; settings from RISKGRADE_*.

    Connection limits (header size and fields, header/body/keep-alive timeouts, connections,
    graceful shutdown) come from the settings too: ``serving.limits``."""
    import uvicorn

    from serving.limits import uvicorn_options
    from serving.stores.audit import prepare_audit_store

    settings, version = chosen_version(service_settings(params, project_dir), None, registered)
    run_stage(lambda: prepare_audit_store(settings.audit_url))  # one line, not per worker
    model = load_model(settings, version)  # fail here, with one clear message, not in each worker
    typer.echo(f"serving {model.name} v{model.version} on http://{host}:{port} ({workers}w)")
    del model
    os.environ["RISKGRADE_WORKERS"] = str(workers)  # each worker knows it is one of several
    uvicorn.run(
        "serving.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # a worker first imports the CLI (several seconds on a busy machine): not a dead one
        timeout_worker_healthcheck=120,
        access_log=False,  # scores are audited; request lines add nothing but load
        **uvicorn_options(settings),
    )


@app.command()
def score(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            help="Customers: a CSV or Parquet file, or a folder or glob of them (partitions).",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            help="Scored rows (Parquet), written atomically; a folder for partitions "
            "(part-*.parquet, _rejects/, _SUCCESS)."
        ),
    ],
    rejects: Annotated[
        Path | None, typer.Option(help="Rejected rows with reasons [default: <output>.rejects.csv]")
    ] = None,
    version: ModelVersionOption = None,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Rows per chunk (memory bound).")
    ] = 100_000,
    reasons: Annotated[bool, typer.Option(help="Add reason codes (TreeSHAP: slower).")] = True,
    threads: Annotated[int, typer.Option(min=1, help="LightGBM threads.")] = 2,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="Customer id column: the run is stored (hashed ids) with its early-warning "
            "alerts [default: data.id_column]."
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option(help="Store the run and its alerts (needs an id column).")
    ] = True,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Score partitions on Dask: 'local' (a LocalCluster) or a scheduler address "
            "(tcp://host:port) [default: in this process, one partition after another]."
        ),
    ] = None,
    dask_workers: Annotated[
        int, typer.Option(min=1, help="Workers of --scheduler local (one thread each).")
    ] = 2,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier output folder (partitions only).")
    ] = False,
    registered: RegisteredOption = REGISTERED_RECORD,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Score a file with the service's fast path: pd, score, tier, reasons per row.

    A folder or glob of files is scored partition by partition (with --scheduler, in parallel
    on Dask) into an output folder that appears only when complete: part-NNNNN.parquet per
    partition, _rejects/, and a _SUCCESS manifest (serving/scoring/partitioned.py).

    With customer ids, the run is stored in the audit database (hashed ids only) with the alerts
    whose condition starts in this run, against each customer's last scored state: worse tier,
    score drop, PD reaching the ceiling, entry into the high tier (see `riskgrade alerts`)."""
    import time

    from tqdm import tqdm

    from serving.scoring.batch import BatchInputError, OutputPathError, check_paths, score_file

    if scheduler is not None or is_partitioned(input):
        from experiments.commands.partitions import PartitionedRun, score_partitioned

        where = (params, project_dir, registered)
        run = PartitionedRun(input, output, rejects, version, chunk_rows, reasons, threads,
                             id_column, record, scheduler, dask_workers, overwrite)  # fmt: skip
        return score_partitioned(run, *where)
    rejects = rejects or output.with_suffix(".rejects.csv")
    try:
        check_paths(input, output, rejects)  # before the model is loaded and anything written
    except OutputPathError as error:
        fail(str(error))
    except BatchInputError as error:
        fail(f"{input}: {error}")
    reading = file_reading(params)
    column = id_column or reading.id_column
    if record and column is not None:
        given_by = "--id-column" if id_column else "data.id_column"
        check_id_column(input, column, given_by, reading.table)
    settings = service_settings(params, project_dir, lightgbm_threads=threads)
    if record and column is not None:
        check_run_store(settings)
    settings, number = chosen_version(settings, version, registered)
    model = load_model(settings, number)
    table = reading.table  # the file's delimiter and encoding
    started = time.perf_counter()
    with stopped_cleanly(), tqdm(unit="rows", unit_scale=True, desc=f"v{model.version}") as bar:
        try:
            summary = score_file(
                model, (input, output, rejects), chunk_rows, reasons, bar.update, table
            )
        except OutputPathError as error:
            fail(str(error))
        except (BatchInputError, OSError) as error:
            fail(f"{input}: {error}")
    rate = summary.rows / max(time.perf_counter() - started, 1e-9)
    typer.echo(
        f"scored {summary.scored} rows with {model.name} v{model.version} -> {output}; "
        f"rejected {summary.rejected} -> {rejects} ({rate:,.0f} rows/s)"
    )
    if record and column is not None:
        files = (input, output)
        record_run(settings, reading, files, column, (model.name, str(model.version)))
    elif record:
        typer.echo("run not stored: no customer id column (pass --id-column)")


def is_partitioned(source: Path) -> bool:
    """A folder, or a glob that is not the name of an existing file: partitions."""
    import glob

    return source.is_dir() or (glob.has_magic(str(source)) and not source.exists())


def check_run_store(settings: Any) -> None:
    """Before scoring: the store the run will be recorded in is usable (created if empty) and
    its schema current, so an old schema is one line naming `riskgrade db upgrade` before the
    work, not after it."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.stores.schema_version import ensure_schema

    try:
        ensure_schema(settings.audit_url)
    except (ValueError, SQLAlchemyError) as error:  # DatabaseConfigError is a ValueError
        fail(store_problem("audit store", settings, error))


@dataclass(frozen=True)
class FileReading:
    """What ``score`` takes from the project: how files are read, the id column and the alert
    thresholds; the defaults outside a project (see ``file_reading``)."""

    table: TableFormat = field(default_factory=TableFormat)
    id_column: str | None = None
    alerts: AlertConfig = field(default_factory=AlertConfig)


def file_reading(params: Path) -> FileReading:
    """From ``params`` (``data`` and ``monitoring.alerts``). Outside a project -- the default
    ``params.yaml`` absent and the environment naming the model and its store, as where an
    engineer scores with a registered version -- the defaults: comma-separated UTF-8, ids
    from ``--id-column``, default alert thresholds. The missing-value text always comes
    from the version itself."""
    if standalone() and params == Path("params.yaml") and not params.exists():
        return FileReading()
    config = project_config(params)
    return FileReading(config.data.table_format, config.data.id_column, config.monitoring.alerts)


@contextmanager
def stopped_cleanly() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C, so the atomic writes remove
    their temporary files; exit code 128 + 15, as if the signal had ended the process."""
    import signal
    import threading

    def stop(signum: int, _: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():  # handlers live there only
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_id_column(source: Path, column: str, given_by: str, table: TableFormat) -> None:
    """Refuse, before scoring, an id column the file does not have (the run is keyed by it).
    ``table``: how the file is read (``data.delimiter`` / ``encoding``)."""
    from experiments.portfolio.runs import id_column_of

    if not source.is_file():
        fail(f"{source}: file not found")
    try:
        id_column_of(source, column, table)
    except (ValueError, OSError) as error:
        fail(
            f"{error} ({given_by}); pass the file's id column with --id-column, or --no-record "
            "to score without storing the run"
        )


def record_run(
    settings: Any, reading: FileReading, files: tuple[Path, Path], column: str,
    model: tuple[str, str],
) -> None:  # fmt: skip
    """Store the scored run and print its early-warning alerts."""
    from sqlalchemy.exc import SQLAlchemyError

    from experiments.portfolio.runs import id_column_of, record_scored_file

    try:
        id_column_of(files[0], column, reading.table)
        stored = record_scored_file(
            settings.audit_url,
            model,
            files,
            column,
            settings.hash_secret,
            reading.alerts,
            reading.table,
        )
    except (ValueError, SQLAlchemyError) as error:
        fail(f"scores written, but the run was not stored: {error}")
    report_stored(stored)


def report_stored(stored: Any) -> None:
    """One line on a stored run (``RunRecord``) and its alerts."""
    severity = stored.alerts["severity"]
    compared = (
        f"{stored.n_known} scored before: compared with their last scored state"
        if stored.n_known
        else "none scored before: alerts on the current state"
    )
    typer.echo(
        f"stored run {stored.run_id} ({stored.n_customers} customers, {compared}): "
        f"{len(severity)} alert(s), {(severity == 'high').sum()} high, "
        f"{(severity == 'medium').sum()} medium"
    )


TIME_HELP = (
    "ISO 8601 with an offset (2026-03-01T10:00+02:00, ...Z) or seconds since the epoch; "
    "without an offset, UTC."
)
MAX_LISTED = 100_000


@app.command()
def audit(
    since: Annotated[
        datetime | None, typer.Option(help=f"From this time (inclusive): {TIME_HELP}")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help=f"Before this time (exclusive): {TIME_HELP}")
    ] = None,
    tier: Annotated[str | None, typer.Option(help="low, medium or high.")] = None,
    model_version: Annotated[str | None, typer.Option(help="Model version.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LISTED, help="At most this many rows.")] = 50,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Show recorded decisions (newest first, times in UTC) from the audit store
    (RISKGRADE_AUDIT_URL)."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError

    from serving.stores.audit import query_decisions

    settings = service_settings(params, project_dir)
    try:
        rows = query_decisions(settings.audit_url, since, until, tier, model_version, limit)
    except (SQLAlchemyError, ValueError, ImportError) as error:
        fail(store_problem("audit store", settings, error))
    columns = ("request_id", "endpoint", "model_version", "customer_hash", "pd")
    table = Table(title=f"{len(rows)} decision(s)")
    for column in ("decided_at (UTC)", *columns, "score", "tier", "reason_codes"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f"{row['decided_at']:%Y-%m-%d %H:%M:%S.%f}"[:-3], row["request_id"][:12],
            row["endpoint"], row["model_version"], (row["customer_hash"] or "-")[:12],
            f"{row['pd']:.4f}", str(row["score"]), row["tier"],
            ", ".join(row["reason_codes"] or []),
        )  # fmt: skip
    Console(width=200).print(table)


def store_problem(store: str, settings: Any, error: Exception) -> str:
    """One line on a failed read of the store at ``RISKGRADE_AUDIT_URL``: the URL without its
    password and the database's own first line (not SQLAlchemy's SQL dump), secrets hidden."""
    from serving.settings import hide_secrets, shown_url

    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() or [""]
    if "RISKGRADE_AUDIT_URL" in lines[0]:  # the engine factory's own message names it already
        return hide_secrets(f"{store}: {lines[0]}", settings)
    where = shown_url(settings.audit_url)
    return hide_secrets(f"{store} {where}: {type(cause).__name__}: {lines[0]}", settings)


@app.command("api-key")
def api_key(
    name: Annotated[str, typer.Option(help="Who the key is for (shown in audit rows).")],
    role: Annotated[list[str], typer.Option(help="scorer and/or admin.")],
) -> None:
    """Make a random API key: give the key to the client, the JSON entry to the service."""
    import json
    import secrets

    from serving.settings import hash_api_key

    if not set(role) <= {"scorer", "admin"}:
        fail(f"--role must be scorer or admin, got {role}")
    key = secrets.token_urlsafe(32)
    entry = {"name": name, "sha256": hash_api_key(key), "roles": sorted(set(role))}
    typer.echo(f"key (give to the client, shown once): {key}")
    typer.echo(f"RISKGRADE_API_KEYS entry: {json.dumps(entry)}")
