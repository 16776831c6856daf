"""The one typed, frozen project configuration, loaded from ``params.yaml``.

Stage entry points load it; functions below them receive only the section they need.
A typo or a bad value fails with the dotted key, e.g. ``params.yaml: models.lightgbm.lerning_rate:
unknown key``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from features.pipeline import FeatureConfig
from features.schema import DatasetSchema, FrozenModel
from features.splitting import SplitConfig
from models.config import ModelName, ModelsConfig


class ConfigError(ValueError):
    """``params.yaml`` is missing, unreadable or does not match the expected structure."""


class TrainConfig(FrozenModel):
    models: tuple[ModelName, ...] = Field(default=("lightgbm", "logistic"), min_length=1)


class RuntimeConfig(FrozenModel):
    """Threads for LightGBM. Explicit, because OpenMP's default oversubscribes small machines."""

    n_jobs: int = Field(default=2, ge=1, le=256)


class MlflowConfig(FrozenModel):
    """Where runs go. ``MLFLOW_TRACKING_URI`` in the environment overrides ``tracking_uri``.

    Relative SQLite paths and ``artifact_root`` are resolved against the project directory.
    """

    experiment: str = "riskgrade"
    tracking_uri: str = "sqlite:///mlflow.db"
    artifact_root: str = "mlartifacts"


class ProjectConfig(FrozenModel):
    seed: int = Field(ge=0)
    data: DatasetSchema
    split: SplitConfig = SplitConfig()
    features: FeatureConfig = FeatureConfig()
    models: ModelsConfig = ModelsConfig()
    train: TrainConfig = TrainConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    mlflow: MlflowConfig = MlflowConfig()


def describe_errors(error: ValidationError, source: str) -> str:
    """One line per problem, each naming the dotted key in ``params.yaml``."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = (
            "unknown key (check the spelling)" if item["type"] == "extra_forbidden" else item["msg"]
        )
        lines.append(f"  - {key}: {message}")
    return f"{source}: invalid configuration:\n" + "\n".join(lines)


def parse_config(raw: Any, source: str = "params.yaml") -> ProjectConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(describe_errors(error, source)) from None


def load_config(path: Path) -> ProjectConfig:
    """Read and validate ``params.yaml``; raises ``ConfigError`` with the key at fault."""
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    return parse_config(raw, str(path))
