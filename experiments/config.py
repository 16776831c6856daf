"""The one typed, frozen project configuration, loaded from ``params.yaml``.

Stage entry points load it; functions below them receive only the section they need.
A typo or a bad value fails with the dotted key, e.g. ``params.yaml: models.lightgbm.lerning_rate:
unknown key``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from experiments.tuning.storage import check_storage_value
from features.pipeline import FeatureConfig
from features.schema import DatasetSchema, FrozenModel
from features.splitting import SplitConfig
from models.calibration import CalibrationConfig
from models.customers.actionable import CustomerReportConfig
from models.evaluation.fairness import FairnessConfig
from models.families.registry import FAMILIES, ModelsConfig
from models.governance.gate import GateConfig
from models.monitoring.drift import MonitoringConfig
from models.scoring.scorecard import ScorecardConfig


class ConfigError(ValueError):
    """``params.yaml`` is missing, unreadable or does not match the expected structure."""


def check_family(name: str) -> str:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known families: {sorted(FAMILIES)}")
    return name


class TrainConfig(FrozenModel):
    """The model families trained (each one's settings: ``models.<family>``)."""

    models: tuple[str, ...] = Field(default=tuple(FAMILIES), min_length=1)

    @field_validator("models")
    @classmethod
    def _check_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"a model family is listed twice: {list(value)}")
        return tuple(check_family(name) for name in value)


class RuntimeConfig(FrozenModel):
    """Threads for LightGBM. Explicit, because OpenMP's default oversubscribes small machines."""

    n_jobs: int = Field(default=2, ge=1, le=256)


class PrunerConfig(FrozenModel):
    """Median pruning on the running mean fold ROC AUC (one step = one CV fold)."""

    enabled: bool = True
    n_startup_trials: int = Field(default=5, ge=0)  # trials that always run every fold
    n_warmup_steps: int = Field(default=1, ge=0)  # pruning starts after n_warmup_steps + 1 folds


class TuneConfig(FrozenModel):
    """Budget and settings of ``riskgrade tune`` (the Optuna study of one model family).

    The budget counts finished (complete + pruned) trials of the study, including those of
    earlier, interrupted runs; ``timeout_seconds`` limits one run's wall time. ``storage``:
    null = the journal file ``data/studies/riskgrade.journal``; otherwise a database URL or
    a journal path (``RISKGRADE_OPTUNA_STORAGE`` overrides it).
    """

    n_trials: int | None = Field(default=30, ge=1, le=100_000)
    timeout_seconds: float | None = Field(default=None, gt=0)
    folds: int = Field(default=5, ge=2, le=20)
    repeats: int = Field(default=2, ge=1, le=10)  # K-fold repeated, reshuffled: less noise
    early_stopping_rounds: int = Field(default=50, ge=1)  # LightGBM, on each fold's valid part
    max_estimators: int = Field(default=2000, ge=1, le=20000)  # LightGBM tree cap in trials
    storage: str | None = None
    n_jobs: int | None = Field(default=None, ge=1, le=256)  # threads per trial; null: runtime
    pruner: PrunerConfig = PrunerConfig()

    @field_validator("storage")
    @classmethod
    def _check_storage(cls, value: str | None) -> str | None:
        return None if value is None else check_storage_value(value)

    @model_validator(mode="after")
    def _check_budget(self) -> TuneConfig:
        if self.n_trials is None and self.timeout_seconds is None:
            raise ValueError(
                "tune.n_trials and tune.timeout_seconds are both null: set one or both, "
                "or the study never stops"
            )
        return self


class MlflowConfig(FrozenModel):
    """Where runs go. ``MLFLOW_TRACKING_URI`` in the environment overrides ``tracking_uri``.

    Relative SQLite paths and ``artifact_root`` are resolved against the project directory.
    """

    experiment: str = "riskgrade"
    tracking_uri: str = "sqlite:///mlflow.db"
    artifact_root: str = "mlartifacts"


class RegistryConfig(FrozenModel):
    """The registered model's name and how the candidate is chosen."""

    model_name: str = Field(default="riskgrade-credit", pattern=r"^[A-Za-z0-9_\-.]+$")
    candidate: str = "auto"  # auto: the trained family with the best validation AUC

    @field_validator("candidate")
    @classmethod
    def _check_candidate(cls, value: str) -> str:
        return value if value == "auto" else check_family(value)


class ProjectConfig(FrozenModel):
    seed: int = Field(ge=0)
    data: DatasetSchema
    split: SplitConfig = SplitConfig()
    features: FeatureConfig = FeatureConfig()
    models: ModelsConfig = ModelsConfig()
    train: TrainConfig = TrainConfig()
    tune: TuneConfig = TuneConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    mlflow: MlflowConfig = MlflowConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    scorecard: ScorecardConfig = ScorecardConfig()
    registry: RegistryConfig = RegistryConfig()
    promotion: GateConfig = GateConfig()
    fairness: FairnessConfig = FairnessConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    customer_report: CustomerReportConfig = CustomerReportConfig()

    @model_validator(mode="after")
    def _check_fairness(self) -> ProjectConfig:
        if self.fairness.gated and not self.data.protected:
            raise ValueError(
                "fairness: a threshold is set but data.protected is empty; declare the "
                "protected columns or set the thresholds to null"
            )
        return self


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


def stale_column_references(config: ProjectConfig) -> list[str]:
    """Settings that name columns the dataset does not declare, one line per key.

    Left over from another dataset (the bundled German Credit ``params.yaml``), they are
    ignored or fail later; ``riskgrade validate`` prints them as warnings. The keys: ratios,
    LightGBM monotone constraints, reason labels and the customer report's actionable features.
    """
    features = set(config.data.features)
    ratios = {ratio.name for ratio in config.features.ratios}
    numeric = set(config.data.numeric)
    found: list[tuple[str, list[str], set[str]]] = [
        (
            f"features.ratios[{ratio.name!r}]",
            [ratio.numerator, ratio.denominator],
            numeric,
        )
        for ratio in config.features.ratios
    ]
    lightgbm = config.models.get("lightgbm")
    constraints = getattr(lightgbm, "monotone_constraints", {})
    found.append(("models.lightgbm.monotone_constraints", list(constraints), features | ratios))
    found.append(("scorecard.reasons.labels", list(config.scorecard.reasons.labels), features))
    found.append(("customer_report.actionable", list(config.customer_report.actionable), features))
    lines = []
    for key, names, known in found:
        unknown = [name for name in names if name not in known]
        if unknown:
            lines.append(
                f"params.yaml {key} names {unknown}, not among the dataset's "
                f"{'numeric columns' if known is numeric else 'features'} (data section): "
                "update or remove it"
            )
    return lines
