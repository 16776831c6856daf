"""Shared fixtures: a tiny literal dataset for unit tests, the real config and data for the rest,
and the end-to-end project (``pipeline/dvc_project.py``), built beside the suite.

The environment is prepared before anything imports MLflow, DVC or LightGBM, and subprocesses
inherit it: no telemetry to outside hosts, OpenMP threads that sleep instead of spinning, and
one OpenMP / BLAS thread per process unless the caller set another count (CI has two cores and
the end-to-end build runs on one of them; LightGBM's count is explicit anyway, the config's
``n_jobs``).
"""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from pipeline.dvc_project import BuiltProject, ProjectBuild
from postgres_support import PostgresServer
from postgres_support import unavailable as postgres_unavailable

from experiments.config import ProjectConfig, load_config
from experiments.io import read_table
from features.schema import DatasetSchema
from features.validation import validate_dataset

DATABASE_NUMBERS = itertools.count()
TINY_COLUMNS = ["customer_id", "duration_months", "amount_dm", "checking_status", "purpose"]
# 16 applicants, 7 defaults. "negative" checking accounts default 4 times in 5, "none" once in
# 6: tests of weight of evidence rely on that contrast. Missing values: amount_dm (rows 3, 11),
# checking_status (row 6), purpose (row 12).
TINY_ROWS = [
    ("c01", 6, 1000.0, "none", "car", "good"),
    ("c02", 12, 2500.0, "none", "tv", "good"),
    ("c03", 24, np.nan, "low", "tv", "bad"),
    ("c04", 36, 4000.0, "negative", "education", "bad"),
    ("c05", 48, 12000.0, "negative", "business", "bad"),
    ("c06", 9, 800.0, None, "car", "good"),
    ("c07", 18, 3000.0, "none", "tv", "good"),
    ("c08", 30, 5000.0, "low", "car", "bad"),
    ("c09", 60, 15000.0, "negative", "business", "bad"),
    ("c10", 15, 1500.0, "none", "tv", "good"),
    ("c11", 21, np.nan, "low", "education", "good"),
    ("c12", 27, 2200.0, "none", None, "good"),
    ("c13", 42, 7000.0, "negative", "car", "good"),
    ("c14", 10, 1200.0, "none", "tv", "bad"),
    ("c15", 33, 6000.0, "low", "business", "good"),
    ("c16", 54, 9000.0, "negative", "education", "bad"),
]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The project directory (the one holding ``params.yaml``)."""
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_config(repo_root: Path) -> ProjectConfig:
    return load_config(repo_root / "params.yaml")


@pytest.fixture(scope="session")
def german_credit(project_config: ProjectConfig, repo_root: Path) -> pd.DataFrame:
    """The bundled dataset, validated against the schema in ``params.yaml``. Do not mutate."""
    schema = project_config.data
    raw = read_table(repo_root / schema.source)
    return validate_dataset(raw, schema, source=str(schema.source))


@pytest.fixture
def tiny_schema() -> DatasetSchema:
    return DatasetSchema(
        name="tiny",
        source=Path("tiny.csv"),
        format="csv",
        target="outcome",
        positive_label="bad",
        negative_label="good",
        id_column="customer_id",
        numeric=("duration_months", "amount_dm"),
        categorical=("checking_status", "purpose"),
    )


@pytest.fixture
def tiny_raw() -> pd.DataFrame:
    """The raw file as pandas reads it: labels as text, missing values as NaN / None."""
    return pd.DataFrame(TINY_ROWS, columns=[*TINY_COLUMNS, "outcome"])


@pytest.fixture
def tiny_frame(tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema) -> pd.DataFrame:
    """``tiny_raw`` after validation: typed features and a 0/1 target (1 = "bad")."""
    return validate_dataset(tiny_raw, tiny_schema, source="tiny.csv")


@pytest.fixture(autouse=True, scope="module")
def isolated_mlflow_settings() -> Iterator[None]:
    """Each test module starts from the same MLflow settings.

    ``mlflow.set_tracking_uri`` / ``set_experiment`` export ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_EXPERIMENT_ID`` to the environment (for subprocesses), and riskgrade lets the
    environment win over params.yaml, so without this one module's store would leak into the
    next.
    """
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
    saved = {name: os.environ.get(name) for name in names}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None: back to MLflow's default
    mlflow.tracking.fluent._active_experiment_id = None  # no public API resets the active one


# The end-to-end project: started with the session's first test if a selected test reads it
# (``built_project``), on the second core; those tests run last.


def fixtures_of(item: pytest.Item) -> list[str]:
    """Every fixture a test uses, directly or through other fixtures."""
    return list(getattr(item, "fixturenames", []))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read the end-to-end project run last: it is built meanwhile."""
    items.sort(key=lambda item: "built_project" in fixtures_of(item))  # stable sort


@pytest.fixture(scope="session", autouse=True)
def project_build(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, repo_root: Path
) -> Iterator[ProjectBuild | None]:
    """Starts building the end-to-end project (``pipeline/dvc_project.py``) as the session's
    first test starts, if a selected test reads it; ended with the session if still running."""
    wanted = {name for item in request.session.items for name in fixtures_of(item)}
    if "built_project" not in wanted:
        yield None
        return
    workdir = tmp_path_factory.mktemp("dvc-project")
    build = ProjectBuild(repo_root, workdir, reproduce="reproduced" in wanted).start()
    yield build
    build.stop()


@pytest.fixture(scope="session")
def built_project(project_build: ProjectBuild | None) -> BuiltProject:
    """The end-to-end project after `dvc repro` (waits for the build)."""
    assert project_build is not None, "request built_project as a test argument"
    return project_build.result()


@pytest.fixture(scope="session")
def reproduced(built_project: BuiltProject) -> subprocess.CompletedProcess[str]:
    """`riskgrade reproduce` of the project's registered version, run by the build."""
    assert built_project.reproduced is not None
    return built_project.reproduced


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (``postgres_support``). Skipped, with the
    reason, where none can be started; in CI (``CI`` set) that is a failure instead: .ci/run
    installs the server, so a skip there would hide a broken set-up."""
    reason = postgres_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
        pytest.skip(reason)
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A new, empty database on the session's server (one per test): its SQLAlchemy URL."""
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    name += f"_{next(DATABASE_NUMBERS)}"
    return postgres_server.create_database(name)
