"""Advice from real models trained on German Credit, with the bundled ``customer_report``
section: for every encoder a model can have, every suggestion to a held-out customer is a
change the customer can make -- numbers only down, savings and checking only up their
declared order, never to an unknown level or to having none, never a feature not declared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from experiments.config import ProjectConfig
from features.splitting import split_dataset
from models.customers.actionable import ActionableChange
from models.customers.improvement import known_categories, suggest_improvements
from models.factory import build_model_pipeline
from models.scoring.scorecard import ScoringPolicy

ENCODERS = ["lightgbm", "logistic-woe", "logistic-onehot", "scorecard"]  # one per encoder type
SAVINGS = "savings_account_and_bonds"
UNKNOWN_SAVINGS = "unknown/ no savings account"
CUSTOMERS = 25  # held-out customers per model: enough to see every declared feature move


def model_config(config: ProjectConfig, name: str) -> Any:
    family, _, encoding = name.partition("-")
    settings = config.models.get(family)
    return settings.model_copy(update={"encoding": encoding}) if encoding else settings


@pytest.fixture(scope="module")
def splits(project_config: ProjectConfig, german_credit: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return split_dataset(
        german_credit, project_config.data, project_config.split, project_config.seed
    )


@pytest.fixture(scope="module", params=ENCODERS)
def model(
    request: pytest.FixtureRequest, project_config: ProjectConfig, splits: dict[str, pd.DataFrame]
) -> Pipeline:
    schema, train = project_config.data, splits["train"]
    pipeline = build_model_pipeline(
        schema, project_config.features, model_config(project_config, request.param), 0
    )
    return pipeline.fit(train[schema.features], train[schema.target])


def is_allowed(current: Any, suggested: Any, change: ActionableChange) -> bool:
    """Whether moving from ``current`` to ``suggested`` is a change ``change`` allows."""
    if change.levels is None:  # a number, in the bundled section
        return bool(
            {"decrease": suggested < current, "increase": suggested > current}.get(
                change.direction, suggested != current
            )
        )
    order = list(change.levels)
    if suggested not in order:
        return False
    if change.direction == "any" or current not in order:
        return True
    step = order.index(suggested) - order.index(current)
    return step > 0 if change.direction == "increase" else step < 0


def test_every_suggestion_is_a_change_the_customer_can_make(
    model: Pipeline, project_config: ProjectConfig, splits: dict[str, pd.DataFrame]
) -> None:
    schema, actionable = project_config.data, project_config.customer_report.actionable
    categories = known_categories(model, schema)
    suggestions = [
        suggestion
        for _, customer in splits["test"].head(CUSTOMERS).iterrows()
        for suggestion in suggest_improvements(
            lambda X: model.predict_proba(X)[:, 1],
            customer,
            schema,
            categories,
            ScoringPolicy(),
            actionable,
            top=len(actionable),
        )
    ]
    assert len({s["feature"] for s in suggestions}) >= 3  # not vacuous
    for s in suggestions:
        change = actionable[s["feature"]]
        assert is_allowed(s["current_value"], s["suggested_value"], change), s


def test_the_model_would_lower_the_pd_by_unknown_savings_but_is_never_advised_it(
    model: Pipeline, project_config: ProjectConfig, splits: dict[str, pd.DataFrame]
) -> None:
    """Non-vacuous: for some held-out saver the model gives a lower PD at "unknown/ no savings
    account", and still no suggestion to anyone goes there."""
    schema, actionable = project_config.data, project_config.customer_report.actionable
    savers = splits["test"][splits["test"][SAVINGS] == "... < 100 DM"].head(CUSTOMERS)
    as_unknown = savers[schema.features].assign(**{SAVINGS: UNKNOWN_SAVINGS})
    lower = (
        model.predict_proba(as_unknown)[:, 1] < model.predict_proba(savers[schema.features])[:, 1]
    )
    assert np.any(lower)
    categories = known_categories(model, schema)
    for _, customer in savers[lower].head(10).iterrows():
        suggestions = suggest_improvements(
            lambda X: model.predict_proba(X)[:, 1],
            customer,
            schema,
            categories,
            ScoringPolicy(),
            {SAVINGS: actionable[SAVINGS]},
        )
        assert all(s["suggested_value"] != UNKNOWN_SAVINGS for s in suggestions)
