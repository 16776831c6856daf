"""``riskgrade reproduce``: rebuild a registered version from its recorded code and data.

Reads the git commit and DVC data hash recorded on the version, checks the commit out into a
temporary git work tree, runs the whole DVC pipeline there with that commit's code (its
packages first on ``PYTHONPATH``) against a throw-away MLflow store, and compares the test
metrics with the recorded ones. Identical code + data give identical metrics.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig, load_config
from experiments.io import file_digest
from experiments.registry.record import resolve_checked
from experiments.registry.refs import ModelRefError, parse_model_ref
from experiments.registry.versions import RegistryError
from experiments.tracking import setup_mlflow

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Lineage:
    run_id: str
    git_commit: str
    git_dirty: str
    data_md5: str
    model_family: str
    recorded: dict[str, float]  # test metrics recorded on the run


def read_lineage(
    client: MlflowClient, ref: str, default_name: str | None = None, record: Path | None = None
) -> Lineage:
    """A registered version (``experiments.registry.refs`` grammar; ``@challenger`` checked
    against the DVC ``record``), or a training run id."""
    if RUN_ID.match(ref):
        run_id = ref
    else:
        try:
            name, wanted = parse_model_ref(ref, default_name)
        except ModelRefError as error:
            raise RegistryError(f"{error}, or a 32-character run id") from None
        found = resolve_checked(client, name, wanted, record).run_id
        if not found:
            raise RegistryError(f"{ref}: the version has no source run; cannot rebuild it")
        run_id = found
    run = mlflow.get_run(run_id)
    tags = run.data.tags
    missing = [t for t in ("git_commit", "data_md5", "model_family") if t not in tags]
    if missing or tags.get("git_commit") == "unknown":
        raise RegistryError(
            f"run {run_id} lacks lineage tags {missing or ['git_commit']}: cannot rebuild it"
        )
    recorded = {k[len("test_") :]: v for k, v in run.data.metrics.items() if k.startswith("test_")}
    return Lineage(
        run_id,
        tags["git_commit"],
        tags.get("git_dirty", "unknown"),
        tags["data_md5"],
        tags["model_family"],
        recorded,
    )


def run_command(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RegistryError(
            f"`{' '.join(args)}` failed in {cwd}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result.stdout


def rebuild(lineage: Lineage, project_dir: Path, tree: Path) -> tuple[dict[str, float], str]:
    """Run the pipeline of ``lineage.git_commit`` in ``tree``; return test metrics and data md5."""
    run_command(["git", "worktree", "add", "--detach", str(tree), lineage.git_commit], project_dir)
    # Share the project's DVC cache, so data versions already fetched need no download.
    run_command(
        [
            sys.executable,
            "-m",
            "dvc",
            "cache",
            "dir",
            "--local",
            str((project_dir / ".dvc/cache").resolve()),
        ],
        tree,
    )
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tree.parent / 'reproduce-mlflow.db'}",
        "PYTHONPATH": str(tree),  # the commit's own packages, ahead of the installed ones
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    run_command([sys.executable, "-m", "dvc", "repro", "--no-run-cache"], tree, env)
    config = load_config(tree / "params.yaml")
    raw = tree / "data/raw" / f"{config.data.name}.{config.data.format}"
    metrics = json.loads(
        (tree / "data/reports" / lineage.model_family / "metrics.json").read_text()
    )
    return metrics["test"], file_digest(raw)


def reproduce(
    config: ProjectConfig, ref: str, project_dir: Path, record: Path | None = None
) -> tuple[Lineage, dict[str, float]]:
    """Rebuild and return the lineage and the reproduced test metrics (or raise)."""
    setup_mlflow(config.mlflow, project_dir)
    lineage = read_lineage(MlflowClient(), ref, config.registry.model_name, record)
    with tempfile.TemporaryDirectory(prefix="riskgrade-reproduce-") as tmp:
        tree = Path(tmp) / "tree"
        try:
            reproduced, data_md5 = rebuild(lineage, project_dir, tree)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                cwd=project_dir,
                capture_output=True,
                check=False,
            )
    if data_md5 != lineage.data_md5:
        raise RegistryError(
            f"the data rebuilt at commit {lineage.git_commit[:12]} has md5 {data_md5}, but the "
            f"version was trained on {lineage.data_md5}: that data version is not available. "
            "Restore it (`dvc pull`, or the data.source file of that commit) and try again."
        )
    return lineage, reproduced
