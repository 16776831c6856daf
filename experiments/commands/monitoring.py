"""Monitoring command: population stability, data quality and performance decay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from experiments.cli import (
    REGISTERED_RECORD,
    ParamsOption,
    ProjectOption,
    RegisteredOption,
    app,
    load,
    run_stage,
)


@app.command()
def monitor(
    reference: Annotated[Path, typer.Option(help="Reference sample, e.g. the training split.")],
    current: Annotated[
        Path,
        typer.Option(
            help="Current sample (CSV or Parquet); with outcomes, performance is checked too."
        ),
    ],
    model: Annotated[
        str, typer.Option(help="Model version: name@alias, name/version or an alias.")
    ] = "champion",
    out_dir: Annotated[
        Path, typer.Option(help="Folder for monitoring.html and monitoring.json.")
    ] = Path("data/reports/monitoring"),
    registered: RegisteredOption = REGISTERED_RECORD,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Score PSI, feature PSI, tier shift, missing/out-of-range rates, AUC/KS decay.

    Exits 2 when a red (act) threshold from params.yaml `monitoring` is crossed, 0 otherwise,
    so a scheduler can act on it.
    """
    from experiments.reports import monitoring

    config = load(params)
    result = run_stage(
        lambda: monitoring.run(
            config, model, (reference, current), out_dir, project_dir, registered
        )
    )
    for level, message in result.findings:
        colour = {"stable": "green", "watch": "yellow", "act": "red"}[level]
        typer.secho(f"[{level}] {message}", fg=colour)
    typer.echo(f"status: {result.status} -> {out_dir / 'monitoring.html'}")
    if result.status == "act":
        raise typer.Exit(2)
