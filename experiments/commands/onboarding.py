"""``riskgrade init``: a params.yaml for the user's own data file."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from experiments.cli import app, fail

if TYPE_CHECKING:
    from experiments.onboarding.options import InitOptions

SEED = 42  # the bundled params.yaml's: the sample of a large file and the leakage folds


@app.command()
def init(
    data: Annotated[Path, typer.Option("--data", help="The CSV or Parquet file to profile.")],
    target: Annotated[str, typer.Option(help="The outcome column: default or not.")],
    positive_label: Annotated[
        str | None,
        typer.Option(help="The target label meaning default [default: inferred from the labels]."),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(help="Customer id column [default: a column unique in every row, if any]."),
    ] = None,
    date_column: Annotated[
        str | None, typer.Option(help="Application date column: gives an out-of-time split.")
    ] = None,
    output: Annotated[Path, typer.Option(help="The configuration file to write.")] = Path(
        "params.yaml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
) -> None:
    """Profile a data file and write a params.yaml declaring every column's role.

    Detects the delimiter, encoding, missing-value text and types; sets apart
    constant, id-like, date-like, free-text, protected and suspected leakage
    columns, each with its reason as a comment. Settings that name columns
    (ratios, monotone constraints, reason labels, actionable features) start
    empty; everything else is the bundled params.yaml.
    """
    from experiments.config import ConfigError
    from experiments.io import InputError, write_atomic
    from experiments.onboarding.decisions import InitError
    from experiments.onboarding.options import InitOptions
    from experiments.onboarding.params_file import params_for_file

    if output.exists() and not force:
        fail(f"{output} exists; rerun with --force to overwrite it")
    options = InitOptions(target, positive_label, id_column, date_column, SEED)
    try:
        profile, text = params_for_file(data, options, output, command_line(options, data, output))
    except (InputError, InitError, ConfigError) as error:
        fail(str(error))
    write_atomic(output, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    table = profile.table
    read_as = f"{table.format}"
    if table.format == "csv":
        read_as += f", delimiter {table.delimiter!r}, {table.encoding}"
    typer.echo(f"{data}: {table.n_rows:,} rows, {len(profile.decisions)} columns ({read_as})")
    width = max(len(d.column) for d in profile.decisions)
    typer.echo(f"{'column'.ljust(width)}  {'role':<11}  why")
    for decision in profile.decisions:
        typer.echo(f"{decision.column.ljust(width)}  {decision.role:<11}  {decision.why}")
    typer.echo(f"missing values: {', '.join(repr(t) for t in profile.na_values)}")
    for note in profile.notes:
        typer.echo(f"note: {note}")
    typer.echo(
        f"wrote {output}. Next: check the roles (comments in {output}), then `dvc repro`, "
        "`riskgrade promote` and `riskgrade score --input <file> --output scored.parquet`"
    )


def command_line(options: InitOptions, data: Path, output: Path) -> str:
    """The command as typed (without --force), for the header of the written file."""
    words = ["riskgrade", "init", "--data", str(data), "--target", options.target]
    for flag, value in (
        ("--positive-label", options.positive_label),
        ("--id-column", options.id_column),
        ("--date-column", options.date_column),
        ("--output", None if output == Path("params.yaml") else str(output)),
    ):
        if value is not None:
            words += [flag, value]
    return shlex.join(words)
