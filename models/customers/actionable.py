"""Which changes a customer can make: the ``customer_report`` configuration and the moves it
allows, per feature.

``customer_report.actionable`` declares, per feature: for a number, the direction it may move
(``decrease``, ``increase`` or ``any``; the candidates are the current value scaled by
``NUMERIC_FACTORS``); for a category, the levels the customer may move to (``levels``; with a
direction they are listed lowest first and a move only goes that way along them -- a customer
whose level is not listed may move to any of them) or the levels never to suggest
(``exclude_levels``). A feature that is not declared is never changed; the old form, a plain
list of feature names, is refused (it cannot say which way a change may go).

Never a move, whatever the declaration: to a missing or unknown level (the encoder's missing
bin, or a level whose name says unknown or missing, such as German Credit's "unknown/ no
savings account"; listing one in ``levels`` is an error), and, unless listed in ``levels``,
to a level that means having none of the thing ("no checking account", "none"): closing an
account or dropping a guarantor to look less risky is not advice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from features.schema import DatasetSchema, FrozenModel
from features.transformers import MISSING

NUMERIC_FACTORS = (0.5, 0.75, 1.25, 1.5)
UNKNOWN_LEVEL = re.compile(r"\b(unknown|missing|not known)\b", re.IGNORECASE)
NONE_LEVEL = re.compile(r"^\W*(no|none)\b", re.IGNORECASE)  # "no checking account", "none"
LIST_REFUSED = (
    "a list of feature names is no longer accepted, because it cannot say which changes a "
    "customer can make; give each feature its allowed change instead, e.g. "
    "'credit_amount: {direction: decrease}' for a number or "
    "'savings_account_and_bonds: {direction: increase, levels: [lowest, ..., highest]}' for "
    "a category (see the customer_report section of the bundled params.yaml)"
)
Direction = Literal["decrease", "increase", "any"]


class ActionableChange(FrozenModel):
    """The changes a customer can make to one feature (``customer_report.actionable.<name>``).

    ``direction``: for a number, which way it may move; for a category, which way along
    ``levels`` (then listed lowest first). ``levels``: the levels a category may move to.
    ``exclude_levels``: or else, the levels never to suggest (every other known level may be).
    """

    direction: Direction = "any"
    levels: tuple[str, ...] | None = Field(default=None, min_length=1)
    exclude_levels: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check_levels(self) -> ActionableChange:
        if self.levels is not None and self.exclude_levels:
            raise PydanticCustomError(
                "actionable", "give either levels (allowed) or exclude_levels (refused), not both"
            )
        if self.exclude_levels and self.direction != "any":
            raise PydanticCustomError(
                "actionable",
                f"direction {self.direction!r} needs an order: list the levels a customer may "
                "move to in levels, lowest first, instead of exclude_levels",
            )
        if self.levels is not None and len(set(self.levels)) != len(self.levels):
            raise PydanticCustomError(
                "actionable", f"a level is listed twice in levels: {list(self.levels)}"
            )
        return self


class CustomerReportConfig(FrozenModel):
    """``customer_report`` in params.yaml: per feature, the changes a customer can make. A
    feature not listed is never suggested; nothing listed, no suggestions."""

    actionable: dict[str, ActionableChange] = Field(default_factory=dict)

    @field_validator("actionable", mode="before")
    @classmethod
    def _refuse_feature_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            raise PydanticCustomError("actionable_list", LIST_REFUSED)
        return value


def check_actionable(
    actionable: Mapping[str, ActionableChange],
    schema: DatasetSchema,
    categories: dict[str, list[str]],
) -> None:
    """Refuse a declaration the model cannot honour (a feature it does not use, a level it was
    not trained on, an unknown level offered as a move), naming each key at fault."""
    problems = [
        problem
        for feature, change in actionable.items()
        for problem in feature_problems(feature, change, schema, categories.get(feature, []))
    ]
    if problems:
        raise ValueError(
            "customer_report.actionable does not fit the model:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def feature_problems(
    feature: str, change: ActionableChange, schema: DatasetSchema, known: list[str]
) -> list[str]:
    key = f"customer_report.actionable.{feature}"
    if feature in schema.excluded:
        return [f"{key}: left out of the models (data.excluded), so never advice"]
    if feature not in schema.features:
        return [f"{key}: not a model feature (data.numeric or data.categorical)"]
    if feature not in schema.categorical:
        if change.levels is not None or change.exclude_levels:
            return [f"{key}: a number has no levels; give only a direction"]
        return []
    problems = []
    if change.direction != "any" and change.levels is None:
        problems.append(
            f"{key}: direction {change.direction!r} on a category needs its levels, lowest first"
        )
    for name, listed in (
        ("levels", change.levels or ()),
        ("exclude_levels", change.exclude_levels),
    ):
        for level in listed:
            if level not in known:
                problems.append(
                    f"{key}.{name}: the model knows no level {level!r}; its levels: {known}"
                )
            elif name == "levels" and UNKNOWN_LEVEL.search(level):
                problems.append(
                    f"{key}.levels: {level!r} is an unknown level, and becoming unknown is not "
                    "a change to advise: remove it"
                )
    return problems


def number_moves(value: Any, direction: Direction) -> list[Any]:
    """The current number scaled by ``NUMERIC_FACTORS`` (rounded if it is a whole number), only
    the allowed way. A positive number stays positive: a loan of 0 months is no loan."""
    if value is None or pd.isna(value):
        return []
    integral = float(value).is_integer()
    options = [round(value * f) if integral else value * f for f in NUMERIC_FACTORS]
    wanted = {"decrease": -1, "increase": 1, "any": 0}[direction]
    return [
        v
        for v in dict.fromkeys(options)
        if v != value and (v > 0 if value > 0 else v >= 0) and wanted in (0, np.sign(v - value))
    ]


def category_moves(value: Any, change: ActionableChange, known: Sequence[str]) -> list[str]:
    """The levels a customer at ``value`` may move to (see the module docstring)."""
    current = None if value is None or pd.isna(value) else str(value)
    if change.levels is None:
        refused = {*change.exclude_levels, MISSING, current}
        return [
            level
            for level in known
            if level not in refused
            and not UNKNOWN_LEVEL.search(level)
            and not NONE_LEVEL.search(level)
        ]
    order = list(change.levels)
    if change.direction != "any" and current in order:
        at = order.index(current)
        order = order[at + 1 :] if change.direction == "increase" else order[:at]
    return [level for level in order if level != current]
