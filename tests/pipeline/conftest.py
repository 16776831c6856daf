"""A registered model version and its validation report, built once per test session.

The real stage functions (train, evaluate, register) run in a temporary project with its own
MLflow store, without DVC: version 1 is the LightGBM candidate and becomes champion, version 2
the logistic one, the challenger that `riskgrade report --registered` then reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from registry_support import NewProject, split_project
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig
from experiments.io import file_digest, write_json
from experiments.stages import evaluate, register, train
from experiments.stages.validate import summarise
from features.splitting import split_dataset

MODEL_NAME = "report-test-credit"


@dataclass(frozen=True)
class ReportedVersion:
    """Where the report of the challenger went, and the project it was built in."""

    root: Path
    config: ProjectConfig
    model_name: str
    tracking_uri: str
    html: Path
    json: Path
    version: str
    champion: str
    cli_output: str


def write_project(root: Path, config: ProjectConfig, data: pd.DataFrame, repo: Path) -> None:
    """params.yaml, the splits and the validate stage's data summary of a temporary project."""
    (root / "params.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    parts = split_dataset(data, config.data, config.split, config.seed)
    for name, frame in parts.items():
        frame.to_parquet(root / "split" / f"{name}.parquet")
    summary = summarise(data, config.data) | {"data_md5": file_digest(repo / config.data.source)}
    write_json(root / "validation.json", summary)


def train_and_register(root: Path, config: ProjectConfig, repo: Path) -> dict[str, Any]:
    """Train and evaluate both families, register LightGBM (v1) then logistic (v2)."""
    for family in ("lightgbm", "logistic"):
        run_file = root / "artifacts" / family / "run.json"
        train.run(
            config, family, root / "split/train.parquet", repo / config.data.source, run_file, root
        )
        evaluate.run(config, run_file, root / "split", root / "reports" / family, root)
    for family in ("lightgbm", "logistic"):
        chosen = config.model_copy(
            update={"registry": config.registry.model_copy(update={"candidate": family})}
        )
        result = register.run(
            chosen, root / "artifacts", root / "reports", root / "registered.json", root
        )
    return result


@pytest.fixture(scope="session")
def reported_version(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
    repo_root: Path,
) -> ReportedVersion:
    root = tmp_path_factory.mktemp("report")
    (root / "split").mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    raw = project_config.model_dump(mode="json")
    raw["registry"]["model_name"] = MODEL_NAME
    raw["mlflow"] |= {"tracking_uri": uri, "experiment": "report"}
    raw["runtime"]["n_jobs"] = 1
    raw["train"]["models"] = ["lightgbm", "logistic"]  # the two this fixture trains
    config = ProjectConfig.model_validate(raw)
    html, json = root / "out" / "validation_report.html", root / "out" / "validation_report.json"
    # mlflow.set_tracking_uri / set_experiment export MLFLOW_TRACKING_URI / MLFLOW_EXPERIMENT_ID,
    # and setup_mlflow prefers the environment to params.yaml: pin the store while building,
    # then restore both variables so later tests do not inherit this store.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        write_project(root, config, german_credit, repo_root)
        registered = train_and_register(root, config, repo_root)
        MlflowClient(uri, uri).set_registered_model_alias(MODEL_NAME, "champion", "1")
        register_commands()
        result = CliRunner().invoke(
            app,
            [
                *("report", "--registered", str(root / "registered.json")),
                *("--split-dir", str(root / "split")),
                *("--data-report", str(root / "validation.json")),
                *("--html", str(html), "--json", str(json)),
                *("--params", str(root / "params.yaml"), "--project-dir", str(root)),
            ],
        )
    assert result.exit_code == 0, result.output
    return ReportedVersion(
        root, config, MODEL_NAME, uri, html, json, registered["version"], "1", result.output
    )


@pytest.fixture(scope="session")
def new_project(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
) -> NewProject:
    """A factory of temporary projects: ``new_project(model_name, raw_changes=None,
    write_parts=False)`` gives ``(root, config, parts)``, a folder with its own params.yaml
    and MLflow store (``registry_support.split_project``) and the split of German Credit."""

    def make(
        model_name: str, raw_changes: dict | None = None, write_parts: bool = False
    ) -> tuple[Path, ProjectConfig, dict[str, pd.DataFrame]]:
        root = tmp_path_factory.mktemp(model_name)
        config, parts = split_project(
            root, project_config, german_credit, model_name, raw_changes, write_parts
        )
        return root, config, parts

    return make
