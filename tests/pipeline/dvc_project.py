"""The end-to-end tests' project: a committed copy of riskgrade after one real `dvc repro`,
and the `riskgrade reproduce` of its registered version, built beside the rest of the suite.

Where the time goes: the pipeline runs twice (`dvc repro` here, then again from a clean
checkout inside `riskgrade reproduce`), and every stage is a new `riskgrade` process that
spends about 5 s (on a two-core machine) importing scikit-learn, SciPy and MLflow before any
work. ``SMALL_BUDGETS`` removes most of the work; the start-up cost stays. The pytest process
keeps one of CI's two cores busy, so ``tests/conftest.py`` starts this build on the other when
the session's first test starts, and the tests that read it run last.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILES = ["dvc.yaml", "params.yaml", ".dvcignore", ".gitignore", ".dvc/config"]
PROJECT_DIRS = ["data/external", "features", "models", "experiments"]
# Laid over the copied params.yaml, section by section. Every path still runs: the study's
# first trial from params.yaml, random trials, median pruning from the second of three folds
# (once two trials have finished), best_params.json, a calibrated model per family. Tuning
# fits 4 trials x 3 folds per family instead of 8 x 5 folds x 2 repeats; calibration
# cross-fits 3 folds, not 5. One LightGBM thread: the rest of the suite runs beside it.
SMALL_BUDGETS: dict[str, dict[str, Any]] = {
    "tune": {
        "n_trials": 4,
        "folds": 3,
        "repeats": 1,
        "n_jobs": 1,
        "pruner": {"enabled": True, "n_startup_trials": 2, "n_warmup_steps": 1},
    },
    "calibration": {"folds": 3},
    "runtime": {"n_jobs": 1},
}
TUNING_TRIALS: int = SMALL_BUDGETS["tune"]["n_trials"]


def copy_project(repo_root: Path, target: Path) -> None:
    for name in PROJECT_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo_root / name, target / name)
    for name in PROJECT_DIRS:
        shutil.copytree(
            repo_root / name, target / name, ignore=shutil.ignore_patterns("__pycache__")
        )


def make_env(mlflow_store: Path) -> dict[str, str]:
    """This environment, the venv's ``bin`` first (DVC's stages call ``riskgrade``), its own
    MLflow store and a git identity for the project's commit."""
    bin_dir = str(Path(sys.executable).parent)
    return os.environ | {
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "MLFLOW_TRACKING_URI": f"sqlite:///{mlflow_store}",
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.invalid",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@example.invalid",
    }


def assert_succeeded(result: subprocess.CompletedProcess[str]) -> None:
    if result.returncode != 0:
        raise AssertionError(
            f"{result.args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def run(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check:
        assert_succeeded(result)
    return result


@dataclass(frozen=True)
class BuiltProject:
    """The project after `dvc repro`, what `dvc status` said right after it, and the
    `riskgrade reproduce` of its registered version (None when no test asked for it)."""

    root: Path
    env: dict[str, str]
    status: str
    reproduced: subprocess.CompletedProcess[str] | None


class ProjectBuild:
    """Builds the project in a worker thread; ``result()`` waits for it (or re-raises)."""

    def __init__(self, repo_root: Path, workdir: Path, reproduce: bool) -> None:
        self.repo_root, self.reproduce = repo_root, reproduce
        self.root = workdir / "project"
        self.env = make_env(workdir / "mlflow.db")
        self.log = workdir / "commands.log"  # each command's wall time, for slow CI runs
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # between starting a command and stopping the build
        self.process: subprocess.Popen[str] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dvc-project")
        self.future: Future[BuiltProject] | None = None

    def start(self) -> ProjectBuild:
        self.future = self.executor.submit(self.build)
        return self

    def result(self) -> BuiltProject:
        assert self.future is not None, "start() the build first"
        return self.future.result()

    def stop(self) -> None:
        """End the running command (its whole process group) if the session ends early."""
        with self.lock:
            self.stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.killpg(process.pid, signal.SIGTERM)
        self.executor.shutdown(wait=True, cancel_futures=True)

    def command(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        """``args`` in its own process group (so ``stop`` reaches DVC's stage processes)."""
        started = time.perf_counter()
        with self.lock:
            if self.stopping.is_set():
                raise RuntimeError("the test session ended before the project was built")
            process = self.process = subprocess.Popen(
                args, cwd=cwd, env=self.env, text=True, start_new_session=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
        stdout, stderr = process.communicate()
        with self.log.open("a") as log:
            log.write(f"{time.perf_counter() - started:6.1f} s  {' '.join(args)}\n")
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def checked(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        result = self.command(args, cwd)
        assert_succeeded(result)
        return result

    def build(self) -> BuiltProject:
        root = self.root
        root.mkdir()
        copy_project(self.repo_root, root)
        params = yaml.safe_load((root / "params.yaml").read_text())
        for section, values in SMALL_BUDGETS.items():
            params[section] |= values
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        self.checked(["git", "init", "-q", "-b", "main"], root)
        self.checked(["git", "add", "-A"], root)
        self.checked(["git", "commit", "-q", "-m", "snapshot"], root)
        self.checked(["dvc", "repro"], root)
        status = self.checked(["dvc", "status"], root).stdout
        registered = json.loads((root / "data/artifacts/registered.json").read_text())
        args = ["riskgrade", "reproduce", f"{registered['model_name']}/{registered['version']}"]
        reproduced = self.command(args, root) if self.reproduce else None
        return BuiltProject(root, self.env, status, reproduced)
