"""Customer report advice: only changes a customer can make (``customer_report.actionable``).

The model here is a constructed score function over real German Credit rows, so that the move
a model would like best -- becoming "unknown" on savings, closing the checking account, a
longer loan -- is known, and the advice must still never propose it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError, ProjectConfig, parse_config
from features.schema import DatasetSchema
from models.customers.actionable import (
    ActionableChange,
    CustomerReportConfig,
    Direction,
    category_moves,
    check_actionable,
    number_moves,
)
from models.customers.improvement import suggest_improvements
from models.scoring.scorecard import ScoringPolicy

SAVINGS = "savings_account_and_bonds"
CHECKING = "status_of_existing_checking_account"
UNKNOWN_SAVINGS = "unknown/ no savings account"
NO_CHECKING = "no checking account"
OVERDRAWN, LOW, HIGH = (
    "... < 0 DM",
    "0 <= ... < 200 DM",
    "... >= 200 DM / salary assignments for at least 1 year",
)
# PD bonus per level: the constructed model likes "unknown" savings and no checking account
# best of all, as German Credit's default rates do (17% and 12%).
BONUS = {
    UNKNOWN_SAVINGS: 0.30,
    "... >= 1000 DM": 0.10,
    "500 <= ... < 1000 DM": 0.08,
    "100 <= ... < 500 DM": 0.04,
    NO_CHECKING: 0.30,
    HIGH: 0.10,
    LOW: 0.05,
}


def constructed_pd(rows: pd.DataFrame) -> np.ndarray:
    """0.6, less the level bonuses, plus 0.002 per month *less* duration (a longer loan looks
    safer to this model, so only a direction rule keeps it from advising one)."""
    bonus = rows[SAVINGS].map(BONUS).fillna(0.0) + rows[CHECKING].map(BONUS).fillna(0.0)
    duration = rows["duration_in_month"].astype(float)
    return np.clip(0.6 - bonus.to_numpy() - 0.002 * (duration.to_numpy() - 24), 0.01, 0.99)


@pytest.fixture(scope="module")
def schema(project_config: ProjectConfig) -> DatasetSchema:
    return project_config.data


@pytest.fixture(scope="module")
def categories(german_credit: pd.DataFrame, schema: DatasetSchema) -> dict[str, list[str]]:
    """The levels a model trained on German Credit knows (what ``known_categories`` reads)."""
    return {c: sorted(german_credit[c].dropna().astype(str).unique()) for c in schema.categorical}


@pytest.fixture(scope="module")
def customer(german_credit: pd.DataFrame) -> pd.Series:
    """A real applicant with less than 100 DM saved and an overdrawn checking account."""
    rows = german_credit[
        (german_credit[SAVINGS] == "... < 100 DM") & (german_credit[CHECKING] == OVERDRAWN)
    ]
    return rows.iloc[0].copy()


def advise(
    customer: pd.Series,
    schema: DatasetSchema,
    categories: dict[str, list[str]],
    actionable: dict[str, Any],
) -> dict[str, Any]:
    """The suggested value per feature, for ``actionable`` as written in params.yaml."""
    config = CustomerReportConfig.model_validate({"actionable": actionable})
    suggestions = suggest_improvements(
        constructed_pd, customer, schema, categories, ScoringPolicy(), config.actionable, top=10
    )
    return {s["feature"]: s["suggested_value"] for s in suggestions}


def with_value(customer: pd.Series, column: str, value: Any) -> pd.DataFrame:
    return customer.to_frame().T.assign(**{column: value})


def test_the_constructed_model_would_rather_the_customer_had_unknown_savings(
    customer: pd.Series, categories: dict[str, list[str]]
) -> None:
    pds = {
        level: constructed_pd(with_value(customer, SAVINGS, level))[0]
        for level in categories[SAVINGS]
    }
    assert min(pds, key=pds.__getitem__) == UNKNOWN_SAVINGS


@pytest.mark.parametrize(
    ("savings", "advised"),
    [
        ({}, "... >= 1000 DM"),  # any level the data has, but never an unknown one
        ({"exclude_levels": ["... >= 1000 DM"]}, "500 <= ... < 1000 DM"),
        ({"levels": ["500 <= ... < 1000 DM", "... >= 1000 DM"]}, "... >= 1000 DM"),
    ],
    ids=["any-level", "exclude-levels", "levels"],
)
def test_savings_never_move_to_unknown_whatever_the_declaration(
    customer: pd.Series,
    schema: DatasetSchema,
    categories: dict[str, list[str]],
    savings: dict[str, Any],
    advised: str,
) -> None:
    assert advise(customer, schema, categories, {SAVINGS: savings})[SAVINGS] == advised


def test_the_shipped_declaration_advises_saving_more_not_giving_accounts_up(
    customer: pd.Series,
    schema: DatasetSchema,
    categories: dict[str, list[str]],
    project_config: ProjectConfig,
) -> None:
    actionable = project_config.customer_report.model_dump(mode="json")["actionable"]
    advice = advise(customer, schema, categories, actionable)
    assert advice[SAVINGS] == "... >= 1000 DM"
    assert advice[CHECKING] == HIGH
    assert "duration_in_month" not in advice  # shorter loans raise this model's PD
    assert set(advice) <= set(actionable)


def test_a_customer_at_the_top_of_the_order_gets_no_move_down(
    customer: pd.Series, schema: DatasetSchema, categories: dict[str, list[str]]
) -> None:
    rich = customer.copy()
    rich[SAVINGS] = "... >= 1000 DM"
    order = ["... < 100 DM", "100 <= ... < 500 DM", "500 <= ... < 1000 DM", "... >= 1000 DM"]
    upward = {SAVINGS: {"direction": "increase", "levels": order}}
    assert SAVINGS not in advise(rich, schema, categories, upward)


@pytest.mark.parametrize(
    ("current", "change", "moves"),
    [
        (OVERDRAWN, {}, [HIGH, LOW]),
        (LOW, {"exclude_levels": [OVERDRAWN]}, [HIGH]),
        (LOW, {"levels": [NO_CHECKING]}, [NO_CHECKING]),  # listed by name: allowed
        (LOW, {"direction": "decrease", "levels": [OVERDRAWN, LOW, HIGH]}, [OVERDRAWN]),
        (NO_CHECKING, {"direction": "increase", "levels": [OVERDRAWN, LOW]}, [OVERDRAWN, LOW]),
        (None, {}, [OVERDRAWN, HIGH, LOW]),
    ],
    ids=["any", "exclude", "listed", "down-the-order", "unlisted-current", "missing-current"],
)
def test_category_moves(
    current: str | None,
    change: dict[str, Any],
    moves: list[str],
    categories: dict[str, list[str]],
) -> None:
    assert category_moves(current, ActionableChange(**change), categories[CHECKING]) == moves


@pytest.mark.parametrize(
    ("value", "direction", "moves"),
    [
        (24, "decrease", [12, 18]),
        (24, "increase", [30, 36]),
        (24, "any", [12, 18, 30, 36]),
        (1, "decrease", []),  # 0.5 rounds to 0: a positive number stays positive
        (2000.5, "decrease", [1000.25, 1500.375]),
        (np.nan, "any", []),
    ],
)
def test_number_moves_go_only_the_declared_way(
    value: float, direction: Direction, moves: list[float]
) -> None:
    assert number_moves(value, direction) == moves


@pytest.mark.parametrize(
    ("direction", "expected"), [("decrease", None), ("any", 36), ("increase", 36)]
)
def test_a_number_is_suggested_only_in_its_declared_direction(
    customer: pd.Series,
    schema: DatasetSchema,
    categories: dict[str, list[str]],
    direction: str,
    expected: int | None,
) -> None:
    loan = customer.copy()
    loan["duration_in_month"] = 24
    advice = advise(loan, schema, categories, {"duration_in_month": {"direction": direction}})
    assert advice.get("duration_in_month") == expected  # the model prefers longer loans


def test_nothing_declared_means_no_advice(
    customer: pd.Series, schema: DatasetSchema, categories: dict[str, list[str]]
) -> None:
    assert advise(customer, schema, categories, {}) == {}


def test_the_old_list_of_feature_names_is_refused_with_its_key(
    project_config: ProjectConfig,
) -> None:
    raw = project_config.model_dump(mode="json")
    raw["customer_report"]["actionable"] = ["duration_in_month", "credit_amount"]
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert str(caught.value) == (
        "params.yaml: invalid configuration:\n"
        "  - customer_report.actionable: a list of feature names is no longer accepted, "
        "because it cannot say which changes a customer can make; give each feature its "
        "allowed change instead, e.g. 'credit_amount: {direction: decrease}' for a number or "
        "'savings_account_and_bonds: {direction: increase, levels: [lowest, ..., highest]}' "
        "for a category (see the customer_report section of the bundled params.yaml)"
    )


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"levels": ["guarantor"], "exclude_levels": ["none"]}, "",
         "give either levels (allowed) or exclude_levels (refused), not both"),
        ({"direction": "increase", "exclude_levels": ["none"]}, "",
         "direction 'increase' needs an order: list the levels a customer may move to in "
         "levels, lowest first, instead of exclude_levels"),
        ({"levels": ["guarantor", "guarantor"]}, "",
         "a level is listed twice in levels: ['guarantor', 'guarantor']"),
        ({"levels": []}, ".levels", "Tuple should have at least 1 item after validation, not 0"),
        ({"direction": "up"}, ".direction", "Input should be 'decrease', 'increase' or 'any'"),
    ],
    ids=["both", "direction-without-order", "twice", "no-levels", "bad-direction"],
)  # fmt: skip
def test_an_inconsistent_declaration_is_refused_with_its_key(
    project_config: ProjectConfig, change: dict[str, Any], key: str, message: str
) -> None:
    raw = project_config.model_dump(mode="json")
    raw["customer_report"]["actionable"] = {"other_debtors_or_guarantors": change}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert str(caught.value).splitlines()[1:] == [
        f"  - customer_report.actionable.other_debtors_or_guarantors{key}: {message}"
    ]


def test_a_declaration_the_model_cannot_honour_names_every_key(
    schema: DatasetSchema, categories: dict[str, list[str]]
) -> None:
    config = CustomerReportConfig.model_validate(
        {
            "actionable": {
                "income_dm": {"direction": "increase"},
                "personal_status_and_sex": {},
                "credit_amount": {"levels": ["1000"]},
                "purpose": {"direction": "decrease"},
                SAVINGS: {"levels": [UNKNOWN_SAVINGS, "... >= 100 DM"]},
                "telephone": {"exclude_levels": ["no"]},
            }
        }
    )
    with pytest.raises(ValueError) as caught:
        check_actionable(config.actionable, schema, categories)
    key = "customer_report.actionable"
    assert str(caught.value).splitlines() == [
        f"{key} does not fit the model:",
        f"  - {key}.income_dm: not a model feature (data.numeric or data.categorical)",
        f"  - {key}.personal_status_and_sex: left out of the models (data.excluded), so never "
        "advice",
        f"  - {key}.credit_amount: a number has no levels; give only a direction",
        f"  - {key}.purpose: direction 'decrease' on a category needs its levels, lowest first",
        f"  - {key}.{SAVINGS}.levels: '{UNKNOWN_SAVINGS}' is an unknown level, and becoming "
        "unknown is not a change to advise: remove it",
        f"  - {key}.{SAVINGS}.levels: the model knows no level '... >= 100 DM'; its levels: "
        f"{categories[SAVINGS]}",
        f"  - {key}.telephone.exclude_levels: the model knows no level 'no'; its levels: "
        f"{categories['telephone']}",
    ]
