"""MLflow set-up and run metadata (git commit, data version).

The embedded default is a SQLite tracking + registry store and a local artifact folder in the
project directory; ``MLFLOW_TRACKING_URI`` points everything at a real server instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import AnyType, ColSpec, Schema
from sklearn.pipeline import Pipeline

import features
import models.contract.pyfunc
from experiments.config import MlflowConfig
from models.calibration import CalibratedPipeline
from models.contract.pyfunc import (
    BACKGROUND_ARTIFACT,
    PIPELINE_ARTIFACT,
    POLICY_ARTIFACT,
    REASONS_PARAM,
    CreditRiskModel,
    save_pipeline,
)
from models.families.registry import family_of
from models.scoring.scorecard import ScoringPolicy

ARTIFACTS = (PIPELINE_ARTIFACT, POLICY_ARTIFACT, BACKGROUND_ARTIFACT)

# What loading and scoring a version imports besides its own code, pinned to the versions it
# was fitted with (stated, not inferred: inference loads the model in a subprocess, which is
# slow). mlflow-skinny loads it and runs `mlflow models serve`; full MLflow (a tracking
# server's SQL store, the UI) is not the model's need. optbinning fits the scorecard only.
# tests/packaging/test_self_contained_model.py loads and serves a version with only these.
MODEL_REQUIREMENTS = [
    "mlflow-skinny",
    "lightgbm",
    "scikit-learn",
    "scipy",
    "pandas",
    "numpy",
    "skops",
    "pydantic",
]
# The riskgrade packages a version carries (``code_paths``): the pyfunc imports nothing else.
MODEL_CODE = (models, features)


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
    On a tracking server (``http(s)://``) the server places it: with ``--serve-artifacts``
    under its ``--artifacts-destination``, uploaded and downloaded through the server, so
    nothing is written next to the project and clients need no access to the storage.
    """
    uri = resolve_tracking_uri(config, project_dir)
    mlflow.set_tracking_uri(uri)
    location = None
    if uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri:
        location = (project_dir / config.artifact_root).resolve().as_uri()
    experiment_id = ensure_experiment(config.experiment, location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def ensure_experiment(name: str, location: str | None) -> str:
    """The id of experiment ``name``, created (artifacts at ``location``) if it is missing.

    On a shared tracking server another process -- a second tuning machine, a colleague's
    `dvc repro` -- may create it between the look-up and the creation; the server then
    answers RESOURCE_ALREADY_EXISTS and that experiment is the one to use.
    """
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        try:
            return str(mlflow.create_experiment(name, artifact_location=location))
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            experiment = mlflow.get_experiment_by_name(name)
            if experiment is None:  # created and deleted meanwhile: nothing sensible to use
                raise
    return str(experiment.experiment_id)


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
    # Dirty means code or configuration differ from the commit. dvc.lock and data/ change
    # while `dvc repro` runs; they hold outputs, versioned by their own hashes, so they are
    # left out of the check.
    changes = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!dvc.lock", ":!data"
    )
    return {"git_commit": commit, "git_dirty": str(bool(changes)).lower()}


def nullable_inputs(example: pd.DataFrame) -> Schema:
    """The raw input columns, each optional (a missing value is scored as training learnt).

    A text column is ``string``; a number column is MLflow's ``Any``: with ``long`` a missing
    value (NaN, so float64) is refused, with ``double`` every int64 column of a frame read
    from a file is refused, so either typed choice breaks ``model.predict(pd.read_csv(f))``
    on real data. ``CreditRiskModel`` checks those columns itself (``policy.numeric_inputs``:
    a number or missing, text refused naming the column), and the service reads ``Any`` as a
    number.
    """
    numbers = set(example.select_dtypes("number").columns)
    return Schema(
        [
            ColSpec(AnyType() if name in numbers else "string", str(name), required=False)
            for name in example.columns
        ]
    )


def copy_model_code(into: Path) -> list[str]:
    """Copy the packages a version needs (``MODEL_CODE``) into ``into``; their folders, for
    ``code_paths``. Source and package data only: no bytecode, no hidden files.

    Whole packages, named explicitly, rather than MLflow's ``infer_code_paths``: inference
    loads the model in a subprocess at every log, only finds files under the current folder
    (none from an installed riskgrade) and only the modules imported at load, not those a
    prediction imports later.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    folders = []
    for package in MODEL_CODE:
        folder = into / package.__name__
        shutil.copytree(Path(str(package.__file__)).parent, folder, ignore=ignore)
        folders.append(str(folder))
    return folders


def log_credit_risk_model(
    pipeline: CalibratedPipeline | Pipeline, policy: ScoringPolicy, train_rows: pd.DataFrame
) -> ModelInfo:
    """Log the model contract (pipeline + policy [+ background mean]) in the active run.

    ``train_rows``: raw training features. Only the family's explanation baseline is stored
    (an aggregate, e.g. their encoded mean); five rows become the input example. The
    signature's inputs are the raw columns with their types; outputs ``pd`` (double),
    ``score`` (long), ``tier`` and ``reasons`` (string); parameter ``reason_codes`` (int).
    The version carries ``models`` and ``features`` (``code/``) and pins its requirements, so
    it loads and serves where riskgrade is not installed (``pyfunc_entry`` says which copy
    wins where it is).
    """
    model = CreditRiskModel()
    model.pipeline, model.policy = pipeline, policy
    family = family_of(pipeline)
    if family.baseline is not None:
        model.background_mean = family.baseline(pipeline, train_rows)
    example = train_rows.head(5)
    params = {REASONS_PARAM: policy.reasons.top_k}
    with warnings.catch_warnings():  # its hint about integer columns concerns the outputs
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        inferred = infer_signature(example, model.score(example, policy.reasons.top_k), params)
    signature = ModelSignature(nullable_inputs(example), inferred.outputs, inferred.params)
    means = {} if model.background_mean is None else model.background_mean.to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / name for name in ARTIFACTS}
        save_pipeline(pipeline, paths[PIPELINE_ARTIFACT])
        paths[POLICY_ARTIFACT].write_text(policy.model_dump_json(indent=2), encoding="utf-8")
        paths[BACKGROUND_ARTIFACT].write_text(json.dumps(means), encoding="utf-8")
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(models.contract.pyfunc.__file__).with_name("pyfunc_entry.py")),
            artifacts={name: str(path) for name, path in paths.items()},
            signature=signature,
            input_example=example,
            pip_requirements=[f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
            code_paths=copy_model_code(Path(tmp) / "code"),
        )
