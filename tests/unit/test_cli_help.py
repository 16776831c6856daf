"""Every command's --help shows each option's default (or that it is required)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.core import TyperCommand, TyperOption
from typer.testing import CliRunner

from experiments.cli import app, register_commands

register_commands()
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def option_rows(help_text: str, command: TyperCommand) -> dict[str, str]:
    """The help line of each option and argument, by its name, from the rendered help."""
    rows: dict[str, str] = {}
    for param in command.params:
        label = param.opts[0] if isinstance(param, TyperOption) else str(param.name)
        pattern = re.compile(rf"^│\s+(\*\s+)?{re.escape(label)}(\s|$)", re.IGNORECASE)
        rows[label] = next(line for line in help_text.splitlines() if pattern.match(line))
    return rows


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_every_default(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    for label, row in option_rows(result.output, command).items():
        if label == "--help":
            continue
        assert "[default: " in row or "[required]" in row, f"{name} {label}: {row.strip()}"


@pytest.mark.parametrize(
    ("name", "option", "shown"),
    [
        ("promote", "--version", "Version number or alias to promote. [default: (challenger)]"),
        ("promote", "--reason", "Why; required with --force, recorded. [default: (none)]"),
        ("score", "--rejects", "Rejected rows with reasons. [default: (<output>.rejects.csv)]"),
        (
            "tune",
            "--output",
            "best_params.json. [default: (data/artifacts/MODEL/best_params.json)]",
        ),
        ("monitor", "--model", "name/version or an alias. [default: champion]"),
    ],
)
def test_a_default_written_in_the_help_is_shown_once(name: str, option: str, shown: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "400"})
    row = option_rows(result.output, command)[option]
    assert row.rstrip(" │").endswith(shown)
    assert row.count("default") == 1
