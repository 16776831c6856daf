"""Portfolio commands: early-warning alerts and the customer risk report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from experiments.cli import ParamsOption, ProjectOption, app, fail, load, run_stage
from experiments.commands.serving import service_settings, store_problem


@app.command()
def alerts(
    severity: Annotated[str | None, typer.Option(help="high or medium.")] = None,
    tier: Annotated[str | None, typer.Option(help="Current tier: low, medium or high.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Scoring run id.")] = None,
    csv: Annotated[
        Path | None, typer.Option(help="Also export the alerts to this CSV file.")
    ] = None,
    ids_from: Annotated[
        Path | None,
        typer.Option(
            "--ids-from",
            help="Your customers file (CSV or Parquet): show each alert's customer id, found "
            "by hashing the file's ids here, in memory (never stored).",
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(help="Id column of --ids-from (default: data.id_column in params.yaml)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to print.")] = 50,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """List early-warning alerts raised by `riskgrade score` runs (stored with the audit trail,
    hashed ids only). Each is raised once, in the run where its condition starts for the
    customer. With --ids-from, the table and the CSV export show the clear ids."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError

    from experiments.io import write_atomic
    from experiments.portfolio.runs import ids_by_hash
    from serving.stores.portfolio import open_store, query_alerts

    if severity not in (None, "high", "medium"):
        fail(f"--severity must be high or medium, got {severity!r}")
    if id_column is not None and ids_from is None:
        fail("--id-column needs --ids-from FILE")
    settings = service_settings(params, project_dir)
    try:
        found = query_alerts(open_store(settings.audit_url), severity, tier, run).drop(columns="id")
    except (SQLAlchemyError, ValueError, ImportError) as error:
        fail(store_problem("alert store", settings, error))  # the URL without its password
    shown = ["run_id", "customer_hash", "alert", "severity", "previous_tier", "tier", "detail"]
    if ids_from is not None:
        data = load(params).data
        column = id_column or data.id_column
        if column is None:
            fail(f"--ids-from {ids_from} needs --id-column (data.id_column is not set in {params})")
        try:
            ids = ids_by_hash(ids_from, str(column), settings.hash_secret, data.table_format)
        except ValueError as error:
            fail(f"--ids-from {error}")
        clear = found["customer_hash"].map(ids).fillna("")  # in memory only
        found.insert(list(found.columns).index("customer_hash") + 1, "customer_id", clear)
        shown.insert(2, "customer_id")
    if csv is not None:
        write_atomic(csv, lambda tmp: found.to_csv(tmp, index=False))
    table = Table(title=f"{len(found)} alert(s)")
    for name in shown:
        table.add_column(name)
    for row in found.head(limit)[shown].fillna("-").astype(str).itertuples(index=False):
        table.add_row(row[0][:8], row[1][:12], *row[2:])
    Console(width=200).print(table)
    unmatched = int((found["customer_id"] == "").sum()) if ids_from is not None else 0
    if unmatched:
        typer.echo(f"{unmatched} alert(s) matched no id in {ids_from}")


@app.command("customer-report")
def customer_report(
    input: Annotated[Path, typer.Option("--input", help="Customers file (CSV or Parquet).")],
    customer_id: Annotated[str, typer.Option("--id", help="The customer's id in that file.")],
    id_column: Annotated[
        str | None, typer.Option(help="Id column [default: data.id_column in params.yaml].")
    ] = None,
    model: Annotated[str, typer.Option(help="name@alias, name/version or an alias.")] = "champion",
    out_dir: Annotated[
        Path,
        typer.Option(
            help="Folder for <hashed id>.html/.json, one pair per customer (the default is "
            "git-ignored)."
        ),
    ] = Path("data/reports/customers"),
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Score, PD, tier, strategy, risk factors, the changes the customer can make that would
    lower the PD (customer_report.actionable) and past scores (by hashed id) for one customer.
    Writes <hashed id>.html and .json: the file names never show the clear id."""
    from experiments.reports import customer as builder

    config = load(params)
    column = id_column or config.data.id_column
    if column is None:
        fail("the dataset has no id column: pass --id-column")
    settings = service_settings(params, project_dir)
    report, page = run_stage(
        lambda: builder.run(
            config,
            model,
            input,
            (str(column), customer_id),
            settings.audit_url,
            settings.hash_secret,
            out_dir,
            project_dir,
        )
    )
    typer.echo(
        f"score {report['score']}, PD {report['pd']:.1%}, tier {report['tier']}: "
        f"{', '.join(report['recommended_actions'])} -> {page}"
    )
