"""Shared fixtures: a tiny literal dataset for unit tests, the real config and data for the rest.

The environment is prepared before anything imports MLflow, DVC or LightGBM: no telemetry to
outside hosts, and OpenMP threads that sleep instead of spinning.
"""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from experiments.config import ProjectConfig, load_config
from experiments.io import read_table
from features.schema import DatasetSchema
from features.validation import validate_dataset

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
