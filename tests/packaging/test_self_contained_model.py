"""A registered version loads, predicts and serves where riskgrade is not installed (issue 15,
item 6).

A LightGBM and a scorecard version are registered in a temporary MLflow store with the
digest tag the ``register`` stage records, and downloaded. A new virtual environment gets
only the version's ``requirements.txt``, from the package index. There, outside the work
tree, with nothing of riskgrade importable (and another project's ``models.py`` in the
current folder, as ML projects often have), ``mlflow.pyfunc.load_model(<version folder>)``
predicts the work tree's pd, score and tier (pd to 1e-9), and ``mlflow models serve
--env-manager local`` answers ``/invocations`` with the same numbers. Where riskgrade is
installed, its packages are the ones a loaded version uses, not the copy it carries.

Slow (about a minute): one venv, installed from the package index (wheel cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

# tests/ is on sys.path (the root conftest's folder)
from pipeline.registry_support import register_fitted, split_project
from venv_support import Venv, clean_environment, free_port, new_venv, run, stop, wait_until_ready

from experiments.config import ProjectConfig
from experiments.registry.versions import artifacts_digest_tag
from experiments.tracking import MODEL_REQUIREMENTS
from models.contract.digest import DIGEST_TAG, artifacts_digest
from serving.scoring.model_store import (
    ModelLoadError,
    download_version,
    read_files,
    verify_artifacts,
)

pytestmark = pytest.mark.slow

MODEL_NAME = "self-contained-credit"
FAMILIES = ("lightgbm", "scorecard")
CARRIED = ("models", "features")  # what a version's code/ holds
# Never imported by loading and scoring a version: riskgrade's side-effect packages, the
# training stack (optbinning fits the scorecard, it does not score it), plots.
NEVER_IMPORTED = ("experiments", "serving", "optbinning", "shap", "optuna", "matplotlib")
ANOTHER_MODELS = '"""Another project\'s module called models (not riskgrade\'s)."""\n'
# Run in the venv (one process for both versions: imports are most of its time): load each
# version folder, score the customers, say where the code came from and what was imported.
PROBE = """
import importlib, json, sys
import mlflow, pandas as pd
missing = []
for name in ("experiments", "serving"):
    try:
        importlib.import_module(name)
    except ImportError:
        missing.append(name)
with open(sys.argv[1]) as f:
    customers = json.load(f)
scored = {}
for family in sys.argv[2:]:
    predicted = mlflow.pyfunc.load_model(family).predict(pd.DataFrame(customers))
    scored[family] = predicted[["pd", "score", "tier"]].to_dict("list")
import features, models.contract.pyfunc
print(json.dumps({
    "missing": missing,
    "scored": scored,
    "files": [models.contract.pyfunc.__file__, features.__file__],
    "modules": sorted({name.partition(".")[0] for name in sys.modules}),
}))
"""


@dataclass(frozen=True)
class Version:
    uri: str
    tags: dict[str, str]
    folder: Path  # the downloaded version (load it in place only from a copy)
    files: dict[str, bytes]  # its files as downloaded, before anything loaded them
    expected: pd.DataFrame  # the work tree's pd, score and tier for CUSTOMERS


@dataclass(frozen=True)
class Registered:
    versions: dict[str, Version]
    customers: list[dict[str, Any]]  # JSON records, as a client sends them


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
) -> Registered:
    """Both families fitted on the training split, registered with their digest tag (as the
    ``register`` stage does), downloaded, and scored by the work tree on 20 test customers
    plus one with a missing amount."""
    root = tmp_path_factory.mktemp("registry")
    config, parts = split_project(root, project_config, german_credit, MODEL_NAME)
    rows = parts["test"][config.data.features].head(20)
    unknown = rows.head(1).astype({"credit_amount": "float64"}).assign(credit_amount=float("nan"))
    customers = json.loads(pd.concat([rows, unknown]).to_json(orient="records"))
    client = MlflowClient()
    versions = {}
    for family in FAMILIES:
        number = register_fitted(config, config.models.get(family), parts["train"])
        uri = f"models:/{MODEL_NAME}/{number}"
        for key, value in artifacts_digest_tag(uri).items():
            client.set_model_version_tag(MODEL_NAME, number, key, value)
        folder = download_version(uri, root / "download" / family)
        predicted = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame(customers))
        tags = client.get_model_version(MODEL_NAME, number).tags
        expected = predicted[["pd", "score", "tier"]]
        versions[family] = Version(uri, tags, folder, read_files(folder), expected)
    return Registered(versions, customers)


@pytest.fixture(scope="module")
def model_venv(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv with nothing but the versions' ``requirements.txt`` (the same for both)."""
    (first, *others) = [v.files["requirements.txt"] for v in registered.versions.values()]
    assert all(other == first for other in others)
    venv = new_venv(tmp_path_factory.mktemp("venv") / "model")
    requirements = venv.root / "requirements.txt"
    requirements.write_bytes(first)
    venv.pip_install("--requirement", requirements, cwd=venv.root)
    return venv


@pytest.fixture(scope="module")
def elsewhere(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the work tree holding a copy of each version (Python writes bytecode
    next to the code it loads), the customers, and another project's ``models.py``."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    for family, found in registered.versions.items():
        shutil.copytree(found.folder, cwd / family)
    (cwd / "customers.json").write_text(json.dumps(registered.customers))
    (cwd / "models.py").write_text(ANOTHER_MODELS)
    (cwd / "probe.py").write_text(PROBE)
    return cwd


def assert_same_scores(found: dict[str, list[Any]], expected: pd.DataFrame) -> None:
    assert found["pd"] == pytest.approx(expected["pd"].tolist(), abs=1e-9)
    assert found["score"] == expected["score"].tolist()
    assert found["tier"] == expected["tier"].tolist()


def test_version_carries_models_and_features_only(registered: Registered, repo_root: Path) -> None:
    """``code/`` is the two packages' source and package data: no bytecode, no other package."""
    for found in registered.versions.values():
        carried = {path.removeprefix("code/") for path in found.files if path.startswith("code/")}
        expected = {
            path.relative_to(repo_root).as_posix()
            for package in CARRIED
            for path in (repo_root / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        }
        assert carried == expected
        assert "models/contract/pyfunc.py" in carried


def test_digest_covers_the_carried_code(registered: Registered) -> None:
    """The tag recorded at registration is the digest of every file, code included: the
    service refuses a version whose carried code was changed in the artifact store."""
    found = registered.versions["lightgbm"]
    assert found.tags[DIGEST_TAG] == artifacts_digest(found.files)
    assert verify_artifacts(found.uri, found.files, found.tags)
    changed = found.files | {"code/models/contract/pyfunc.py": b"import os\n"}
    with pytest.raises(ModelLoadError, match="stored artifacts changed since registration"):
        verify_artifacts(found.uri, changed, found.tags)


def test_requirements_pin_what_scoring_imports(registered: Registered) -> None:
    lines = registered.versions["lightgbm"].files["requirements.txt"].decode().split()
    assert sorted(lines) == sorted(f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS)
    assert not {"mlflow", "optbinning", "shap"} & {line.split("==")[0] for line in lines}


def test_versions_predict_where_riskgrade_is_absent(
    registered: Registered, model_venv: Venv, elsewhere: Path
) -> None:
    command = [model_venv.python, "probe.py", "customers.json", *FAMILIES]
    done = run(command, cwd=elsewhere, env=clean_environment())
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["missing"] == ["experiments", "serving"]
    code = (elsewhere / FAMILIES[0] / "code").resolve()  # the first version loaded brought it
    for module_file in found["files"]:  # the version's copy, not the other models.py
        assert Path(module_file).resolve().is_relative_to(code), module_file
    assert not set(NEVER_IMPORTED) & set(found["modules"])
    for family in FAMILIES:
        assert_same_scores(found["scored"][family], registered.versions[family].expected)


def test_mlflow_models_serve_answers_invocations(
    registered: Registered, model_venv: Venv, elsewhere: Path
) -> None:
    """``mlflow models serve`` of the venv (mlflow-skinny's), on the LightGBM version."""
    port = free_port()
    command = [model_venv.bin / "mlflow", "models", "serve", "-m", elsewhere / "lightgbm"]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1"]
    env = clean_environment(PATH=f"{model_venv.bin}{os.pathsep}{os.environ['PATH']}")
    log = elsewhere / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/ping", process, log, "mlflow models serve")
        body = json.dumps({"dataframe_records": registered.customers}).encode()
        request = urllib.request.Request(
            f"{url}/invocations", body, {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            predictions = json.loads(response.read())["predictions"]
    finally:
        stop(process)
    scored = pd.DataFrame(predictions)[["pd", "score", "tier"]].to_dict("list")
    assert_same_scores(scored, registered.versions["lightgbm"].expected)


def test_installed_riskgrade_wins_over_the_carried_copy(
    registered: Registered, repo_root: Path, tmp_path: Path
) -> None:
    """This environment's riskgrade (the editable install of the work tree) is what a loaded
    version runs, even when nothing of riskgrade was imported before the load: one ``models``
    and one ``features``, whose classes the skops-loaded pipeline and the pyfunc are."""
    probe = """
import json, os, sys
import mlflow
model = mlflow.pyfunc.load_model(sys.argv[1])
import features.transformers, models.calibration, models.contract.pyfunc
inner = model.unwrap_python_model()
kinds, todo = [type(inner.pipeline)], [inner.pipeline.pipeline_]
while todo:  # every step of the fitted pipeline, nested pipelines included
    step = todo.pop()
    kinds.append(type(step))
    todo += [sub for _, sub in getattr(step, "steps", [])]
ours = [k for k in kinds if k.__module__.partition(".")[0] in ("models", "features")]
code = os.path.realpath(os.path.join(sys.argv[1], "code"))
print(json.dumps({
    "files": sorted({sys.modules[k.__module__].__file__ for k in ours} | {
        models.contract.pyfunc.__file__, features.transformers.__file__}),
    "same_classes": type(inner) is models.contract.pyfunc.CreditRiskModel
        and isinstance(inner.pipeline, models.calibration.CalibratedPipeline)
        and features.transformers.RatioFeatures in kinds,
    "copy_on_path": any(os.path.realpath(entry) == code for entry in sys.path),
}))
"""
    folder = tmp_path / "lightgbm"
    shutil.copytree(registered.versions["lightgbm"].folder, folder)
    done = run([sys.executable, "-c", probe, folder], cwd=tmp_path, env=clean_environment())
    found = json.loads(done.stdout.splitlines()[-1])
    for module_file in found["files"]:
        assert Path(module_file).resolve().is_relative_to(repo_root), module_file
    assert found["same_classes"]
    assert not found["copy_on_path"]
