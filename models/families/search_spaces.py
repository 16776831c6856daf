"""Hyper-parameter search spaces, one function per model family.

Each function asks an Optuna trial for values and returns a validated model config, so a
sampled configuration is exactly what the factory builds. Optuna parameter names are the
config field names, which is how tuned values map back onto ``params.yaml``.

The ranges are generic (credit datasets from a few hundred to millions of rows), not fitted
to German Credit. Settings that are not searched -- LightGBM's monotone constraints, the
tree-count cap, the iteration limit of the solver -- come from ``base`` unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

from models.families.config import LightGBMConfig, LogisticConfig


class TrialLike(Protocol):
    """What a search space needs from an Optuna trial (``Trial`` or ``FixedTrial``)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        """A float in [low, high]."""

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        """An integer in [low, high]."""

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        """One of ``choices``."""


def suggest_lightgbm(trial: TrialLike, base: LightGBMConfig | None = None) -> LightGBMConfig:
    """A LightGBM configuration: shrinkage, tree shape, row/column sampling, L1/L2, weighting.

    ``n_estimators`` stays at ``base``'s value: tuning treats it as a cap and lets early
    stopping choose the number of trees. ``subsample`` acts because ``subsample_freq`` is set
    to 1 (bagging every iteration). ``min_child_samples`` is a count of rows per leaf, log-scaled
    so both small and large portfolios find a sensible value.
    """
    base = base or LightGBMConfig()
    values = {
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 2, 128, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 12),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
    }
    return LightGBMConfig.model_validate(base.model_dump() | values)


def suggest_logistic(trial: TrialLike, base: LogisticConfig | None = None) -> LogisticConfig:
    """A logistic regression: encoding (one-hot or weight of evidence), C, penalty, weighting.

    ``C`` is the inverse regularisation strength (larger = weaker penalty), log-uniform over
    five decades. ``max_iter`` comes from ``base``.
    """
    base = base or LogisticConfig()
    values = {
        "encoding": trial.suggest_categorical("encoding", ["onehot", "woe"]),
        "C": trial.suggest_float("C", 1e-3, 100.0, log=True),
        "penalty": trial.suggest_categorical("penalty", ["l1", "l2"]),
        "class_weight": trial.suggest_categorical("class_weight", [None, "balanced"]),
    }
    return LogisticConfig.model_validate(base.model_dump() | values)


class BaseValues:
    """A stand-in trial that answers each question with ``base``'s value, moved into range.

    An integer setting where ``<= 0`` means "no limit" (LightGBM's ``max_depth = -1``) maps to
    the loosest limit searched.
    """

    def __init__(self, base: LightGBMConfig | LogisticConfig) -> None:
        self.base = base
        self.params: dict[str, Any] = {}

    def keep(self, name: str, value: Any) -> Any:
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return self.keep(name, min(max(float(getattr(self.base, name)), low), high))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        value = int(getattr(self.base, name))
        return self.keep(name, high if value <= 0 < low else min(max(value, low), high))

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        value = getattr(self.base, name)
        return self.keep(name, value if value in choices else choices[0])


def starting_params(suggest: Any, base: LightGBMConfig | LogisticConfig) -> dict[str, Any]:
    """Trial params closest to ``base`` (the ``params.yaml`` model) inside the search space.

    Enqueued as a study's first trial, so the search starts from the configured model and
    only a configuration that scores better in cross-validation can replace it.
    """
    trial = BaseValues(base)
    suggest(trial, base)
    return trial.params


def changed_values(
    tuned: LightGBMConfig | LogisticConfig,
    base: LightGBMConfig | LogisticConfig,
    searched: set[str],
) -> dict[str, Any]:
    """The fields of ``tuned`` to write over ``base``: every searched one, and any other that
    the search space changed (``subsample_freq``, a derived ``n_estimators``)."""
    before = base.model_dump(mode="json")
    return {
        key: value
        for key, value in tuned.model_dump(mode="json").items()
        if key in searched or value != before[key]
    }
