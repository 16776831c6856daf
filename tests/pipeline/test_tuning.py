"""`riskgrade tune` for real: resuming, killing, two workers, MLflow nesting, refusals.

Every test works in its own temporary project (training split, params.yaml, journal storage
under data/studies/) with a temporary MLflow store; tiny budgets (3-8 trials, 3 folds) keep
the module fast. Nothing touches the repository's data/ or mlflow.db.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.entities import Run
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig
from features.splitting import split_dataset

register_commands()

JOURNAL = "data/studies/riskgrade.journal"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module")
def train_frame(project_config: ProjectConfig, german_credit: pd.DataFrame) -> pd.DataFrame:
    config = project_config
    return split_dataset(german_credit, config.data, config.split, config.seed)["train"]


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def project(
    tmp_path: Path,
    repo_root: Path,
    train_frame: pd.DataFrame,
    mlflow_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A project folder with a training split and a params.yaml for tiny, fast studies."""
    params: dict[str, Any] = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["tune"] |= {"n_trials": 3, "folds": 3, "repeats": 1, "storage": None}
    params["tune"]["pruner"] = {"enabled": True, "n_startup_trials": 2, "n_warmup_steps": 1}
    params["runtime"] = {"n_jobs": 1}
    params["mlflow"] |= {"experiment": f"tune-{tmp_path.name}"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    train_frame.to_parquet(tmp_path / "train.parquet", index=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.delenv("RISKGRADE_OPTUNA_STORAGE", raising=False)
    return tmp_path


def tune_args(project: Path, model: str, *extra: str) -> list[str]:
    return [
        "tune", "--model", model, "--train", str(project / "train.parquet"),
        "--output", str(project / "best_params.json"), "--params", str(project / "params.yaml"),
        "--project-dir", str(project), "--no-progress", *extra,
    ]  # fmt: skip


def invoke(project: Path, model: str, *extra: str) -> Any:
    return CliRunner().invoke(app, tune_args(project, model, *extra))


def run_cli(project: Path, model: str, *extra: str) -> subprocess.CompletedProcess[str]:
    riskgrade = str(Path(sys.executable).parent / "riskgrade")
    return subprocess.run(
        [riskgrade, *tune_args(project, model, *extra)],
        cwd=project, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def reported_study(output: str) -> str:
    """The study name from the command's last line: ``<study>: best CV ROC AUC ...``."""
    found = re.search(r"^(\S+): best CV ROC AUC", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def load_study(project: Path) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(project / JOURNAL)))
    names = optuna.get_all_study_names(storage)
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=storage)


def finished_trials(project: Path) -> int:
    """Finished trials so far, read while another process may be writing (0 before start)."""
    try:
        return len(load_study(project).get_trials(states=FINISHED))
    except (AssertionError, OSError, ValueError, KeyError):
        return 0


def runs_of(mlflow_uri: str, project: Path) -> tuple[list[Run], list[Run]]:
    """Parent (tuning) runs and child (trial) runs of the project's MLflow experiment."""
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment_by_name(f"tune-{project.name}")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return [r for r in runs if r not in children], children


def test_running_again_resumes_the_same_study_and_nests_trials_in_mlflow(
    project: Path, mlflow_uri: str
) -> None:
    first = invoke(project, "logistic")
    second = invoke(project, "logistic", "--n-trials", "6")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    study = load_study(project)
    assert reported_study(first.output) == reported_study(second.output) == study.study_name
    assert [t.number for t in study.trials] == list(range(6))
    assert all(t.state in FINISHED for t in study.trials)
    assert study.trials[0].user_attrs["start"] == "params.yaml"  # the configured model first
    parents, children = runs_of(mlflow_uri, project)
    assert len(parents) == 2 and len(children) == 6
    for parent in parents:
        tags = parent.data.tags
        assert tags["optuna_study"] == study.study_name
        assert tags["optuna_storage"] == str(project / JOURNAL)
        assert tags["model_family"] == "logistic"
        assert {"git_commit", "data_md5"} <= set(tags)
        nested = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert len(nested) == 3
        assert all(len(c.data.params) == 4 and "duration_seconds" in c.data.metrics for c in nested)
        assert "best_cv_roc_auc" in parent.data.metrics
    client = MlflowClient(tracking_uri=mlflow_uri)
    plots = {a.path for a in client.list_artifacts(parents[0].info.run_id, "plots")}
    assert plots == {"plots/optimization_history.png", "plots/param_importances.png"}


def test_a_killed_study_resumes_where_it_stopped(project: Path) -> None:
    command = [str(Path(sys.executable).parent / "riskgrade"), *tune_args(project, "lightgbm")]
    worker = subprocess.Popen(
        [*command, "--n-trials", "200"], cwd=project, env=dict(os.environ),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while finished_trials(project) < 2:
        assert worker.poll() is None, worker.communicate()[0]
        assert time.monotonic() < deadline, "no trial finished within 2 minutes"
        time.sleep(0.1)
    worker.kill()
    worker.wait()
    before = load_study(project).trials
    budget = len([t for t in before if t.state in FINISHED]) + 2

    result = invoke(project, "lightgbm", "--n-trials", str(budget))

    assert result.exit_code == 0, result.output
    study = load_study(project)  # still one study, with the same name
    assert study.study_name == reported_study(result.output)
    assert [t.number for t in study.trials] == list(range(len(study.trials)))
    assert len(study.get_trials(states=FINISHED)) == budget
    assert not study.get_trials(states=(TrialState.RUNNING,)), "the killed trial is not failed"
    killed = [t.number for t in before if t.state == TrialState.RUNNING]
    assert all(study.trials[number].state == TrialState.FAIL for number in killed)
    assert min(t.number for t in study.trials if t.number >= len(before)) == len(before)
    assert [t.params for t in study.trials[: len(before)]] == [t.params for t in before]


def test_two_workers_share_one_study_without_locking(project: Path, mlflow_uri: str) -> None:
    result = run_cli(project, "logistic", "--workers", "2", "--n-trials", "8")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "database is locked" not in output and "Traceback" not in output
    study = load_study(project)
    assert [t.number for t in study.trials] == list(range(8))
    assert all(t.state in FINISHED for t in study.trials)
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2, "two processes ran trials"
    assert len({tuple(sorted(t.params.items(), key=str)) for t in study.trials}) == 8
    parents, children = runs_of(mlflow_uri, project)
    assert len(parents) == 1 and parents[0].data.tags["optuna_workers"] == "2"
    assert len(children) == 8
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert (project / "best_params.json").is_file()


def test_sqlite_with_several_workers_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = project / "studies.db"
    monkeypatch.setenv("RISKGRADE_OPTUNA_STORAGE", f"sqlite:///{database}")

    result = invoke(project, "logistic", "--workers", "2")

    assert result.exit_code == 1
    assert "RISKGRADE_OPTUNA_STORAGE is an SQLite database" in result.output
    assert "database is locked" in result.output and "PostgreSQL" in result.output
    assert not database.exists() and not (project / "best_params.json").exists()


@pytest.mark.parametrize(
    ("tune", "env", "expected"),
    [
        ({"n_trials": 0}, None, "tune.n_trials: Input should be greater than or equal to 1"),
        ({"n_trials": None, "timeout_seconds": None}, None, "tune.n_trials and tune.timeout"),
        ({"storage": "redis://cache/0"}, None, "tune.storage: "),
        ({}, "mongodb://u:secret@db/x", "RISKGRADE_OPTUNA_STORAGE: 'mongodb://u:***@db/x'"),
    ],
)
def test_bad_budget_or_storage_stops_with_the_setting_named(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    tune: dict[str, Any],
    env: str | None,
    expected: str,
) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["tune"] |= tune
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    if env:
        monkeypatch.setenv("RISKGRADE_OPTUNA_STORAGE", env)

    result = invoke(project, "logistic")

    assert result.exit_code == 1
    assert expected in result.output and "secret" not in result.output
    assert "Traceback" not in result.output
    assert not (project / "data/studies").exists()


def test_command_line_budget_is_checked(project: Path) -> None:
    result = invoke(project, "logistic", "--n-trials", "0")

    assert result.exit_code == 2
    assert "--n-trials" in result.output
