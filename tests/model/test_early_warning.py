"""Early-warning alerts between two scoring runs of a real model.

Some customers' features are worsened between the runs; the expected alerts are derived in
this test with plain loops over the two runs, independently of ``compare_runs``: a condition
raises an alert in the run where it starts to hold for a customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.config import ProjectConfig
from features.splitting import split_dataset
from models.factory import build_calibrated_model, fit_credit_model
from models.monitoring.early_warning import AlertConfig, compare_runs
from models.scoring.scorecard import score_customers

RANK = {"low": 0, "medium": 1, "high": 2}


@pytest.fixture(scope="module")
def runs(
    project_config: ProjectConfig, german_credit: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    schema = project_config.data
    parts = split_dataset(german_credit, schema, project_config.split, project_config.seed)
    pipeline = build_calibrated_model(
        schema, project_config.features, project_config.models.logistic,
        project_config.calibration, 0,
    )  # fmt: skip
    train = parts["train"]
    policy = fit_credit_model(
        pipeline, project_config.scorecard, train[schema.features], train[schema.target].to_numpy()
    )
    customers = parts["test"].head(60).reset_index(drop=True)
    worse = customers.copy()
    worsened = worse.index[::4]  # every fourth customer's situation deteriorates
    worse.loc[worsened, "status_of_existing_checking_account"] = "... < 0 DM"
    worse.loc[worsened, "duration_in_month"] = worse.loc[worsened, "duration_in_month"] * 3
    keys = [f"key-{i:03d}" for i in range(len(customers))]

    def score(frame: pd.DataFrame) -> pd.DataFrame:
        scored = score_customers(pipeline.predict_proba(frame[schema.features])[:, 1], policy)
        return scored.assign(customer_key=keys)

    return score(customers), score(worse)


NO_STATE = pd.DataFrame(columns=["customer_key", "pd", "score", "tier"])


def expected_alerts(
    previous: pd.DataFrame, current: pd.DataFrame, config: AlertConfig
) -> set[tuple[str, str]]:
    """Per customer: worse tier or score drop against their previous state; PD ceiling and high
    tier when they hold now but did not before (or there was no before)."""
    before = {row.customer_key: row for row in previous.itertuples()}
    expected = set()
    for row in current.itertuples():
        old = before.get(row.customer_key)
        if old is not None and RANK[row.tier] > RANK[old.tier]:
            expected.add((row.customer_key, "tier_migration"))
        if old is not None and old.score - row.score >= config.score_drop_points:
            expected.add((row.customer_key, "score_drop"))
        if row.pd >= config.pd_ceiling and (old is None or old.pd < config.pd_ceiling):
            expected.add((row.customer_key, "pd_ceiling"))
        if row.tier == "high" and (old is None or old.tier != "high"):
            expected.add((row.customer_key, "entered_high_tier"))
    return expected


def test_worsened_customers_raise_exactly_the_expected_alerts(
    runs: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    previous, current = runs
    config = AlertConfig(score_drop_points=20, pd_ceiling=0.5)
    alerts = compare_runs(previous, current, config)
    found = set(zip(alerts["customer_key"], alerts["alert"], strict=True))
    expected = expected_alerts(previous, current, config)
    assert found == expected
    kinds = {kind for _, kind in expected}
    assert {"tier_migration", "score_drop"} <= kinds  # the scenario really exercises the rules
    untouched = {f"key-{i:03d}" for i in range(60) if i % 4}
    assert not {key for key, kind in found if kind in {"tier_migration", "score_drop"}} & untouched


def test_first_run_raises_the_current_state(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, current = runs
    config = AlertConfig(score_drop_points=20, pd_ceiling=0.3)
    alerts = compare_runs(NO_STATE, current, config)
    expected = {(r.customer_key, "pd_ceiling") for r in current.itertuples() if r.pd >= 0.3} | {
        (r.customer_key, "entered_high_tier") for r in current.itertuples() if r.tier == "high"
    }
    assert {kind for _, kind in expected} == {"pd_ceiling", "entered_high_tier"}
    assert set(zip(alerts["customer_key"], alerts["alert"], strict=True)) == expected
    assert len(alerts) == len(expected)


def test_identical_runs_raise_nothing(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, current = runs
    config = AlertConfig(score_drop_points=1, pd_ceiling=0.3)
    assert (current["pd"] >= 0.3).any() and (current["tier"] == "high").any()  # conditions hold
    assert compare_runs(current, current, config).empty  # ... but none of them starts now


def test_new_customers_in_high_tier_are_flagged(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    previous, current = runs
    newcomer = current[current["tier"] == "high"].head(1).assign(customer_key="new-customer")
    alerts = compare_runs(previous, pd.concat([current, newcomer]), AlertConfig())
    row = alerts[alerts["customer_key"] == "new-customer"]
    assert "entered_high_tier" in set(row["alert"])
    assert "not scored before -> high" in set(row["detail"])


def test_duplicate_keys_are_refused(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    previous, current = runs
    with pytest.raises(ValueError, match="current run has duplicate customer keys"):
        compare_runs(previous, pd.concat([current, current.head(1)]), AlertConfig())


def test_severity_is_high_for_moves_into_high_tier(runs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    previous, current = runs
    alerts = compare_runs(previous, current, AlertConfig(score_drop_points=20))
    migrations = alerts[alerts["alert"] == "tier_migration"]
    assert len(migrations) > 0
    assert (
        np.where(migrations["tier"] == "high", "high", "medium") == migrations["severity"]
    ).all()
