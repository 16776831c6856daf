"""Scoring runs recorded as ``riskgrade score`` records them, then ``riskgrade alerts``: which
alerts each run raises (expected alerts written out by hand from the scenario below) and the
clear ids shown from the user's own file, never stored.

Scenario (PD ceiling 0.5, score drop 30 points), customers ``00731`` (digits: a CSV must keep
its leading zeros), ``KX-1``, ``KX-2``, ``KX-3``:
- jan: 00731 high with PD 0.70, KX-2 medium with PD 0.55 -> first run: the current state;
- jan again, unchanged -> nothing;
- feb: 00731 absent; KX-1 low -> medium, 640 -> 600 -> migration and score drop;
- mar: 00731 back unchanged -> nothing; KX-2 falls below the ceiling -> nothing;
- apr: KX-2 back above the ceiling -> raised again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.portfolio.runs import record_scored_file
from models.monitoring.early_warning import AlertConfig

SECRET = "a-test-secret-of-at-least-32-characters"
CONFIG = AlertConfig(score_drop_points=30, pd_ceiling=0.5)
# month -> {customer id: (pd, score, tier)}
MONTHS = {
    "jan": {
        "00731": (0.70, 480, "high"), "KX-1": (0.20, 640, "low"),
        "KX-2": (0.55, 520, "medium"), "KX-3": (0.10, 700, "low"),
    },
    "feb": {
        "KX-1": (0.35, 600, "medium"), "KX-2": (0.55, 520, "medium"), "KX-3": (0.10, 700, "low"),
    },
    "mar": {
        "00731": (0.70, 480, "high"), "KX-1": (0.35, 600, "medium"),
        "KX-2": (0.45, 540, "medium"), "KX-3": (0.10, 700, "low"),
    },
    "apr": {
        "00731": (0.70, 480, "high"), "KX-1": (0.35, 600, "medium"),
        "KX-2": (0.58, 515, "medium"), "KX-3": (0.10, 700, "low"),
    },
}  # fmt: skip
RUNS = ["jan", "jan", "feb", "mar", "apr"]
EXPECTED = [
    {("00731", "entered_high_tier"), ("00731", "pd_ceiling"), ("KX-2", "pd_ceiling")},
    set(),
    {("KX-1", "tier_migration"), ("KX-1", "score_drop")},
    set(),
    {("KX-2", "pd_ceiling")},
]


def write_month(root: Path, month: str) -> tuple[Path, Path]:
    """The customers file and its scored output (rows in reverse order, as row_number says)."""
    customers = MONTHS[month]
    source = root / f"{month}.csv"
    # ids as digits and text: a reader that parsed numbers would turn 00731 into 731
    pd.DataFrame({"customer_id": list(customers), "segment": "retail"}).to_csv(source, index=False)
    rows = [(i + 1, *state) for i, state in enumerate(customers.values())][::-1]
    output = root / f"{month}.scored.parquet"
    pd.DataFrame(rows, columns=["row_number", "pd", "score", "tier"]).to_parquet(output)
    return source, output


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The five runs recorded in a fresh store; (folder, what each run returned)."""
    root = tmp_path_factory.mktemp("alerts")
    url = f"sqlite:///{root / 'audit.db'}"
    records = [
        record_scored_file(
            url, ("credit", "1"), write_month(root, month), "customer_id", SECRET.encode(), CONFIG
        )
        for month in RUNS
    ]
    return root, records


def alerts_cli(root: Path, *args: str) -> tuple[int, str]:
    register_commands()
    env = {
        "RISKGRADE_AUDIT_URL": f"sqlite:///{root / 'audit.db'}",
        "RISKGRADE_CUSTOMER_ID_SECRET": SECRET,
        "RISKGRADE_MODEL_NAME": "credit",
        "RISKGRADE_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
    }
    result = CliRunner().invoke(app, ["alerts", *args, "--project-dir", str(root)], env=env)
    return result.exit_code, result.output


def by_id(source: Path) -> tuple[str, ...]:
    return ("--ids-from", str(source), "--id-column", "customer_id")


def test_each_run_raises_alerts_where_conditions_start(recorded: tuple[Path, list]) -> None:
    root, records = recorded
    code, _ = alerts_cli(root, *by_id(root / "jan.csv"), "--csv", str(root / "all.csv"))
    assert code == 0
    exported = pd.read_csv(root / "all.csv", dtype={"customer_id": str})
    for record, expected in zip(records, EXPECTED, strict=True):
        in_run = exported[exported["run_id"] == record.run_id]
        assert set(zip(in_run["customer_id"], in_run["alert"], strict=True)) == expected
        assert len(record.alerts) == len(expected)
    assert [r.n_known for r in records] == [0, 4, 3, 4, 4]  # customers scored before each run


def test_the_export_shows_clear_ids_and_exact_details(recorded: tuple[Path, list]) -> None:
    root, records = recorded
    target = root / "april.csv"
    code, output = alerts_cli(
        root, "--run", records[4].run_id, "--ids-from", str(root / "jan.csv"),
        "--id-column", "customer_id", "--csv", str(target),
    )  # fmt: skip
    assert code == 0, output
    exported = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert list(exported.columns) == [
        "run_id", "previous_run_id", "customer_hash", "customer_id", "alert", "severity",
        "previous_tier", "tier", "previous_score", "score", "pd", "detail",
    ]  # fmt: skip
    row = exported.iloc[0].to_dict()
    assert len(exported) == 1
    assert {k: row[k] for k in ("customer_id", "alert", "severity", "detail")} == {
        "customer_id": "KX-2",
        "alert": "pd_ceiling",
        "severity": "high",
        "detail": "PD 0.580 >= ceiling 0.5",
    }
    assert row["previous_run_id"] == records[3].run_id  # compared with March's state
    assert "KX-2" in output and "matched no id" not in output


def test_an_absent_customer_is_compared_with_their_last_state(recorded: tuple[Path, list]) -> None:
    root, records = recorded
    code, _ = alerts_cli(root, *by_id(root / "jan.csv"), "--csv", str(root / "x.csv"))
    exported = pd.read_csv(root / "x.csv", dtype=str)
    assert code == 0
    assert set(exported.loc[exported["customer_id"] == "00731", "run_id"]) == {records[0].run_id}


def test_ids_missing_from_the_file_are_counted(recorded: tuple[Path, list]) -> None:
    root, _ = recorded
    source = root / "feb.csv"  # has no 00731: its two alerts match nothing
    code, output = alerts_cli(root, *by_id(source), "--csv", str(root / "feb.alerts.csv"))
    assert code == 0, output
    assert output.splitlines()[-1] == f"2 alert(s) matched no id in {source}"
    exported = pd.read_csv(root / "feb.alerts.csv", dtype=str, keep_default_na=False)
    assert sorted(exported["customer_id"]) == ["", "", "KX-1", "KX-1", "KX-2", "KX-2"]


def test_ids_from_a_parquet_file(recorded: tuple[Path, list]) -> None:
    root, _ = recorded
    pd.read_csv(root / "jan.csv", dtype=str).to_parquet(root / "ids.parquet")
    code, output = alerts_cli(root, *by_id(root / "ids.parquet"), "--csv", str(root / "p.csv"))
    assert code == 0, output
    assert set(pd.read_csv(root / "p.csv", dtype=str)["customer_id"]) == {"00731", "KX-1", "KX-2"}


def test_without_ids_from_only_hashes_are_exported(recorded: tuple[Path, list]) -> None:
    root, _ = recorded
    code, output = alerts_cli(root, "--csv", str(root / "hashed.csv"))
    assert code == 0, output
    text = (root / "hashed.csv").read_text()
    assert "customer_id" not in text and "KX-" not in text and "KX-" not in output
    assert output.splitlines()[0].strip() == "6 alert(s)"


def test_clear_ids_are_never_stored(recorded: tuple[Path, list]) -> None:
    root, _ = recorded
    alerts_cli(root, *by_id(root / "jan.csv"))
    stored = b"".join(p.read_bytes() for p in root.glob("audit.db*"))
    assert b"KX-" not in stored  # (not hex: cannot appear inside a hash or a run id)


def test_the_id_column_defaults_to_data_id_column(
    recorded: tuple[Path, list], repo_root: Path
) -> None:
    root, _ = recorded
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["data"]["id_column"] = "customer_id"
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    ids = ("--ids-from", str(root / "jan.csv"), "--csv", str(root / "d.csv"))
    code, output = alerts_cli(root, *ids, "--params", str(root / "params.yaml"))
    assert code == 0, output
    assert set(pd.read_csv(root / "d.csv", dtype=str)["customer_id"]) == {"00731", "KX-1", "KX-2"}
    code, output = alerts_cli(root, *ids, "--params", str(repo_root / "params.yaml"))
    assert (code, output) == (
        1,
        f"error: --ids-from {root / 'jan.csv'} needs --id-column "
        f"(data.id_column is not set in {repo_root / 'params.yaml'})\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--ids-from", "{root}/nowhere.csv", "--id-column", "customer_id"),
            "--ids-from {root}/nowhere.csv: file not found",
        ),
        (
            ("--ids-from", "{root}/jan.csv", "--id-column", "client"),
            "--ids-from {root}/jan.csv: id column 'client' not found "
            "(columns: ['customer_id', 'segment'])",
        ),
        (("--id-column", "customer_id"), "--id-column needs --ids-from FILE"),
    ],
)
def test_bad_id_options_are_one_line_errors(
    recorded: tuple[Path, list], args: tuple[str, ...], message: str
) -> None:
    root, _ = recorded
    code, output = alerts_cli(root, *(a.format(root=root) for a in args))
    assert code == 1
    assert output == f"error: {message.format(root=root)}\n"
