"""``riskgrade reproduce``: rebuild a registered version from its recorded code and data.

Reads the git commit and DVC data hash recorded on the version, checks the commit out into a
temporary git work tree, runs the whole DVC pipeline there with that commit's code (its
packages first on ``PYTHONPATH``) against a throw-away MLflow store, and compares the test
metrics with the recorded ones. Identical code + data give identical metrics.

What can be known before rebuilding is checked first (``preflight``), because a rebuild takes
minutes: a version trained from uncommitted changes (``git_dirty``), a commit this repository
does not have, and a data file committed at that commit with another hash than the version's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import yaml
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig, load_config
from experiments.io import file_digest
from experiments.registry.record import resolve_checked
from experiments.registry.refs import ModelRefError, parse_model_ref
from experiments.registry.versions import RegistryError
from experiments.tracking import setup_mlflow

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
STAGE_STARTED = re.compile(r"^Running stage '([^']+)'")  # what `dvc repro` prints per stage
Progress = Callable[[str], None]


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


def run_streamed(args: list[str], cwd: Path, env: dict[str, str], on_line: Progress) -> None:
    """Run ``args``, passing each line of its output (stdout and stderr) to ``on_line``."""
    lines: list[str] = []
    with subprocess.Popen(
        args, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            on_line(line.rstrip("\n"))
    if process.returncode != 0:
        tail = "".join(lines)[-4000:]
        raise RegistryError(f"`{' '.join(args)}` failed in {cwd}:\n{tail}")


def stage_progress(report: Progress) -> Progress:
    """An ``on_line`` for `dvc repro` that reports each stage as it starts, with the time
    since the rebuild began (a whole rebuild takes minutes)."""
    started = time.monotonic()

    def on_line(line: str) -> None:
        found = STAGE_STARTED.match(line)
        if found:
            elapsed = int(time.monotonic() - started)
            report(f"[{elapsed // 60}:{elapsed % 60:02d}] running stage {found.group(1)!r}")

    return on_line


def committed_file(project_dir: Path, commit: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``commit``; ``None`` when git does not hold it there."""
    result = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=project_dir, capture_output=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def preflight(lineage: Lineage, ref: str, project_dir: Path, allow_dirty: bool) -> None:
    """Refuse, before rebuilding anything, what a rebuild cannot reproduce."""
    commit = lineage.git_commit[:12]
    if lineage.git_dirty == "true" and not allow_dirty:
        raise RegistryError(
            f"{ref} was trained from uncommitted changes (tag git_dirty=true on run "
            f"{lineage.run_id[:12]}): commit {commit} does not hold the code it ran, so a "
            "rebuild cannot reproduce it; pass --allow-dirty to rebuild that commit anyway"
        )
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{lineage.git_commit}^{{commit}}"],
        cwd=project_dir,
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        raise RegistryError(
            f"commit {commit} of {ref} is not in the git repository at {project_dir}: fetch it "
            "(`git fetch --all`) and try again"
        )
    params = committed_file(project_dir, lineage.git_commit, "params.yaml")
    source = (yaml.safe_load(params or b"") or {}).get("data", {}).get("source")
    data = committed_file(project_dir, lineage.git_commit, str(source)) if source else None
    if data is not None and hashlib.md5(data).hexdigest() != lineage.data_md5:
        raise RegistryError(
            f"{ref} was trained on data with md5 {lineage.data_md5}, but commit {commit} holds "
            f"{source} with md5 {hashlib.md5(data).hexdigest()}: the data it was trained on was "
            "never committed, so a rebuild cannot reproduce it"
        )


def rebuild(
    lineage: Lineage, project_dir: Path, tree: Path, progress: Progress
) -> tuple[dict[str, float], str]:
    """Run the pipeline of ``lineage.git_commit`` in ``tree``; return test metrics and data md5."""
    progress(f"checking out commit {lineage.git_commit[:12]} into a temporary work tree")
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
    repro = [sys.executable, "-m", "dvc", "repro", "--no-run-cache"]
    run_streamed(repro, tree, env, stage_progress(progress))
    config = load_config(tree / "params.yaml")
    raw = tree / "data/raw" / f"{config.data.name}.{config.data.format}"
    metrics = json.loads(
        (tree / "data/reports" / lineage.model_family / "metrics.json").read_text()
    )
    return metrics["test"], file_digest(raw)


def reproduce(
    config: ProjectConfig,
    ref: str,
    project_dir: Path,
    record: Path | None = None,
    allow_dirty: bool = False,
    progress: Progress = lambda line: None,
) -> tuple[Lineage, dict[str, float]]:
    """Check, rebuild and return the lineage and the reproduced test metrics (or raise).
    ``progress`` gets a line per step of the rebuild."""
    setup_mlflow(config.mlflow, project_dir)
    lineage = read_lineage(MlflowClient(), ref, config.registry.model_name, record)
    preflight(lineage, ref, project_dir, allow_dirty)
    with tempfile.TemporaryDirectory(prefix="riskgrade-reproduce-") as tmp:
        tree = Path(tmp) / "tree"
        try:
            reproduced, data_md5 = rebuild(lineage, project_dir, tree, progress)
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
