"""A real MLflow registry (SQLite, temporary) with real registered versions, and the real app.

Versions of ``serving-test``: v1 LightGBM (``@champion`` at start), v2 logistic regression on
WoE. Both are fitted on the bundled German Credit training split exactly like ``riskgrade
train`` fits them, and logged with ``log_credit_risk_model`` (the model contract).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_support import (
    NAME,
    SCORER_KEY,
    STORES,
    Registry,
    build_registry,
    make_settings,
    new_store_url,
)

from experiments.config import ProjectConfig
from serving.app import create_app


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    project_config: ProjectConfig,
    german_credit: pd.DataFrame,
) -> Registry:
    root = tmp_path_factory.mktemp("serving-registry")
    families = {
        family: {"model_family": family, "test_roc_auc": "0.78", "data_md5": "abc123"}
        for family in ("lightgbm", "logistic")
    }
    return build_registry(root, project_config, german_credit, "serve", families)


@pytest.fixture(scope="module")
def champion() -> str:
    """The version a module's app starts on; a module overrides this fixture to serve another."""
    return "1"


@pytest.fixture(scope="module")
def client(
    registry: Registry, champion: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app on ``champion``, production mode, scorer and admin keys; v1 is the champion
    again afterwards, wherever the module moved the alias."""
    registry.set_champion(champion)
    settings = make_settings(registry, tmp_path_factory.mktemp("app"))
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as test_client:
        yield test_client
    registry.set_champion("1")


@pytest.fixture
def cli_env(registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI pointed at the test registry (v1 @champion) and an audit store in ``tmp_path``;
    no other RISKGRADE_* setting of the surrounding environment reaches it."""
    registry.set_champion("1")
    for name in list(os.environ):
        if name.startswith("RISKGRADE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RISKGRADE_MODEL_NAME", NAME)
    monkeypatch.setenv("RISKGRADE_TRACKING_URI", registry.uri)
    monkeypatch.setenv("RISKGRADE_AUDIT_URL", f"sqlite:///{tmp_path / 'audit.db'}")
    return tmp_path


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty audit and portfolio database: SQLite, and PostgreSQL (``postgres`` tests)."""
    return new_store_url(request, tmp_path)
