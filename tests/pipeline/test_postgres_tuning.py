"""`riskgrade tune` on PostgreSQL from two "machines" (issue 15, item 1): one Optuna study.

Two copies of a tiny project (as two machines have two checkouts, each its own MLflow store)
run ``riskgrade tune --workers 2`` at the same time on one study in a PostgreSQL database,
named the way the README names it (``postgresql://user@host/db``). The study comes out whole:
one study, trial numbers 0..n-1 each once, every trial finished, distinct parameters (the
machines' workers drew the same random start-up trials: 4 of 19 were repeats), the budget
reached (and overshot by at most the trials already running when it was, one per other
worker), and the trials each machine ran and logged to its MLflow add up to the study. A
server that cannot be reached is one line, without the password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from postgres_support import free_port
from registry_support import NewProject
from typer.testing import CliRunner

from experiments.cli import app, register_commands

BUDGET = 16  # trials: enough that both machines are still tuning when the other starts
WORKERS = 2  # per machine
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TINY_TUNING = {
    "tune": {
        "n_trials": BUDGET, "folds": 3, "repeats": 1, "storage": None,
        "pruner": {"enabled": True, "n_startup_trials": 2, "n_warmup_steps": 1},
    },
    "runtime": {"n_jobs": 1},
}  # fmt: skip


def start_machine(root: Path, storage: str) -> subprocess.Popen[str]:
    """``riskgrade tune --workers 2`` in the project ``root``, on the study storage."""
    riskgrade = str(Path(sys.executable).parent / "riskgrade")
    command = [
        riskgrade, "tune", "--model", "logistic", "--train", str(root / "train.parquet"),
        "--output", str(root / "best_params.json"), "--params", str(root / "params.yaml"),
        "--project-dir", str(root), "--no-progress", "--workers", str(WORKERS),
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_EXPERIMENT")}
    environment |= {
        "RISKGRADE_OPTUNA_STORAGE": storage,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
    }
    return subprocess.Popen(
        command, cwd=root, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def logged_trials(root: Path) -> int:
    """Trial runs (children of a tuning run) in the machine's own MLflow store."""
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(root.name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return sum("mlflow.parentRunId" in run.data.tags for run in runs)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_machines_with_two_workers_each_complete_one_study(
    new_project: NewProject, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):  # set up per project, then
        monkeypatch.delenv(name, raising=False)  # restored afterwards
    roots = [new_project("tune-pg", TINY_TUNING, write_parts=True)[0] for _ in range(2)]
    storage = postgres_url.replace("postgresql+psycopg://", "postgresql://")  # README's form

    machines = [start_machine(root, storage) for root in roots]
    outputs = [machine.communicate(timeout=600)[0] for machine in machines]

    for machine, output in zip(machines, outputs, strict=True):
        assert machine.returncode == 0, output
        assert "Traceback" not in output, output
    names = optuna.get_all_study_names(postgres_url)
    assert len(names) == 1, names
    study = optuna.load_study(study_name=names[0], storage=postgres_url)
    assert all(f"{study.study_name}: best CV ROC AUC" in output for output in outputs)
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state in FINISHED for t in trials), Counter(t.state.name for t in trials)
    assert BUDGET <= len(trials) <= BUDGET + 2 * WORKERS - 1
    searched = [tuple(sorted(t.params.items())) for t in trials if "start" not in t.user_attrs]
    assert len(set(searched)) == len(searched), "a trial repeated another's parameters"
    by_machine = Counter(t.user_attrs["invocation"] for t in trials)
    assert len(by_machine) == 2, "one machine ran every trial: the other did not share"
    assert len({t.user_attrs["pid"] for t in trials}) > WORKERS
    assert sorted(logged_trials(root) for root in roots) == sorted(by_machine.values())


def test_an_unreachable_study_database_is_one_line_without_the_password(
    new_project: NewProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: SQLAlchemy's OperationalError and a traceback from inside Optuna."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    root = new_project("tune-pg-down", TINY_TUNING, write_parts=True)[0]
    storage = f"postgresql://tuner:s3cret-pw@127.0.0.1:{free_port()}/optuna"
    monkeypatch.setenv("RISKGRADE_OPTUNA_STORAGE", storage)
    register_commands()
    result = CliRunner().invoke(
        app,
        [
            *("tune", "--model", "logistic", "--train", str(root / "train.parquet")),
            *("--params", str(root / "params.yaml"), "--project-dir", str(root), "--no-progress"),
        ],
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "Optuna storage 'postgresql://tuner:***@127.0.0.1:" in lines[0]
    assert "cannot be opened (OperationalError" in lines[0] and "s3cret" not in result.output
