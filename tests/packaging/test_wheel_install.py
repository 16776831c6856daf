"""What users install: the wheel, built and installed the way a release is, then served.

An editable install once hid a wheel without ``serving/routers``. Here the wheel is built from
a copy of the work tree with ``pip wheel`` (isolated build, setuptools as ``[build-system]``
asks), must carry every file of the four packages and nothing else, and is installed with only
the ``serve`` extra (versions pinned by ``requirements.lock``) in a new virtual environment:
no DVC, Optuna or SHAP. From there, outside the work tree, every Jinja template loads from the
installed packages, and ``riskgrade serve`` runs on a LightGBM version registered in a temporary
MLflow store and answers a scoring call exactly as the work tree's model does.

Slow (1-3 minutes): the install downloads the serving stack from the package index each time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest

# tests/ is on sys.path (the root conftest's folder): the pipeline tests' registry helpers.
from pipeline.registry_support import register_fitted, split_project
from venv_support import (
    PIP,
    Command,
    Venv,
    clean_environment,
    free_port,
    new_venv,
    run,
    stop,
    wait_until_ready,
)

from experiments.config import ProjectConfig
from serving.settings import hash_api_key

pytestmark = pytest.mark.slow

PACKAGES = ("features", "models", "experiments", "serving")
# Top-level entries of the work tree that hold no code (data, stores, caches, build output).
NOT_SOURCE = {"data", "mlartifacts", "mlruns", "build", "dist"}
TRAIN_ONLY = ("optuna", "dvc", "shap")  # the `train` extra: absent from a serve-only install
# MLflow installs matplotlib, but the service must run without importing it. (Jinja2 is a core
# dependency: the service renders the customer report page with it.)
NEVER_IMPORTED_BY_SERVICE = (*TRAIN_ONLY, "matplotlib")
BLOCK_IMPORTS = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NEVER_IMPORTED_BY_SERVICE!r}:
            raise ImportError("the service must not import " + name)
sys.meta_path.insert(0, Block())
"""
MODEL_NAME = "packaging-test-credit"
SCORER_KEY = "packaging-scorer-key-0123456789abcdef0123"
START_SECONDS = 120


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    source: Path  # the copy of the work tree it was built from
    log: str  # pip's and the build backend's output


@dataclass(frozen=True)
class RegisteredModel:
    tracking_uri: str
    version: str
    customer: dict[str, Any]
    expected_pd: float  # what the work tree's copy of the registered version says


def skip_non_source(repo_root: Path) -> Any:
    """``copytree``'s ignore: bytecode everywhere; data, stores and hidden folders at the top."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if Path(folder) == repo_root:
            skipped |= {
                n
                for n in names
                if n in NOT_SOURCE or n.startswith(".") or n.endswith((".db", ".egg-info"))
            }
        return skipped

    return ignore


@pytest.fixture(scope="module")
def built_wheel(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    """The wheel of a copy of the work tree (pip builds in the source folder: not ours)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(repo_root, source, ignore=skip_non_source(repo_root))
    done = run([*PIP, "wheel", "-v", "--no-deps", "-w", root / "dist", source], cwd=root)
    (wheel,) = (root / "dist").glob("riskgrade-*.whl")
    return BuiltWheel(wheel, source, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def serve_venv(
    built_wheel: BuiltWheel, repo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Venv:
    """A new virtual environment with ``riskgrade[serve]`` installed from the wheel."""
    venv = new_venv(tmp_path_factory.mktemp("venv") / "serve")
    lock = repo_root / "requirements.lock"
    venv.pip_install("--constraint", lock, f"{built_wheel.path}[serve]", cwd=venv.root)
    return venv


@pytest.fixture(scope="module")
def registered_model(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
) -> RegisteredModel:
    """LightGBM fitted on the training split, registered as version 1 and ``@champion``."""
    root = tmp_path_factory.mktemp("registry")
    config, parts = split_project(root, project_config, german_credit, MODEL_NAME)
    version = register_fitted(config, config.models.lightgbm, parts["train"], champion=True)
    customers = parts["test"][config.data.features].head(1)
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version}")
    expected = float(loaded.predict(customers)["pd"].iloc[0])
    customer = json.loads(customers.to_json(orient="records"))[0]
    return RegisteredModel(mlflow.get_tracking_uri(), version, customer, expected)


@pytest.fixture(scope="module")
def service_url(
    serve_venv: Venv,
    registered_model: RegisteredModel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``riskgrade serve`` from the venv's console script, in production mode, outside the
    work tree; the training stack and matplotlib are made unimportable in it."""
    cwd = tmp_path_factory.mktemp("service")
    (cwd / "blocker").mkdir()
    (cwd / "blocker" / "sitecustomize.py").write_text(BLOCK_IMPORTS)
    keys = [{"name": "scorer", "sha256": hash_api_key(SCORER_KEY), "roles": ["scorer"]}]
    env = clean_environment(
        PYTHONPATH=str(cwd / "blocker"),
        MLFLOW_TRACKING_URI=registered_model.tracking_uri,
        RISKGRADE_MODE="production",
        RISKGRADE_MODEL_NAME=MODEL_NAME,
        RISKGRADE_TRACKING_URI=registered_model.tracking_uri,
        RISKGRADE_AUDIT_URL=f"sqlite:///{cwd / 'audit.db'}",
        RISKGRADE_API_KEYS=json.dumps(keys),
        RISKGRADE_CUSTOMER_ID_SECRET="packaging-test-secret-0123456789abcdef",
    )
    blocked = subprocess.run(
        [serve_venv.python, "-c", "import matplotlib"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "the service must not import matplotlib" in blocked.stderr  # the blocker is in force
    port = free_port()
    log = cwd / "service.log"
    command: Command = [serve_venv.root / "bin" / "riskgrade", "serve", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/readyz", process, log, "riskgrade serve", START_SECONDS)
        yield url
    finally:
        stop(process)


def post_json(url: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return dict(json.loads(response.read()))


def test_wheel_builds_without_deprecation_warnings(built_wheel: BuiltWheel) -> None:
    assert "deprecat" not in built_wheel.log.lower(), built_wheel.log[-5000:]


def test_wheel_carries_every_file_of_the_four_packages_and_nothing_else(
    built_wheel: BuiltWheel,
) -> None:
    """A subpackage without ``__init__.py``, a forgotten template or a stray top-level
    package (tests, benchmarks) shows up here by name."""
    source = built_wheel.source
    expected = {
        path.relative_to(source).as_posix()
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file()
    }
    with zipfile.ZipFile(built_wheel.path) as wheel:
        names = [name for name in wheel.namelist() if not name.endswith("/")]
    shipped = {name for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert sorted(expected - shipped) == []
    assert sorted(shipped - expected) == []


def test_serve_only_install_leaves_out_the_training_stack(serve_venv: Venv, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json\n"
        "import features, models, experiments, serving\n"
        f"absent = [n for n in {TRAIN_ONLY!r} if importlib.util.find_spec(n) is None]\n"
        "files = [m.__file__ for m in (features, models, experiments, serving)]\n"
        "print(json.dumps({'absent': absent, 'files': files}))\n"
    )
    done = run([serve_venv.python, "-c", probe], cwd=tmp_path, env=clean_environment())
    found = json.loads(done.stdout)
    assert found["absent"] == list(TRAIN_ONLY)
    for module_file in found["files"]:  # the installed copy, never the work tree
        assert Path(module_file).is_relative_to(serve_venv.site_packages), module_file


def test_installed_packages_load_every_template(
    built_wheel: BuiltWheel, serve_venv: Venv, tmp_path: Path
) -> None:
    """Each Jinja template of the work tree is found in the installed package (package data),
    by the loader the project's environments use."""
    source = built_wheel.source
    templates = sorted(
        (".".join(path.parent.parent.relative_to(source).parts), path.name)
        for package in PACKAGES
        for path in (source / package).rglob("templates/*.j2")
    )
    assert templates  # the validation report's, at least
    probe = (
        "import jinja2, json, sys\n"
        "find = lambda p, n: jinja2.PackageLoader(p, 'templates').get_source(None, n)[1]\n"
        "print(json.dumps([find(p, n) for p, n in json.loads(sys.argv[1])]))\n"
    )
    command: Command = [serve_venv.python, "-c", probe, json.dumps(templates)]
    done = run(command, cwd=tmp_path, env=clean_environment())
    for filename in json.loads(done.stdout):
        assert Path(filename).is_relative_to(serve_venv.site_packages), filename


def test_installed_service_scores_a_registered_model(
    service_url: str, registered_model: RegisteredModel
) -> None:
    body = {"customer_id": "C-1", "customer": registered_model.customer}
    scored = post_json(f"{service_url}/v1/score", body, SCORER_KEY)
    assert scored["model"] == {"name": MODEL_NAME, "version": registered_model.version}
    assert scored["pd"] == pytest.approx(registered_model.expected_pd, abs=1e-9)
    assert scored["tier"] in {"low", "medium", "high"} and 300 <= scored["score"] <= 850
    assert scored["reasons"]
