"""``riskgrade report``: the validation report of a registered model version (DVC stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from experiments.cli import REGISTERED_RECORD, ParamsOption, ProjectOption, app, load, run_stage
from experiments.config import ProjectConfig

BY_VERSION = Path("data/reports/versions")  # hand runs; the DVC stage's outs are in dvc.yaml


def pinned_version(config: ProjectConfig, ref: str, project_dir: Path) -> tuple[str, str]:
    """``(model name, version number)`` of ``ref`` now; an ``@challenger`` that the register
    stage's DVC record contradicts is refused."""
    from mlflow.tracking import MlflowClient

    from experiments.registry.record import resolve_checked
    from experiments.registry.refs import parse_model_ref
    from experiments.tracking import setup_mlflow

    setup_mlflow(config.mlflow, project_dir)
    name, wanted = parse_model_ref(ref)
    version = resolve_checked(MlflowClient(), name, wanted, REGISTERED_RECORD)
    return name, str(version.version)


@app.command()
def report(
    ref: Annotated[
        str | None,
        typer.Argument(
            help="<model name>/<version or alias>, e.g. riskgrade-credit/3.",
            show_default="the version in --registered",
        ),
    ] = None,
    registered: Annotated[
        Path | None,
        typer.Option(
            help="registered.json of the register stage: report that version.",
            show_default="none: give REF",
        ),
    ] = None,
    split_dir: Annotated[Path, typer.Option(help="Folder with train/valid/test.parquet.")] = Path(
        "data/processed/split"
    ),
    data_report: Annotated[
        Path, typer.Option(help="Data summary of the validate stage (JSON).")
    ] = Path("data/reports/validation.json"),
    html: Annotated[
        Path | None,
        typer.Option(
            help="Where the HTML report goes. The DVC stage passes its own path (dvc.yaml); "
            "a hand run writes beside the version's other reports.",
            show_default=f"{BY_VERSION}/<name>/v<version>/validation_report.html",
        ),
    ] = None,
    json_output: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Where the same numbers go as JSON.",
            show_default=f"{BY_VERSION}/<name>/v<version>/validation_report.json",
        ),
    ] = None,
    examples: Annotated[
        int, typer.Option(min=1, max=100, help="Riskiest test customers shown with reasons.")
    ] = 5,
    params: ParamsOption = Path("params.yaml"),
    project_dir: ProjectOption = Path("."),
) -> None:
    """Write the validation report (HTML + JSON) of a version and log it to its MLflow run.

    Data summary, params, metrics on train/valid/test, ROC, KS, calibration, gains, score
    distribution, tiers, PSI, SHAP, example reason codes, comparison with the champion and
    the promotion-gate verdict. The version gets the tag `validation_report`. A hand run
    never overwrites the DVC stage's outputs unless given their paths.
    """
    from experiments.reports.validation import choose_ref
    from experiments.stages.report import run as run_report

    config = load(params)
    name, version = run_stage(
        lambda: pinned_version(config, choose_ref(ref, registered), project_dir)
    )
    folder = BY_VERSION / name / f"v{version}"
    html = html or folder / "validation_report.html"
    json_output = json_output or folder / "validation_report.json"
    numbers = run_stage(
        lambda: run_report(
            config,
            f"{name}/{version}",
            split_dir,
            data_report,
            (html, json_output),
            project_dir,
            examples,
        )
    )
    head, verdict = numbers["report"], "passes" if numbers["gate"]["passed"] else "is refused by"
    typer.echo(
        f"report of {head['model_name']} version {head['version']}: {html}, {json_output} "
        f"(logged to {head['mlflow_uri']}); the version {verdict} the promotion gate"
    )
