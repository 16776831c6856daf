"""What tuning needs around the families' search spaces (each family module has its own).

A search space asks an Optuna trial for values and returns a validated model config, so a
sampled configuration is exactly what the factory builds. Optuna parameter names are the
config field names, which is how tuned values map back onto ``params.yaml``.

The ranges are generic (credit datasets from a few hundred to millions of rows), not fitted
to German Credit. Settings that are not searched -- LightGBM's monotone constraints, the
tree-count cap, the iteration limit of the solver -- come from ``base`` unchanged.
"""

from __future__ import annotations

from typing import Any

from features.schema import FrozenModel


class BaseValues:
    """A stand-in trial that answers each question with ``base``'s value, moved into range.

    An integer setting where ``<= 0`` means "no limit" (LightGBM's ``max_depth = -1``) maps to
    the loosest limit searched.
    """

    def __init__(self, base: FrozenModel) -> None:
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


def starting_params(suggest: Any, base: FrozenModel) -> dict[str, Any]:
    """Trial params closest to ``base`` (the ``params.yaml`` model) inside the search space.

    Enqueued as a study's first trial, so the search starts from the configured model and
    only a configuration that scores better in cross-validation can replace it.
    """
    trial = BaseValues(base)
    suggest(trial, base)
    return trial.params


def changed_values(
    tuned: FrozenModel,
    base: FrozenModel,
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
