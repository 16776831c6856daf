"""End to end: the real DVC pipeline on the bundled data, in a temporary copy of the project
with its own git repository, MLflow store and DVC remote. No mocks.

The project is built by ``pipeline/dvc_project.py`` while the rest of the suite runs (see
``tests/conftest.py``); the tests that read it run last."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
import yaml
from pipeline.dvc_project import (
    TUNING_TRIALS,
    BuiltProject,
    assert_succeeded,
    copy_project,
    make_env,
    run,
)

pytestmark = pytest.mark.slow

FAMILIES = ["lightgbm", "logistic"]


@pytest.fixture(scope="module")
def project(built_project: BuiltProject) -> Path:
    """A committed copy of the project after one full `dvc repro`."""
    return built_project.root


@pytest.fixture(scope="module")
def env(built_project: BuiltProject) -> dict[str, str]:
    """The environment the project was built in (its MLflow store, the venv on PATH)."""
    return built_project.env


def read_metrics(root: Path, family: str) -> dict[str, dict[str, float]]:
    return json.loads((root / f"data/reports/{family}/metrics.json").read_text())


def test_metrics_are_known_to_dvc_for_both_models(project: Path, env: dict[str, str]) -> None:
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project, env).stdout)
    files = next(iter(shown.values()))["data"]
    for family in FAMILIES:
        test = files[f"data/reports/{family}/metrics.json"]["data"]["test"]
        assert test["roc_auc"] > 0.75
        assert set(test) >= {
            "roc_auc",
            "gini",
            "ks",
            "brier",
            "log_loss",
            "pr_auc",
            "calibration_error",
        }
    assert (project / "data/reports/lightgbm/roc.png").stat().st_size > 1000


def test_pipeline_is_clean_and_a_registered_version_reproduces_exactly(
    project: Path, built_project: BuiltProject, reproduced: subprocess.CompletedProcess[str]
) -> None:
    """`dvc status` is clean after a run, and `riskgrade reproduce` rebuilds the registered
    version from its recorded commit and data hash in a fresh work tree with identical test
    metrics (a second, independent `dvc repro` from a clean checkout). Both ran in the
    background build, in that order, right after the `dvc repro`."""
    assert "up to date" in built_project.status
    registered = json.loads((project / "data/artifacts/registered.json").read_text())
    ref = f"{registered['model_name']}/{registered['version']}"
    assert reproduced.args == ["riskgrade", "reproduce", ref]
    assert_succeeded(reproduced)
    assert "reproduced: every recorded test metric matches" in reproduced.stdout
    assert "roc_auc" in reproduced.stdout
    progress = reproduced.stderr.splitlines()
    assert any(line.startswith("reproduce: checking out commit ") for line in progress)
    assert any(line.endswith(f"running stage 'train@{FAMILIES[0]}'") for line in progress)


def test_registry_holds_the_challenger_with_lineage_and_contract(
    project: Path, env: dict[str, str]
) -> None:
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    registered = json.loads((project / "data/artifacts/registered.json").read_text())
    name = registered["model_name"]
    version = mlflow.MlflowClient().get_model_version_by_alias(name, "challenger")
    assert str(version.version) == registered["version"]
    for tag in ("git_commit", "data_md5", "params_hash", "run_id", "model_family", "test_roc_auc"):
        assert version.tags[tag] not in ("", "unknown"), tag
    assert float(version.tags["test_roc_auc"]) > 0.75
    model = mlflow.pyfunc.load_model(f"models:/{name}@challenger")
    inputs = {col.name for col in model.metadata.get_input_schema().inputs}
    assert "credit_amount" in inputs and "personal_status_and_sex" not in inputs
    rows = pd.read_csv(project / "data/raw/german_credit.csv").head(30)
    scored = model.predict(rows)
    assert list(scored.columns) == ["pd", "score", "grade", "tier", "reasons", "strategy"]
    assert scored["pd"].between(0, 1).all() and scored["score"].between(300, 850).all()
    assert set(scored["tier"]) <= {"low", "medium", "high"}


def test_report_stage_reports_the_challenger(project: Path, env: dict[str, str]) -> None:
    registered = json.loads((project / "data/artifacts/registered.json").read_text())
    report = json.loads((project / "data/reports/validation_report.json").read_text())
    assert report["report"]["version"] == registered["version"]
    assert report["summary"]["tiers_increase_on_test"] is True
    assert '<section id="gate">' in (project / "data/reports/validation_report.html").read_text()
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    version = mlflow.MlflowClient().get_model_version(
        registered["model_name"], registered["version"]
    )
    assert version.tags["validation_report"] == report["report"]["mlflow_uri"]


def test_mlflow_runs_carry_lineage_and_a_loadable_model(project: Path, env: dict[str, str]) -> None:
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    raw = project / "data/raw/german_credit.csv"
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    dvc_md5 = lock["stages"]["ingest"]["outs"][0]["md5"]
    assert hashlib.md5(raw.read_bytes()).hexdigest() == dvc_md5
    head = run(["git", "rev-parse", "HEAD"], project, env).stdout.strip()
    rows = pd.read_csv(raw).head(20)
    for family in FAMILIES:
        record = json.loads((project / f"data/artifacts/{family}/run.json").read_text())
        run_ = mlflow.get_run(record["run_id"])
        tags = run_.data.tags
        assert tags["git_commit"] == head
        assert tags["git_dirty"] in {"true", "false"}
        assert tags["dataset_name"] == "german_credit"
        assert tags["data_md5"] == dvc_md5
        assert run_.data.params["model_family"] == family
        assert run_.data.metrics["test_roc_auc"] > 0.75
        assert run_.inputs.dataset_inputs, "training data not logged with mlflow.log_input"
        model = mlflow.pyfunc.load_model(record["model_uri"])
        assert model.metadata.get_input_schema() is not None
        pd_ = model.predict(rows)["pd"].to_numpy()
        assert pd_.shape == (20,)
        assert ((pd_ > 0) & (pd_ < 1)).all()


def test_train_uses_the_tuned_params_and_each_study_is_an_mlflow_run_tree(
    project: Path, env: dict[str, str]
) -> None:
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    for family in FAMILIES:
        best = json.loads((project / f"data/artifacts/{family}/best_params.json").read_text())
        record = json.loads((project / f"data/artifacts/{family}/run.json").read_text())
        params = mlflow.get_run(record["run_id"]).data.params
        assert best["params"], "tuning wrote no params"
        assert {k: params[f"model.{k}"] for k in best["params"]} == {
            k: str(v) for k, v in best["params"].items()
        }
        runs = mlflow.search_runs(
            experiment_names=["riskgrade"],
            filter_string=f"tags.optuna_study = '{best['study_name']}'",
            output_format="list",
        )
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        parents = [r for r in runs if r not in children]
        assert parents and len(children) == TUNING_TRIALS  # one nested run per trial
        assert {c.data.tags["mlflow.parentRunId"] for c in children} <= {
            p.info.run_id for p in parents
        }


def test_raw_data_round_trips_through_the_dvc_remote(project: Path, env: dict[str, str]) -> None:
    raw = project / "data/raw/german_credit.csv"
    digest = hashlib.md5(raw.read_bytes()).hexdigest()
    run(["dvc", "push"], project, env)
    raw.unlink()
    shutil.rmtree(project / ".dvc/cache")
    run(["dvc", "pull", "ingest"], project, env)
    assert hashlib.md5(raw.read_bytes()).hexdigest() == digest


def test_invalid_data_stops_the_pipeline_and_leaves_no_outputs(
    repo_root: Path, tmp_path: Path
) -> None:
    env = make_env(tmp_path / "mlflow.db")
    copy_project(repo_root, tmp_path)
    source = pd.read_csv(repo_root / "data/external/german_credit/germancredit.csv")
    source["credit_amount"] = source["credit_amount"].astype(object)
    source.loc[3, "credit_amount"] = "1.200,00 DM"
    source.to_csv(tmp_path / "broken.csv", index=False)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["data"] |= {"source": "broken.csv", "sha256": None}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    run(["git", "init", "-q", "-b", "main"], tmp_path, env)
    result = run(["dvc", "repro"], tmp_path, env, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'credit_amount' must be numeric" in output and "row 4: '1.200,00 DM'" in output
    assert "Traceback" not in output
    assert not (tmp_path / "data/processed/dataset.parquet").exists()
    lock = (
        yaml.safe_load((tmp_path / "dvc.lock").read_text())
        if (tmp_path / "dvc.lock").exists()
        else {}
    )
    assert "validate" not in lock.get("stages", {})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_quick_start_promotes_without_force_and_serves_a_score(
    project: Path, env: dict[str, str]
) -> None:
    """The README's next steps after `make run`: the challenger passes the default gate,
    `riskgrade serve` starts on it and answers a scoring call with PD, grade and tier."""
    result = run(["riskgrade", "promote"], project, env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "promoted" in result.stdout + result.stderr
    port = free_port()
    audit = env | {"RISKGRADE_AUDIT_URL": f"sqlite:///{project / 'audit.db'}"}
    server = subprocess.Popen(
        ["riskgrade", "serve", "--port", str(port)], cwd=project, env=audit,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        data = yaml.safe_load((project / "params.yaml").read_text())["data"]
        features = [*data["numeric"], *data["categorical"]]  # not the excluded attributes
        row = pd.read_csv(project / "data/raw/german_credit.csv").head(1)[features]
        body = {"customer": json.loads(row.to_json(orient="records"))[0]}
        answer = None
        for _ in range(120):  # the model loads and compiles first
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/v1/score", json=body, timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, answer and answer.text
        scored = answer.json()
        assert 0 < scored["pd"] < 1 and scored["tier"] in {"low", "medium", "high"}
        assert 1 <= scored["grade"] <= 10
    finally:
        server.terminate()
        server.wait(timeout=30)
