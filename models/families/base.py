"""What a model family is: the one interface that training, tuning, explanation, registration,
reports and serving dispatch through (``models.families.registry``).

A family module defines its typed ``params.yaml`` section, the encoder and estimator of its
pipeline, its Optuna search space, how a fitted pipeline explains itself in log-odds, what a
registered version must carry for that (the baseline), and optionally a compiled fast path,
boosting hooks for tuning and tables logged with each version (a scorecard's points).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from features.pipeline import FeatureConfig
from features.schema import DatasetSchema, FrozenModel
from models.explain.additive import Explanation
from models.fastpath.parts import CompiledModel
from models.scoring.scorecard import ScoreScaling


class TrialLike(Protocol):
    """What a search space needs from an Optuna trial (``Trial`` or ``FixedTrial``)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        """A float in [low, high]."""

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        """An integer in [low, high]."""

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        """One of ``choices``."""


@dataclass(frozen=True)
class EarlyStopping:
    """Tuning hooks of a boosting family.

    ``fit(model, X_fit, y_fit, X_valid, y_valid, rounds)`` fits on encoded rows, stopping when
    the validation loss has not improved for ``rounds`` rounds, and returns the best round;
    ``predict(model, X, rounds)`` is the PD using the first ``rounds`` rounds. ``size_field``
    is the config field capped at ``tune.max_estimators`` during the search and derived from
    the folds' stopping points afterwards.
    """

    fit: Callable[[Any, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, int], int]
    predict: Callable[[Any, pd.DataFrame, int], np.ndarray]
    size_field: str = "n_estimators"


Explainer = Callable[[Any, Any, pd.DataFrame, "pd.Series | None"], Explanation]


@dataclass(frozen=True)
class ModelFamily:
    """A model family (see the module docstring). ``Any`` below is the family's own config,
    encoder and estimator types, which only the family's module knows."""

    name: str
    summary: str
    config_type: type[FrozenModel]
    build_encoder: Callable[[DatasetSchema, FeatureConfig, Any], Any]
    build_estimator: Callable[[Any, list[str], int, int], Any]  # config, inputs, seed, n_jobs
    suggest: Callable[[TrialLike, Any], Any]  # trial, base config -> config
    owns: Callable[[Any, Any], bool]  # (fitted encoder, fitted estimator) -> is it mine?
    explain: Explainer  # (encoder, estimator, encoded rows, baseline) -> model log-odds
    # The aggregate a version carries for its explanations (a mean encoded training row, a
    # scorecard's best attributes), from the fitted pipeline and raw training rows; None: the
    # model explains itself without one (trees: their own cover).
    baseline: Callable[[Any, pd.DataFrame], pd.Series] | None = None
    # (encoder, estimator, inputs, baseline, threads) -> the model step for the fast path;
    # None: the service scores through the registered pipeline.
    compile: Callable[[Any, Any, list[str], pd.Series | None, int], CompiledModel] | None = None
    early_stopping: EarlyStopping | None = None
    # Tables logged with each version and shown in its report: (fitted model, the score
    # scaling) -> {name: table}.
    tables: Callable[[Any, ScoreScaling], dict[str, pd.DataFrame]] | None = None
    trusted_types: tuple[str, ...] = ()  # types skops must trust to load a version
    requirements: tuple[str, ...] = ()  # pip packages a loaded version needs
