"""The ``register`` stage records the digest of the version's stored files, and the service
checks it (issue 13, item 11)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from models.contract.digest import DIGEST_TAG, artifacts_digest
from serving.scoring.model_store import download_version, load_version, read_files
from serving.settings import Settings

pytestmark = pytest.mark.faults
# `reported_version` (tests/pipeline/conftest.py): versions registered by the real stage.
Reported = Any


def test_register_stage_records_the_digest_the_service_verifies(
    reported_version: Reported,
) -> None:
    name, uri, version = (
        reported_version.model_name, reported_version.tracking_uri, reported_version.version
    )  # fmt: skip
    mlflow.set_tracking_uri(uri)
    recorded = MlflowClient(uri, uri).get_model_version(name, version).tags[DIGEST_TAG]
    with tempfile.TemporaryDirectory() as tmp:
        files = read_files(download_version(f"models:/{name}/{version}", Path(tmp)))
    assert {"MLmodel", "artifacts/policy", "artifacts/pipeline"} <= set(files)
    assert artifacts_digest(files) == recorded
    loaded = load_version(Settings(model_name=name, tracking_uri=uri), version)
    assert loaded.tags[DIGEST_TAG] == recorded
