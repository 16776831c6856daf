"""The validation report of a registered scorecard shows its points table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from registry_support import NewProject, register_fitted
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig
from experiments.io import write_json
from experiments.stages.validate import summarise

NAME = "scorecard-report"


@pytest.fixture(scope="module")
def reported(new_project: NewProject, german_credit: pd.DataFrame) -> tuple[Path, dict, str]:
    """A champion scorecard in a temporary store, reported by `riskgrade report`."""
    root, config, parts = new_project(NAME)
    (root / "split").mkdir()
    for name, frame in parts.items():
        frame.to_parquet(root / "split" / f"{name}.parquet")
    write_json(root / "validation.json", summarise(german_credit, config.data))
    version = register_fitted(config, config.models.get("scorecard"), parts["train"], champion=True)
    register_commands()
    html, out = root / "report.html", root / "report.json"
    result = CliRunner().invoke(
        app,
        [
            *("report", f"{NAME}/{version}", "--split-dir", str(root / "split")),
            *("--data-report", str(root / "validation.json")),
            *("--html", str(html), "--json", str(out)),
            *("--params", str(root / "params.yaml"), "--project-dir", str(root)),
        ],
    )
    assert result.exit_code == 0, result.output
    return root, json.loads(out.read_text()), html.read_text()


def test_report_shows_the_points_table_of_every_characteristic(
    reported: tuple[Path, dict, str], project_config: ProjectConfig
) -> None:
    _, numbers, html = reported
    table = numbers["model"]["tables"]["points_table"]
    characteristics = {row["characteristic"] for row in table}
    ratios = {r.name for r in project_config.features.ratios}
    assert characteristics == set(project_config.data.features) | ratios
    for name in characteristics:  # each characteristic's best attribute loses no points
        lost = [row["points_lost"] for row in table if row["characteristic"] == name]
        assert min(lost) == pytest.approx(0.0, abs=1e-9) and min(lost) >= -1e-9
    assert "<h3>Points table</h3>" in html
    assert html.count('data-key="model.tables.points_table.') == 6 * len(table)
    empty = [row for row in table if row["count"] == 0]
    assert all(row["event_rate"] is None for row in empty)  # shown as n/a, not 0 %
