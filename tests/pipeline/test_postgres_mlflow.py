"""End to end on a real MLflow tracking server: ``mlflow server`` with PostgreSQL as its backend
store and a local artifact folder it serves, used by `dvc repro` through
``MLFLOW_TRACKING_URI=http://...`` (issue 15, item 1). Runs, the registry, aliases,
`riskgrade promote`, `riskgrade serve` and `riskgrade score` all go over HTTP; nothing MLflow
keeps is written next to the project.

The smallest pipeline that still has every stage: one family (LightGBM, the default), a
two-trial study on two folds, two calibration folds.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from pipeline.dvc_project import SMALL_BUDGETS, copy_project, make_env, run
from pipeline.mlflow_server import MlflowServer, free_port, running_mlflow_server
from postgres_support import PostgresServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FAMILY = "lightgbm"
BUDGETS: dict[str, dict[str, Any]] = SMALL_BUDGETS | {
    "tune": SMALL_BUDGETS["tune"] | {"n_trials": 2, "folds": 2, "pruner": {"enabled": False}},
    "calibration": {"folds": 2},
    "train": {"models": [FAMILY]},
}


@dataclass(frozen=True)
class ServedProject:
    """The project after `dvc repro` against the server, and where that server keeps things."""

    root: Path
    env: dict[str, str]
    server: MlflowServer
    backend_url: str  # the server's PostgreSQL database (SQLAlchemy URL)
    artifacts: Path  # the server's artifact folder
    registered: dict[str, str]


def one_family_project(root: Path) -> None:
    """``BUDGETS`` over params.yaml; the register stage depends on ``FAMILY``'s files only."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    others = set(params["train"]["models"]) - {FAMILY}
    for section, values in BUDGETS.items():
        params[section] |= values
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    register = pipeline["stages"]["register"]
    register["deps"] = [d for d in register["deps"] if not any(f"/{o}/" in d for o in others)]
    (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))


class TimedCommands:
    """Runs commands in the project, checked, each one's wall time in ``log`` (for slow CI)."""

    def __init__(self, log: Path, root: Path, env: dict[str, str]) -> None:
        self.log, self.root, self.env = log, root, env

    def __call__(self, args: list[str]) -> None:
        started = time.perf_counter()
        run(args, self.root, self.env)
        self.note(f"{time.perf_counter() - started:6.1f} s  {' '.join(args)}")

    def note(self, line: str) -> None:
        with self.log.open("a") as out:
            out.write(line + "\n")


@pytest.fixture(scope="module")
def served(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory, repo_root: Path
) -> Iterator[ServedProject]:
    workdir = tmp_path_factory.mktemp("mlflow-http")
    backend = postgres_server.create_database("mlflow_http")
    artifacts = workdir / "server-artifacts"
    artifacts.mkdir()
    log = workdir / "mlflow-server.log"
    with running_mlflow_server(backend, artifacts, log, wait=False) as server:
        root = workdir / "project"
        root.mkdir()
        copy_project(repo_root, root)
        one_family_project(root)
        env = make_env(workdir / "unused.db") | {"MLFLOW_TRACKING_URI": server.url}
        timed = TimedCommands(workdir / "commands.log", root, env)
        timed(["git", "init", "-q", "-b", "main"])
        timed(["git", "add", "-A"])
        timed(["git", "commit", "-q", "-m", "snapshot"])
        timed(["dvc", "repro", "split"])  # no MLflow before tuning: while the server starts
        started = time.perf_counter()
        server.wait_healthy()
        timed.note(f"{time.perf_counter() - started:6.1f} s  waiting for the server after split")
        timed(["dvc", "repro"])
        registered = json.loads((root / "data/artifacts/registered.json").read_text())
        yield ServedProject(root, env, server, backend, artifacts, registered)


@pytest.fixture(scope="module")
def client(served: ServedProject) -> MlflowClient:
    """A client of the server; MLflow's own functions (``pyfunc.load_model``) use it too."""
    mlflow.set_tracking_uri(served.server.url)  # reset after the module (tests/conftest.py)
    return MlflowClient(tracking_uri=served.server.url, registry_uri=served.server.url)


def test_runs_are_on_the_server_with_params_metrics_artifacts_and_lineage(
    served: ServedProject, client: MlflowClient
) -> None:
    root = served.root
    record = json.loads((root / f"data/artifacts/{FAMILY}/run.json").read_text())
    run_ = client.get_run(record["run_id"])
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    data_md5 = lock["stages"]["ingest"]["outs"][0]["md5"]
    raw = root / "data/raw/german_credit.csv"
    assert hashlib.md5(raw.read_bytes()).hexdigest() == data_md5
    assert run_.data.tags["data_md5"] == data_md5
    head = run(["git", "rev-parse", "HEAD"], root, served.env).stdout.strip()
    assert run_.data.tags["git_commit"] == head
    assert run_.data.params["model_family"] == FAMILY
    assert run_.data.metrics["test_roc_auc"] > 0.7
    top = {a.path for a in client.list_artifacts(run_.info.run_id)}
    assert {"scoring_policy.json", "evaluation", "validation_report"} <= top
    experiment = client.get_experiment(run_.info.experiment_id)
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), experiment
    # The files are in the server's artifact folder, none next to the project.
    assert list(served.artifacts.rglob("scoring_policy.json"))
    assert not [p.name for p in root.iterdir() if p.name in {"mlflow.db", "mlartifacts", "mlruns"}]
    model = mlflow.pyfunc.load_model(record["model_uri"])
    scored = model.predict(pd.read_csv(raw).head(10))
    assert scored["pd"].between(0, 1).all()


def test_tracking_and_registry_are_stored_in_postgresql(served: ServedProject) -> None:
    import psycopg  # the postgres extra; postgres_server has skipped without it

    with psycopg.connect(served.backend_url.replace("+psycopg", "")) as connection:
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()
        names = connection.execute("SELECT name FROM registered_models").fetchall()
    assert runs is not None and runs[0] >= 1 + BUDGETS["tune"]["n_trials"]
    assert [row[0] for row in names] == [served.registered["model_name"]]


def test_register_sets_challenger_with_lineage_tags(
    served: ServedProject, client: MlflowClient
) -> None:
    name, number = served.registered["model_name"], served.registered["version"]
    version = client.get_model_version_by_alias(name, "challenger")
    assert str(version.version) == number
    for tag in ("git_commit", "data_md5", "params_hash", "artifacts_sha256", "validation_report"):
        assert version.tags.get(tag) not in (None, "", "unknown"), tag


@pytest.fixture(scope="module")
def champion(served: ServedProject, client: MlflowClient) -> str:
    """`riskgrade promote` in the project: the challenger through the gate to @champion."""
    result = run(["riskgrade", "promote"], served.root, served.env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    name = served.registered["model_name"]
    return str(client.get_model_version_by_alias(name, "champion").version)


def test_promote_moves_champion_on_the_server(served: ServedProject, champion: str) -> None:
    assert champion == served.registered["version"]


def customer_rows(root: Path, count: int) -> pd.DataFrame:
    data = yaml.safe_load((root / "params.yaml").read_text())["data"]
    features = [*data["numeric"], *data["categorical"]]
    return pd.read_csv(root / "data/raw/german_credit.csv").head(count)[features]


def service_env(served: ServedProject, workdir: Path) -> dict[str, str]:
    """The model's store given only as ``RISKGRADE_TRACKING_URI``: no MLflow variable."""
    env = {k: v for k, v in served.env.items() if not k.startswith("MLFLOW_TRACKING")}
    return env | {
        "RISKGRADE_TRACKING_URI": served.server.url,
        "RISKGRADE_MODEL_NAME": served.registered["model_name"],
        "RISKGRADE_AUDIT_URL": f"sqlite:///{workdir / 'audit.db'}",
    }


def test_serve_loads_the_champion_over_http_and_scores(
    served: ServedProject, champion: str, tmp_path: Path
) -> None:
    port = free_port()
    server = subprocess.Popen(
        ["riskgrade", "serve", "--port", str(port)], cwd=tmp_path,
        env=service_env(served, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        body = {"customer": json.loads(customer_rows(served.root, 1).to_json(orient="records"))[0]}
        answer = None
        for _ in range(240):  # downloads, checks and compiles the model first
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/v1/score", json=body, timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, answer and answer.text
        scored = answer.json()
        assert scored["model"] == {"name": served.registered["model_name"], "version": champion}
        assert 0 < scored["pd"] < 1 and scored["tier"] in {"low", "medium", "high"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_score_command_scores_a_file_with_the_champion(
    served: ServedProject, champion: str, tmp_path: Path
) -> None:
    customer_rows(served.root, 20).to_csv(tmp_path / "customers.csv", index=False)
    result = run(
        ["riskgrade", "score", "--input", "customers.csv", "--output", "scored.parquet",
         "--no-record"],
        tmp_path, service_env(served, tmp_path), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"v{champion}" in result.stdout
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == 20 and scored["pd"].between(0, 1).all()


def test_an_alias_the_server_does_not_have_names_the_ways_out(
    served: ServedProject, tmp_path: Path
) -> None:
    """The server's answer for a missing alias is told apart from a server that cannot be
    asked (``model_store.resolve_alias``): the message says how to create the alias."""
    customer_rows(served.root, 2).to_csv(tmp_path / "customers.csv", index=False)
    env = service_env(served, tmp_path) | {"RISKGRADE_MODEL_ALIAS": "retired"}
    result = run(
        ["riskgrade", "score", "--input", "customers.csv", "--output", "scored.parquet",
         "--no-record"],
        tmp_path, env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    name = served.registered["model_name"]
    assert f"no @retired version of model {name!r} in the MLflow registry at " in result.stderr
    assert "riskgrade promote" in result.stderr and "Traceback" not in result.stderr
