"""Issue 7 end to end on a real registered version: strategies in every output, scoring runs
with early-warning alerts, and the customer risk report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from registry_support import NewProject, register_fitted
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ProjectConfig
from experiments.io import current_umask

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


def report_key(customer_id: str) -> str:
    """The report's file name stem: the keyed hash the audit trail uses (development secret)."""
    from serving.settings import DEVELOPMENT_SECRET
    from serving.stores.audit import hash_customer_id

    return str(hash_customer_id(customer_id, DEVELOPMENT_SECRET.encode()))


def test_customer_report_has_score_tier_strategy_and_factors(project: Path) -> None:
    code, output = customer_report(project, "C0003", "--out-dir", str(project / "report"))
    assert code == 0, output
    key = report_key("C0003")
    report = json.loads((project / f"report/{key}.json").read_text())
    assert {"score", "pd", "tier", "strategy", "risk_factors", "improvements"} <= set(report)
    assert report["risk_factors"] and all("raises risk" in f for f in report["risk_factors"])
    assert report["recommended_actions"] == report["strategy"]["actions"]
    assert report["customer_hash"] == key
    html = (project / f"report/{key}.html").read_text()
    for section in ("summary", "strategy", "risk-factors", "improvements", "history"):
        assert f'<section id="{section}">' in html
    assert "C0003" not in html and "C0003" not in json.dumps(report)  # no clear id is written


def test_customer_reports_are_one_pair_per_customer_named_by_hashed_id(project: Path) -> None:
    folder = project / "customer-reports"
    outputs = [customer_report(project, c, "--out-dir", str(folder)) for c in ("C0010", "C0011")]
    assert [code for code, _ in outputs] == [0, 0], outputs
    keys = [report_key("C0010"), report_key("C0011")]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{key}.{kind}" for key in keys for kind in ("html", "json")
    )  # the first customer's files are still there, and no name shows a clear id
    assert outputs[1][1].rstrip().endswith(f"-> {folder / keys[1]}.html")  # the path printed
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def test_unknown_customer_is_a_clear_error(project: Path) -> None:
    code, output = customer_report(project, "nobody")
    assert code == 1
    assert "no customer with customer_id = 'nobody'" in output and "Traceback" not in output


def score_run(project: Path, source: Path, output: Path) -> tuple[int, str]:
    args = ["--input", str(source), "--output", str(output), "--id-column", "customer_id"]
    return cli(project, "score", *args, "--no-reasons")


def expected_alerts(
    before: pd.DataFrame | None, after: pd.DataFrame, drop: int, ceiling: float
) -> set[tuple[str, str]]:
    """From the scored files, by plain loops (row i is customer ``C{i:04d}`` in both): a
    condition is raised in the run where it starts to hold (``before`` None: the first run)."""
    found = set()
    for i in range(len(after)):
        new, old = after.iloc[i], None if before is None else before.iloc[i]
        customer = f"C{i:04d}"
        if old is not None and RANK[new["tier"]] > RANK[old["tier"]]:
            found.add((customer, "tier_migration"))
        if old is not None and old["score"] - new["score"] >= drop:
            found.add((customer, "score_drop"))
        if new["pd"] >= ceiling and (old is None or old["pd"] < ceiling):
            found.add((customer, "pd_ceiling"))
        if new["tier"] == "high" and (old is None or old["tier"] != "high"):
            found.add((customer, "entered_high_tier"))
    return found


def scored_file(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("row_number").reset_index(drop=True)


def stored_run(output: str) -> str:
    """The run id that ``riskgrade score`` printed."""
    match = re.search(r"stored run ([0-9a-f-]{36}) ", output)
    assert match is not None, output
    return match.group(1)


def test_two_scoring_runs_raise_the_expected_alerts(
    project: Path, project_config: ProjectConfig
) -> None:
    rules = project_config.monitoring.alerts
    customers = project / "customers.csv"
    code, first_output = score_run(project, customers, project / "run1.parquet")
    assert code == 0, first_output
    before = scored_file(project / "run1.parquet")
    first = expected_alerts(None, before, rules.score_drop_points, rules.pd_ceiling)
    assert {kind for _, kind in first} == {"pd_ceiling", "entered_high_tier"}
    assert (
        f"(80 customers, none scored before: alerts on the current state): "
        f"{len(first)} alert(s), {len(first)} high, 0 medium\n"
    ) in first_output
    worse = pd.read_csv(customers)
    worsened = worse.index[::5]
    worse.loc[worsened, "status_of_existing_checking_account"] = "... < 0 DM"
    worse.loc[worsened, "duration_in_month"] = worse.loc[worsened, "duration_in_month"] * 3
    worse.to_csv(project / "customers-later.csv", index=False)
    code, later = score_run(project, project / "customers-later.csv", project / "run2.parquet")
    assert code == 0, later
    assert "(80 customers, 80 scored before: compared with their last scored state)" in later
    ids = ("--ids-from", str(customers), "--id-column", "customer_id")
    code, output = cli(project, "alerts", *ids, "--csv", str(project / "alerts.csv"))
    assert code == 0, output
    after = scored_file(project / "run2.parquet")
    for tier, strategy in zip(after["tier"], after["strategy"], strict=True):  # batch output
        assert json.loads(strategy)["actions"] == list(
            yaml.safe_load((project / "params.yaml").read_text())["scorecard"]["strategies"][tier][
                "actions"
            ]
        )
    second = expected_alerts(before, after, rules.score_drop_points, rules.pd_ceiling)
    assert {kind for _, kind in second} >= {"tier_migration", "score_drop", "pd_ceiling"}
    alerts = pd.read_csv(project / "alerts.csv")
    found = {
        run: set(zip(rows["customer_id"], rows["alert"], strict=True))
        for run, rows in alerts.groupby("run_id")
    }
    assert found == {stored_run(first_output): first, stored_run(later): second}
    code, output = cli(project, "alerts", "--csv", str(project / "hashed.csv"))
    assert code == 0, output
    assert "C00" not in (project / "hashed.csv").read_text()  # without --ids-from: hashes only


def test_customer_report_lists_past_scores(project: Path) -> None:
    code, output = customer_report(project, "C0005", "--out-dir", str(project / "report5"))
    assert code == 0, output
    report = json.loads((project / f"report5/{report_key('C0005')}.json").read_text())
    assert len(report["history"]) == 2  # the two scoring runs of the previous test


def test_scoring_an_unchanged_file_again_raises_nothing(project: Path) -> None:
    later = project / "customers-later.csv"  # scored by the two-runs test
    code, output = score_run(project, later, project / "run3.parquet")
    assert code == 0, output
    assert (
        "(80 customers, 80 scored before: compared with their last scored state): "
        "0 alert(s), 0 high, 0 medium\n"
    ) in output
