"""`riskgrade reproduce` says what cannot be reproduced before rebuilding anything, and shows
progress while it rebuilds (the rebuild itself: ``test_dvc_pipeline.py``)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from registry_support import NewProject, register_fitted
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig
from experiments.registry.reproduce import run_streamed, stage_progress
from experiments.registry.versions import RegistryError

NAME = "reproduce-credit"


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid"]
    result = subprocess.run(
        ["git", *identity, *args], cwd=root, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@pytest.fixture(scope="module")
def project(
    new_project: NewProject, repo_root: Path, project_config: ProjectConfig
) -> tuple[Path, str, str]:
    """A git repository holding params.yaml and the data source; version 1 registered in
    its MLflow store. Returns (root, commit, md5 of the committed data)."""
    root, config, parts = new_project(NAME)
    source = root / project_config.data.source
    source.parent.mkdir(parents=True)
    source.write_bytes((repo_root / project_config.data.source).read_bytes())
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "params.yaml", str(project_config.data.source))
    git(root, "commit", "-q", "-m", "snapshot")
    register_fitted(config, config.models.logistic, parts["train"])
    return root, git(root, "rev-parse", "HEAD"), hashlib.md5(source.read_bytes()).hexdigest()


def lineage(root: Path, **tags: str) -> str:
    """Set lineage tags on version 1's run; return the run id."""
    client = MlflowClient()
    run_id = client.get_model_version(NAME, "1").run_id
    assert run_id is not None
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    return run_id


def reproduce(root: Path, *args: str) -> tuple[int, str, float]:
    register_commands()
    common = ["--params", str(root / "params.yaml"), "--project-dir", str(root)]
    started = time.monotonic()
    result = CliRunner().invoke(app, ["reproduce", f"{NAME}/1", *args, *common])
    return result.exit_code, result.output, time.monotonic() - started


def worktrees(root: Path) -> int:
    return len(git(root, "worktree", "list").splitlines())


def test_a_version_trained_from_uncommitted_changes_is_refused_at_once(
    project: tuple[Path, str, str],
) -> None:
    root, commit, md5 = project
    run_id = lineage(
        root, git_commit=commit, git_dirty="true", data_md5=md5, model_family="logistic"
    )
    code, output, seconds = reproduce(root)
    assert (code, output) == (
        1,
        f"error: {NAME}/1 was trained from uncommitted changes (tag git_dirty=true on run "
        f"{run_id[:12]}): commit {commit[:12]} does not hold the code it ran, so a rebuild "
        "cannot reproduce it; pass --allow-dirty to rebuild that commit anyway\n",
    )
    assert seconds < 30 and worktrees(root) == 1


def test_a_commit_the_repository_lacks_is_refused_at_once(project: tuple[Path, str, str]) -> None:
    root, _, md5 = project
    lineage(root, git_commit="1" * 40, git_dirty="false", data_md5=md5, model_family="logistic")
    code, output, _ = reproduce(root)
    assert (code, output) == (
        1,
        f"error: commit 111111111111 of {NAME}/1 is not in the git repository at {root}: "
        "fetch it (`git fetch --all`) and try again\n",
    )
    assert worktrees(root) == 1


def test_data_that_was_never_committed_is_refused_at_once(
    project: tuple[Path, str, str], project_config: ProjectConfig
) -> None:
    """Allowed dirty or not: the committed data source is not what the version saw."""
    root, commit, md5 = project
    lineage(root, git_commit=commit, git_dirty="true", data_md5="0" * 32, model_family="logistic")
    code, output, _ = reproduce(root, "--allow-dirty")
    assert (code, output) == (
        1,
        f"error: {NAME}/1 was trained on data with md5 {'0' * 32}, but commit {commit[:12]} "
        f"holds {project_config.data.source} with md5 {md5}: the data it was trained on was "
        "never committed, so a rebuild cannot reproduce it\n",
    )
    assert worktrees(root) == 1


def test_rebuild_progress_names_each_stage_as_it_starts(tmp_path: Path) -> None:
    printed = [
        "Running stage 'ingest':",
        "> riskgrade ingest",
        "Stage 'split' didn't change, skipping",
        "Running stage 'train@logistic':",
    ]
    script = "; ".join(f"print({line!r})" for line in printed)
    lines: list[str] = []
    run_streamed([sys.executable, "-c", script], tmp_path, {}, stage_progress(lines.append))
    assert lines == ["[0:00] running stage 'ingest'", "[0:00] running stage 'train@logistic'"]


def test_a_failed_rebuild_step_shows_its_output(tmp_path: Path) -> None:
    args = [sys.executable, "-c", "print('ERROR: stage train failed'); raise SystemExit(3)"]
    with pytest.raises(RegistryError) as error:
        run_streamed(args, tmp_path, {}, lambda line: None)
    assert (
        str(error.value) == f"`{' '.join(args)}` failed in {tmp_path}:\nERROR: stage train failed\n"
    )
