"""Typed hyper-parameters of each model family (the ``models`` section of ``params.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from features.pipeline import Encoding
from features.schema import FrozenModel

ModelName = Literal["lightgbm", "logistic"]


class LightGBMConfig(FrozenModel):
    """LightGBM parameters. Deterministic settings are fixed by the factory, not here."""

    n_estimators: int = Field(default=300, ge=1, le=20000)
    learning_rate: float = Field(default=0.03, gt=0, le=1)
    num_leaves: int = Field(default=8, ge=2, le=4096)
    max_depth: int = Field(default=-1, ge=-1)
    min_child_samples: int = Field(default=20, ge=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    subsample_freq: int = Field(default=1, ge=0)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_alpha: float = Field(default=0.0, ge=0)
    reg_lambda: float = Field(default=1.0, ge=0)
    cat_smooth: float = Field(default=10.0, ge=0)
    min_data_per_group: int = Field(default=20, ge=1)
    class_weight: Literal["balanced"] | None = None
    monotone_constraints: dict[str, Literal[-1, 0, 1]] = Field(default_factory=dict)

    @property
    def encoding(self) -> Encoding:
        return "native"


class LogisticConfig(FrozenModel):
    """Logistic regression on one-hot or weight-of-evidence encoded features."""

    C: float = Field(default=1.0, gt=0)
    penalty: Literal["l2", "l1"] = "l2"
    encoding: Literal["onehot", "woe"] = "woe"
    class_weight: Literal["balanced"] | None = None
    max_iter: int = Field(default=2000, ge=10)


class ModelsConfig(FrozenModel):
    """One entry per model family; ``train`` in ``params.yaml`` picks which ones run."""

    lightgbm: LightGBMConfig = LightGBMConfig()
    logistic: LogisticConfig = LogisticConfig()

    def get(self, name: ModelName) -> LightGBMConfig | LogisticConfig:
        config: LightGBMConfig | LogisticConfig = getattr(self, name)
        return config
