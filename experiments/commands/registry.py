"""Registry commands: register, sync-challenger, promote, history, rollback, reproduce."""

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
    fail,
    load,
    run_stage,
)


@app.command()
def register(
    artifacts_dir: Annotated[Path, typer.Option(help="Folder with <model>/run.json per family.")],
    reports_dir: Annotated[Path, typer.Option(help="Folder with <model>/metrics.json per family.")],
    output: Annotated[Path, typer.Option(help="registered.json: name, version, family.")],
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Register the best candidate (validation AUC) in the MLflow registry as `challenger`."""
    from experiments.stages import register as stage

    config = load(params)
    result = run_stage(lambda: stage.run(config, artifacts_dir, reports_dir, output, project_dir))
    typer.echo(
        f"registered {result['model_name']} version {result['version']} "
        f"({result['model_family']}) as @challenger"
    )


@app.command("sync-challenger")
def sync_challenger(
    registered: RegisteredOption = REGISTERED_RECORD,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Point `challenger` at the version registered.json names (after DVC restored it)."""
    from mlflow.tracking import MlflowClient

    from experiments.registry.record import sync_challenger as sync
    from experiments.tracking import setup_mlflow

    config = load(params)
    run_stage(lambda: setup_mlflow(config.mlflow, project_dir))
    name, previous, version = run_stage(lambda: sync(MlflowClient(), registered))
    if previous == version:
        typer.echo(f"@challenger of {name!r} already names version {version}, as {registered} says")
    else:
        was = f"version {previous}" if previous else "no version"
        typer.echo(
            f"@challenger of {name!r} now names version {version} (was {was}), as {registered} says"
        )


@app.command()
def promote(
    version: Annotated[
        str | None,
        typer.Option(help="Version number or alias to promote.", show_default="challenger"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Promote even if the gate refuses (needs --reason).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why; required with --force, recorded.")
    ] = None,
    split_dir: Annotated[
        Path, typer.Option(help="Folder with train/test.parquet to measure on.")
    ] = Path("data/processed/split"),
    registered: RegisteredOption = REGISTERED_RECORD,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Move `champion` to a version if it passes the promotion gate in params.yaml.

    Both the candidate and the current champion are measured now on the same test split. A
    refusal exits 1 and names each failing criterion with both numbers. Every decision is
    recorded (see `riskgrade history`).
    """
    from experiments.registry import promotion

    if force and not (reason and reason.strip()):
        fail('--force needs --reason "...": a forced promotion must say why')
    config = load(params)
    decision = run_stage(
        lambda: promotion.run(config, version, force, reason, (split_dir, registered), project_dir)
    )
    if decision.action == "refused":
        failed = [c.describe() for c in decision.criteria if not c.passed]
        fail(f"promotion of version {decision.to_version} refused:\n  " + "\n  ".join(failed))
    typer.echo(f"version {decision.to_version} is now @champion ({decision.action})")


@app.command()
def history(
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Print every promotion, refusal and rollback of the registered model, oldest first."""
    from experiments.registry import promotion

    config = load(params)
    run_stage(lambda: promotion.print_history(config, project_dir))


@app.command()
def rollback(
    reason: Annotated[str, typer.Option(help="Why the champion is rolled back (recorded).")],
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Point `champion` back at the previous champion, and record it."""
    from experiments.registry import promotion

    config = load(params)
    decision = run_stage(lambda: promotion.run_rollback(config, reason, project_dir))
    typer.echo(
        f"champion rolled back from version {decision.from_version} to {decision.to_version}"
    )


@app.command()
def reproduce(
    ref: Annotated[str, typer.Argument(help="<model name>/<version>, or a training run id.")],
    tolerance: Annotated[float, typer.Option(help="Allowed absolute metric difference.")] = 0.0,
    allow_dirty: Annotated[
        bool,
        typer.Option(
            help="Rebuild a version trained from uncommitted changes anyway (from its commit, "
            "which lacks them)."
        ),
    ] = False,
    registered: RegisteredOption = REGISTERED_RECORD,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Rebuild a version from its recorded git commit and data hash; compare test metrics.

    What makes a rebuild hopeless is checked first: uncommitted changes at training time, a
    missing commit, data that was never committed. Progress goes to stderr. Exits 1 when a
    metric differs by more than --tolerance (default: must be identical).
    """
    from rich.console import Console
    from rich.table import Table

    from experiments.registry import reproduce as reproduction

    def progress(line: str) -> None:
        typer.echo(f"reproduce: {line}", err=True)

    config = load(params)
    lineage, rebuilt = run_stage(
        lambda: reproduction.reproduce(config, ref, project_dir, registered, allow_dirty, progress)
    )
    table = Table(title=f"{ref}: commit {lineage.git_commit[:12]}, data md5 {lineage.data_md5}")
    for column in ("test metric", "recorded", "reproduced", "difference"):
        table.add_column(column)
    worst = 0.0
    for name, recorded in sorted(lineage.recorded.items()):
        value = rebuilt.get(name, float("nan"))
        worst = max(worst, abs(value - recorded)) if value == value else float("inf")
        table.add_row(name, f"{recorded:.6f}", f"{value:.6f}", f"{value - recorded:+.2e}")
    Console().print(table)
    if lineage.git_dirty == "true":
        typer.secho(
            "warning: the run was trained from uncommitted changes; its commit was rebuilt",
            fg=typer.colors.YELLOW,
            err=True,
        )
    if worst > tolerance:
        fail(f"metrics differ by up to {worst:.3g} (tolerance {tolerance})")
    typer.echo("reproduced: every recorded test metric matches")
