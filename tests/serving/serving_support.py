"""Shared test helpers for the serving tests: a temporary registry and app settings."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.registry.versions import artifacts_digest_tag
from experiments.tracking import log_credit_risk_model, setup_mlflow
from features.splitting import split_dataset
from models.calibration import CalibratedPipeline
from models.factory import build_calibrated_model, fit_credit_model
from models.scoring.scorecard import ScoringPolicy
from serving.settings import ApiKey, Settings, hash_api_key

NAME = "serving-test"
SCORER_KEY = "scorer-key-0123456789abcdef0123456789"
ADMIN_KEY = "admin-key-0123456789abcdef0123456789ab"
SECRET = "test-customer-id-secret-0123456789abcdef"
# The databases a store test runs on (a fixture's params; ``new_store_url`` makes one)
STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass(frozen=True)
class Fitted:
    """A calibrated model and the scoring policy fitted with it (as the train stage does)."""

    model: CalibratedPipeline
    policy: ScoringPolicy


@dataclass
class Registry:
    root: Path
    uri: str
    config: ProjectConfig
    parts: dict[str, pd.DataFrame]
    pipelines: dict[str, CalibratedPipeline]  # version -> fitted model (calibrated pipeline)

    @property
    def features(self) -> list[str]:
        return self.config.data.features

    def records(self, split: str = "test", n: int | None = None) -> list[dict[str, Any]]:
        """Rows of a split as JSON-ready customer dicts (plain Python values)."""
        frame = self.parts[split][self.features]
        frame = frame if n is None else frame.head(n)
        return [
            {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
            for row in frame.to_dict("records")
        ]

    def register(self, fitted: Fitted, tags: dict[str, str], digest: bool = True) -> str:
        """Log and register a fitted model as the ``register`` stage does (with the digest of
        its files, unless ``digest`` is False: a version registered before digests existed);
        returns the new version number."""
        mlflow.set_tracking_uri(self.uri)
        schema = self.config.data
        train = self.parts["train"]
        with mlflow.start_run():
            info = log_credit_risk_model(fitted.model, fitted.policy, train[schema.features])
        tags = tags | (artifacts_digest_tag(info.model_uri) if digest else {})
        version = mlflow.register_model(info.model_uri, NAME, tags=tags)
        self.pipelines[str(version.version)] = fitted.model
        return str(version.version)

    def set_champion(self, version: str) -> None:
        MlflowClient(self.uri).set_registered_model_alias(NAME, "champion", version)

    def stored_file(self, version: str, relative: str) -> Path:
        """A version's file in the MLflow artifact store (``artifacts/policy``, ``MLmodel``)."""
        source = MlflowClient(self.uri).get_model_version_download_uri(NAME, version)
        path = Path(source.removeprefix("file://")) / relative
        if not path.is_file():  # MLflow 3 logged models: resolve through the registry
            path = next(self.root.rglob(f"*{source.split('/')[-1]}*/**/{relative}"))
        return path


def fit(registry_config: ProjectConfig, train: pd.DataFrame, family: str) -> Fitted:
    models = registry_config.models
    if family == "onehot":
        model_config = models.get("logistic").model_copy(update={"encoding": "onehot"})
    else:
        model_config = models.get(family)
    schema = registry_config.data
    model = build_calibrated_model(
        schema, registry_config.features, model_config, registry_config.calibration,
        registry_config.seed,
    )  # fmt: skip
    X, y = train[schema.features], train[schema.target].to_numpy()
    return Fitted(model, fit_credit_model(model, registry_config.scorecard, X, y, schema))


def build_registry(
    root: Path,
    project_config: ProjectConfig,
    data: pd.DataFrame,
    experiment: str,
    families: dict[str, dict[str, str]],
) -> Registry:
    """A SQLite MLflow registry under ``root`` with one version per family (in order, with
    its tags), fitted on the training split of ``data``; version 1 is ``@champion``."""
    raw = project_config.model_dump(mode="json")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    raw["mlflow"] |= {"tracking_uri": uri, "experiment": experiment}
    config = ProjectConfig.model_validate(raw)
    # the environment wins over params.yaml (riskgrade's rule), and a session fixture set up
    # before a module's MLflow isolation leaves its store there: point it at this one
    os.environ["MLFLOW_TRACKING_URI"] = uri
    setup_mlflow(config.mlflow, root)
    parts = split_dataset(data, config.data, config.split, config.seed)
    registry = Registry(root, uri, config, parts, {})
    for family, tags in families.items():
        registry.register(fit(config, parts["train"], family), tags)
    registry.set_champion("1")
    return registry


def make_settings(registry: Registry, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mode": "production",
        "model_name": NAME,
        "tracking_uri": registry.uri,
        "audit_url": f"sqlite:///{tmp / 'audit.db'}",
        "batch_limit": 5,
        "max_body_bytes": 20_000,
        "customer_id_secret": SECRET,
        "api_keys": [
            ApiKey(name="scorer", sha256=hash_api_key(SCORER_KEY), roles=("scorer",)),
            ApiKey(name="admin", sha256=hash_api_key(ADMIN_KEY), roles=("admin",)),
        ],
    }
    return Settings(**(values | overrides))


def new_store_url(request: pytest.FixtureRequest, folder: Path) -> str:
    """An empty audit and portfolio database for a fixture parametrized with ``STORES``: a
    SQLite file in ``folder``, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'audit.db'}"
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database(f"store_{uuid.uuid4().hex[:12]}")
    return url
