"""Issue 7 end to end on a real registered version: strategies in every output, scoring runs
with early-warning alerts, and the customer risk report."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from registry_support import NewProject, register_fitted
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig

NAME = "portfolio-credit"
RANK = {"low": 0, "medium": 1, "high": 2}


@pytest.fixture(scope="module")
def project(new_project: NewProject, project_config: ProjectConfig) -> Path:
    """params.yaml (with a changed high-tier strategy), a champion, and a customers file."""
    strategies = project_config.scorecard.model_dump(mode="json")["strategies"]
    strategies["high"]["actions"] = ["call the customer within a week"]
    changes = {"scorecard": {"strategies": strategies}}
    root, config, parts = new_project(NAME, changes)
    schema = config.data
    register_fitted(config, config.models.logistic, parts["train"], champion=True)
    customers = parts["test"][schema.features].head(80).reset_index(drop=True)
    customers.insert(0, "customer_id", [f"C{i:04d}" for i in range(len(customers))])
    customers.to_csv(root / "customers.csv", index=False)
    return root


def cli(root: Path, *args: str) -> tuple[int, str]:
    register_commands()
    common = ["--params", str(root / "params.yaml"), "--project-dir", str(root)]
    env = {"RISKGRADE_AUDIT_URL": f"sqlite:///{root / 'audit.db'}"}
    result = CliRunner().invoke(app, [*args, *common], env=env)
    return result.exit_code, result.output


def customer_report(project: Path, customer_id: str, *options: str) -> tuple[int, str]:
    """``riskgrade customer-report`` of one customer of customers.csv, with ``options``."""
    source = ["--input", str(project / "customers.csv"), "--id-column", "customer_id"]
    return cli(project, "customer-report", *source, "--id", customer_id, *options)


def test_pyfunc_output_carries_the_configured_strategy(project: Path) -> None:
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    rows = pd.read_csv(project / "customers.csv").drop(columns="customer_id")
    scored = model.predict(rows, params={"reason_codes": 0})
    high = scored[scored["tier"] == "high"]
    assert len(high) > 0
    strategy = json.loads(high["strategy"].iloc[0])
    assert strategy["actions"] == ["call the customer within a week"]  # from params.yaml
    low = scored[scored["tier"] == "low"]
    assert json.loads(low["strategy"].iloc[0])["actions"][0] == "eligible for limit increase"


def test_customer_report_has_score_tier_strategy_and_factors(project: Path) -> None:
    code, output = customer_report(project, "C0003", "--out-dir", str(project / "report"))
    assert code == 0, output
    report = json.loads((project / "report/customer_report.json").read_text())
    assert {"score", "pd", "tier", "strategy", "risk_factors", "improvements"} <= set(report)
    assert report["risk_factors"] and all("raises risk" in f for f in report["risk_factors"])
    assert report["recommended_actions"] == report["strategy"]["actions"]
    html = (project / "report/customer_report.html").read_text()
    for section in ("summary", "strategy", "risk-factors", "improvements", "history"):
        assert f'<section id="{section}">' in html
    assert "C0003" not in html and "C0003" not in json.dumps(report)  # no clear id is written


def test_unknown_customer_is_a_clear_error(project: Path) -> None:
    code, output = customer_report(project, "nobody")
    assert code == 1
    assert "no customer with customer_id = 'nobody'" in output and "Traceback" not in output


def score_run(project: Path, source: Path, output: Path) -> tuple[int, str]:
    args = ["--input", str(source), "--output", str(output), "--id-column", "customer_id"]
    return cli(project, "score", *args, "--no-reasons")


def expected_alerts(before: pd.DataFrame, after: pd.DataFrame, drop: int, ceiling: float) -> set:
    """From the two scored files, by plain loops (row i is the same customer in both)."""
    found = set()
    for i in range(len(after)):
        old, new = before.iloc[i], after.iloc[i]
        if RANK[new["tier"]] > RANK[old["tier"]]:
            found.add((i, "tier_migration"))
        if old["score"] - new["score"] >= drop:
            found.add((i, "score_drop"))
        if new["pd"] >= ceiling:
            found.add((i, "pd_ceiling"))
        if new["tier"] == "high" and old["tier"] != "high":
            found.add((i, "entered_high_tier"))
    return found


def test_two_scoring_runs_raise_the_expected_alerts(
    project: Path, project_config: ProjectConfig
) -> None:
    customers = project / "customers.csv"
    code, output = score_run(project, customers, project / "run1.parquet")
    assert code == 0, output
    assert "compared with none (first run): 0 alert(s)" in output
    worse = pd.read_csv(customers)
    worsened = worse.index[::5]
    worse.loc[worsened, "status_of_existing_checking_account"] = "... < 0 DM"
    worse.loc[worsened, "duration_in_month"] = worse.loc[worsened, "duration_in_month"] * 3
    worse.to_csv(project / "customers-later.csv", index=False)
    code, output = score_run(project, project / "customers-later.csv", project / "run2.parquet")
    assert code == 0, output
    code, output = cli(project, "alerts", "--csv", str(project / "alerts.csv"))
    assert code == 0, output
    before = pd.read_parquet(project / "run1.parquet").sort_values("row_number")
    after = pd.read_parquet(project / "run2.parquet").sort_values("row_number")
    for tier, strategy in zip(after["tier"], after["strategy"], strict=True):  # batch output
        assert json.loads(strategy)["actions"] == list(
            yaml.safe_load((project / "params.yaml").read_text())["scorecard"]["strategies"][tier][
                "actions"
            ]
        )
    rules = project_config.monitoring.alerts
    expected = expected_alerts(before, after, rules.score_drop_points, rules.pd_ceiling)
    assert {kind for _, kind in expected} >= {"tier_migration", "score_drop"}
    alerts = pd.read_csv(project / "alerts.csv")
    by_hash = {h: i for i, h in enumerate(hashes(project, before))}
    found = {
        (by_hash[h], kind) for h, kind in zip(alerts["customer_hash"], alerts["alert"], strict=True)
    }
    assert found == expected
    assert "C00" not in (project / "alerts.csv").read_text()  # hashed ids only


def hashes(project: Path, scored: pd.DataFrame) -> list[str]:
    from serving.settings import DEVELOPMENT_SECRET
    from serving.stores.audit import hash_customer_id

    ids = pd.read_csv(project / "customers.csv")["customer_id"]
    return [
        str(hash_customer_id(v, DEVELOPMENT_SECRET.encode())) for v in ids[scored["row_number"] - 1]
    ]


def test_customer_report_lists_past_scores(project: Path) -> None:
    code, output = customer_report(project, "C0005", "--out-dir", str(project / "report5"))
    assert code == 0, output
    report = json.loads((project / "report5/customer_report.json").read_text())
    assert len(report["history"]) == 2  # the two scoring runs of the previous test
