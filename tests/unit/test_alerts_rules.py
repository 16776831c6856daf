"""Early-warning rules on literal runs: an alert is raised in the run where its condition starts
to hold for a customer, with exact severities and texts (``compare_runs``)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.monitoring.early_warning import AlertConfig, compare_runs

CONFIG = AlertConfig(score_drop_points=30, pd_ceiling=0.5)
NO_STATE = pd.DataFrame(columns=["customer_key", "pd", "score", "tier"])


def run(*rows: tuple[str, float, int, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_key", "pd", "score", "tier"])


def raised(alerts: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    return list(
        zip(
            alerts["customer_key"],
            alerts["alert"],
            alerts["severity"],
            alerts["detail"],
            strict=True,
        )
    )


def test_first_run_raises_the_current_state() -> None:
    current = run(("a", 0.70, 480, "high"), ("b", 0.55, 520, "medium"), ("c", 0.10, 700, "low"))
    alerts = compare_runs(NO_STATE, current, CONFIG)
    assert raised(alerts) == [
        ("a", "entered_high_tier", "high", "not scored before -> high"),
        ("a", "pd_ceiling", "high", "PD 0.700 >= ceiling 0.5"),
        ("b", "pd_ceiling", "high", "PD 0.550 >= ceiling 0.5"),
    ]
    assert alerts["previous_tier"].isna().all() and alerts["previous_score"].isna().all()


def test_an_unchanged_run_raises_nothing() -> None:
    current = run(("a", 0.70, 480, "high"), ("b", 0.55, 520, "medium"), ("c", 0.10, 700, "low"))
    assert compare_runs(current, current, CONFIG).empty


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # still above the ceiling, still high: nothing new, even when the PD moves
        (("a", 0.60, 500, "high"), ("a", 0.65, 495, "high"), []),
        # crosses the ceiling: raised
        (("a", 0.45, 560, "medium"), ("a", 0.52, 550, "medium"),
         [("a", "pd_ceiling", "high", "PD 0.520 >= ceiling 0.5")]),
        # exactly at the ceiling counts as reached
        (("a", 0.40, 560, "medium"), ("a", 0.50, 555, "medium"),
         [("a", "pd_ceiling", "high", "PD 0.500 >= ceiling 0.5")]),
        # low -> medium: a migration of medium severity
        (("a", 0.05, 720, "low"), ("a", 0.20, 700, "medium"),
         [("a", "tier_migration", "medium", "low -> medium")]),
        # medium -> high: migration (high severity) and entry into the high tier
        (("a", 0.30, 600, "medium"), ("a", 0.40, 590, "high"),
         [("a", "entered_high_tier", "high", "medium -> high"),
          ("a", "tier_migration", "high", "medium -> high")]),
        # a drop of exactly the threshold is raised, medium below twice the threshold
        (("a", 0.10, 680, "low"), ("a", 0.12, 650, "low"),
         [("a", "score_drop", "medium", "score fell 30 points (680 -> 650)")]),
        # twice the threshold: high
        (("a", 0.10, 680, "low"), ("a", 0.14, 620, "low"),
         [("a", "score_drop", "high", "score fell 60 points (680 -> 620)")]),
        # one point short of the threshold, and better tiers: nothing
        (("a", 0.10, 680, "low"), ("a", 0.11, 651, "low"), []),
        (("a", 0.60, 480, "high"), ("a", 0.10, 700, "low"), []),
    ],
)  # fmt: skip
def test_each_rule_fires_where_its_condition_starts(
    before: tuple[str, float, int, str],
    after: tuple[str, float, int, str],
    expected: list[tuple[str, str, str, str]],
) -> None:
    assert raised(compare_runs(run(before), run(after), CONFIG)) == expected


def test_leaving_and_reentering_a_condition_raises_it_again() -> None:
    above, below = run(("a", 0.60, 540, "high")), run(("a", 0.30, 560, "medium"))  # 20 points
    assert [a for _, a, _, _ in raised(compare_runs(NO_STATE, above, CONFIG))] == [
        "entered_high_tier",
        "pd_ceiling",
    ]
    assert compare_runs(above, below, CONFIG).empty  # better: nothing
    again = raised(compare_runs(below, above, CONFIG))
    assert [a for _, a, _, _ in again] == ["entered_high_tier", "pd_ceiling", "tier_migration"]


def test_alerts_carry_the_previous_state_and_its_run() -> None:
    before = run(("a", 0.30, 600, "medium")).assign(run_id="run-1")
    alerts = compare_runs(before, run(("a", 0.40, 590, "high"), ("n", 0.7, 470, "high")), CONFIG)
    rows = alerts.set_index(["customer_key", "alert"])
    assert rows.loc[("a", "tier_migration"), "previous_run_id"] == "run-1"
    assert rows.loc[("a", "tier_migration"), "previous_score"] == 600
    assert rows.loc[("a", "tier_migration"), "previous_tier"] == "medium"
    assert pd.isna(rows.loc[("n", "pd_ceiling"), "previous_run_id"])


def test_duplicate_keys_are_refused() -> None:
    twice = run(("a", 0.1, 700, "low"), ("a", 0.2, 690, "low"))
    with pytest.raises(ValueError, match=r"^previous run has duplicate customer keys$"):
        compare_runs(twice, run(("a", 0.1, 700, "low")), CONFIG)
