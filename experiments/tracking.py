"""MLflow set-up and run metadata (git commit, data version).

The embedded default is a SQLite tracking + registry store and a local artifact folder in the
project directory; ``MLFLOW_TRACKING_URI`` points everything at a real server instead.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow

from experiments.config import MlflowConfig


def resolve_tracking_uri(config: MlflowConfig, project_dir: Path) -> str:
    """Environment first, then ``params.yaml``; relative SQLite paths become absolute."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.tracking_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str((project_dir / uri[len(prefix) :]).resolve())
    return uri


def setup_mlflow(config: MlflowConfig, project_dir: Path) -> str:
    """Point MLflow at the store and make sure the experiment exists; return its id.

    A new experiment on a local store gets ``artifact_root`` inside the project (never the
    current directory's ``mlruns``), so ``mlflow ui`` on the same store finds every artifact.
    """
    uri = resolve_tracking_uri(config, project_dir)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(config.experiment)
    if experiment is not None:
        mlflow.set_experiment(experiment_id=experiment.experiment_id)
        return str(experiment.experiment_id)
    location = None
    if uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri:
        location = (project_dir / config.artifact_root).resolve().as_uri()
    experiment_id = mlflow.create_experiment(config.experiment, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)


def git_state(project_dir: Path) -> dict[str, str]:
    """Commit and dirty flag of the code that ran; ``unknown`` outside a git work tree."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=project_dir, capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    # dvc.lock changes while `dvc repro` runs; it records outputs, not code, so it is ignored.
    changes = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!dvc.lock")
    return {"git_commit": commit, "git_dirty": str(bool(changes)).lower()}
