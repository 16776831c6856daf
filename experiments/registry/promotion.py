"""``riskgrade promote / history / rollback``: the gate's edges (MLflow, files, the terminal)."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.table import Table

from experiments.config import ProjectConfig
from experiments.registry.record import resolve_checked
from experiments.registry.refs import version_uri
from experiments.registry.versions import (
    CHAMPION,
    Decision,
    load_split,
    measure,
    promote,
    read_history,
    rollback,
    version_by_alias,
)
from experiments.tracking import setup_mlflow


def comparison_table(decision: Decision) -> Table:
    table = Table(
        title=f"{decision.model_name}: v{decision.to_version} vs champion "
        f"{'v' + decision.from_version if decision.from_version else '(none)'}"
    )
    for column in ("criterion", "candidate", "champion", "rule", "verdict"):
        table.add_column(column)
    for c in decision.criteria:
        champion = "-" if c.champion_value is None else f"{c.champion_value:.4f}"
        verdict = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        table.add_row(c.name, f"{c.value:.4f}", champion, f"{c.rule} {c.threshold:.4f}", verdict)
    return table


def run(
    config: ProjectConfig,
    version: str | None,
    force: bool,
    reason: str | None,
    paths: tuple[Path, Path],
    project_dir: Path,
) -> Decision:
    """Measure and gate ``version`` (``None``: ``@challenger``, checked against the DVC record;
    ``paths`` = (split folder, ``registered.json``)); print the comparison table on stdout."""
    split_dir, record = paths
    setup_mlflow(config.mlflow, project_dir)
    client = MlflowClient()
    name = config.registry.model_name
    candidate = resolve_checked(client, name, version, record)
    train, test = load_split(split_dir, "train"), load_split(split_dir, "test")
    champion = version_by_alias(client, name, CHAMPION)
    alpha, fairness = config.promotion.calibration_alpha, config.fairness
    measured_candidate = measure(
        version_uri(name, candidate.version), config.data, train, test, alpha, split_dir, fairness
    )
    measured_champion = (
        measure(
            version_uri(name, champion.version), config.data, train, test, alpha, split_dir,
            fairness,
        )
        if champion is not None and str(champion.version) != str(candidate.version)
        else None
    )  # fmt: skip
    decision = promote(
        client,
        name,
        candidate,
        (measured_candidate, measured_champion),
        config.promotion,
        reason if force else None,
        fairness,
    )
    Console().print(comparison_table(decision))
    return decision


def print_history(config: ProjectConfig, project_dir: Path) -> None:
    setup_mlflow(config.mlflow, project_dir)
    name = config.registry.model_name
    entries = read_history(MlflowClient(), name)
    table = Table(title=f"{name}: promotion history ({len(entries)} decisions)")
    for column in ("time (UTC)", "action", "from", "to", "user", "reason", "failed criteria"):
        table.add_column(column)
    for entry in entries:
        failed = [c["name"] for c in json.loads(entry.get("criteria", "[]")) if not c["passed"]]
        table.add_row(
            entry.get("time", "")[:19],
            entry.get("action", ""),
            entry.get("from_version") or "-",
            entry.get("to_version", ""),
            entry.get("user", ""),
            entry.get("reason", ""),
            ", ".join(failed) or "-",
        )
    Console(width=160).print(table)


def run_rollback(config: ProjectConfig, reason: str, project_dir: Path) -> Decision:
    setup_mlflow(config.mlflow, project_dir)
    return rollback(MlflowClient(), config.registry.model_name, reason)
