"""The registry of model families: the one place that lists them.

Adding a family is one module in ``models/families/`` that defines ``FAMILY`` (see
``models.families.base.ModelFamily``), its line in ``FAMILIES`` below, its tests and its
``models.<name>`` section in ``params.yaml``. Everything else -- the ``models`` config
section, ``train.models`` and ``registry.candidate`` choices, the factory, tuning, explanation,
registration, the report and the service -- reads it from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import create_model
from sklearn.pipeline import Pipeline

from features.schema import FrozenModel
from models.explain.additive import split_pipeline
from models.families.base import ModelFamily
from models.families.lightgbm import FAMILY as LIGHTGBM
from models.families.logistic import FAMILY as LOGISTIC
from models.families.scorecard import FAMILY as SCORECARD

FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (LIGHTGBM, LOGISTIC, SCORECARD)}


def get_family(name: str) -> ModelFamily:
    """The family called ``name``; an unknown name fails with the known ones."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; known families: {sorted(FAMILIES)}")
    return FAMILIES[name]


def family_of_config(config: FrozenModel) -> ModelFamily:
    """The family whose ``params.yaml`` section ``config`` is."""
    for family in FAMILIES.values():
        if isinstance(config, family.config_type):
            return family
    raise TypeError(f"{type(config).__name__} is no model family's config")


def family_of(pipeline: Pipeline | Any) -> ModelFamily:
    """The family of a fitted ``build_model_pipeline`` object (calibrated or not)."""
    features, model = split_pipeline(pipeline)
    encoder = features.named_steps["encode"]
    for family in FAMILIES.values():
        if family.owns(encoder, model):
            return family
    raise TypeError(
        f"no model family owns a {type(encoder).__name__} -> {type(model).__name__} pipeline; "
        f"known families: {sorted(FAMILIES)}"
    )


def trusted_types() -> list[str]:
    """Every type skops must trust to load a version of any family."""
    return sorted({t for family in FAMILIES.values() for t in family.trusted_types})


class ModelsSection(FrozenModel):
    """The ``models`` section: one field per family, named after it (built below)."""

    def get(self, name: str) -> FrozenModel:
        config: FrozenModel = getattr(self, get_family(name).name)
        return config


if TYPE_CHECKING:
    ModelsConfig = ModelsSection
else:  # one field per registered family, each defaulting to the family's own defaults
    ModelsConfig = create_model(
        "ModelsConfig",
        __base__=ModelsSection,
        __doc__="One entry per model family; ``train.models`` picks which ones run.",
        **{name: (f.config_type, f.config_type()) for name, f in FAMILIES.items()},
    )
