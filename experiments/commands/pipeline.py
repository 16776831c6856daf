"""Pipeline stage commands: ingest, validate, split, train, evaluate (one per DVC stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from experiments.cli import ParamsOption, ProjectOption, app, check_family, load, run_stage


@app.command()
def ingest(
    output: Annotated[Path, typer.Option(help="Where the raw copy goes (under data/raw/).")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Copy the configured data source into data/raw/, checking its pinned sha256."""
    from experiments.stages import ingest as stage

    config = load(params)
    sha256 = run_stage(lambda: stage.run(config.data, output))
    typer.echo(f"ingested {config.data.source} -> {output} (sha256 {sha256[:12]}...)")


@app.command()
def validate(
    input: Annotated[Path, typer.Option("--input", help="Raw CSV or Parquet file.")],
    output: Annotated[Path, typer.Option(help="Validated dataset (Parquet).")],
    report: Annotated[Path, typer.Option(help="Validation summary (JSON).")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Check the raw file against the schema in params.yaml; write the typed dataset."""
    from experiments.config import stale_column_references
    from experiments.stages import validate as stage

    config = load(params)
    warnings = stale_column_references(config)
    for line in warnings:
        typer.secho(f"warning: {line}", fg=typer.colors.YELLOW, err=True)
    summary = run_stage(lambda: stage.run(config.data, input, output, report, warnings))
    typer.echo(
        f"valid: {summary['n_rows']} rows, default rate {summary['default_rate']:.1%} -> {output}"
    )


@app.command()
def split(
    input: Annotated[Path, typer.Option("--input", help="Validated dataset (Parquet).")],
    out_dir: Annotated[Path, typer.Option(help="Folder for train/valid/test.parquet.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Split into train / validation / test (stratified, or out-of-time with a date column)."""
    from experiments.stages import split as stage

    config = load(params)
    sizes = run_stage(lambda: stage.run(config.data, config.split, config.seed, input, out_dir))
    typer.echo("split: " + ", ".join(f"{k} {v} rows" for k, v in sizes.items()))


@app.command()
def train(
    model: Annotated[
        str, typer.Option(help="Model family from params.yaml: lightgbm, logistic or scorecard.")
    ],
    train_data: Annotated[Path, typer.Option("--train", help="Training split (Parquet).")],
    raw: Annotated[Path, typer.Option(help="Raw data file, whose DVC hash the run records.")],
    output: Annotated[Path, typer.Option(help="run.json: MLflow run id and model URI.")],
    best_params: Annotated[
        Path | None,
        typer.Option(help="best_params.json from `riskgrade tune`, laid over params.yaml."),
    ] = None,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Fit one model family's full pipeline and log it to MLflow."""
    from experiments.stages import train as stage

    config = load(params)
    check_family(model)
    record = run_stage(
        lambda: stage.run(config, model, train_data, raw, output, project_dir, best_params)
    )
    typer.echo(f"trained {model}: MLflow run {record['run_id']}")


@app.command()
def evaluate(
    run_file: Annotated[Path, typer.Option("--run", help="run.json written by train.")],
    split_dir: Annotated[Path, typer.Option(help="Folder with valid.parquet and test.parquet.")],
    out_dir: Annotated[Path, typer.Option(help="Folder for metrics.json, plots and tables.")],
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Metrics (AUC, Gini, KS, Brier, log loss, PR AUC), ROC and calibration on test."""
    from experiments.stages import evaluate as stage

    config = load(params)
    metrics = run_stage(lambda: stage.run(config, run_file, split_dir, out_dir, project_dir))
    test = metrics["test"]
    typer.echo(f"test: AUC {test['roc_auc']:.4f}, KS {test['ks']:.4f}, Brier {test['brier']:.4f}")
