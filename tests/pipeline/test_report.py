"""`riskgrade report` on a real registered version (fixture in conftest.py): files, sections,
tiers, gate, MLflow artifacts, and every number the HTML shows equal to the JSON's."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.reports.html import SECTION_IDS

METRICS = ("roc_auc", "gini", "ks", "brier", "log_loss")
JSON_SECTIONS = {
    "report",
    "summary",
    "data",
    "model",
    "metrics",
    "ks",
    "calibration",
    "gains",
    "score_distribution",
    "tiers",
    "stability",
    "explanations",
    "reason_codes",
    "fairness",
    "champion",
    "gate",
}
# `reported_version` (tests/pipeline/conftest.py): the challenger's report, built once.
Reported = Any


class ReportParser(HTMLParser):
    """Collects section ids, image sources and the text of every ``data-key`` cell."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.keyed: dict[str, str] = {}
        self.external: list[str] = []
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self.sections.append(attributes.get("id") or "")
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag in ("script", "link", "iframe"):
            self.external.append(tag)
        self._key = attributes.get("data-key") or self._key

    def handle_data(self, data: str) -> None:
        if self._key is not None:
            self.keyed[self._key] = data.strip()
            self._key = None


@pytest.fixture(scope="module")
def page(reported_version: Reported) -> ReportParser:
    parser = ReportParser()
    parser.feed(reported_version.html.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def numbers(reported_version: Reported) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(reported_version.json.read_text(encoding="utf-8"))
    return result


def lookup(numbers: dict[str, Any], key: str) -> Any:
    value: Any = numbers
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def test_report_writes_html_and_json_with_every_section(
    reported_version: Reported, page: ReportParser, numbers: dict[str, Any]
) -> None:
    name = reported_version.model_name
    assert f"report of {name} version 2" in reported_version.cli_output
    assert page.sections == list(SECTION_IDS)
    assert len(page.images) == 11  # roc, ks, calibration, gains, scores, 3 shap + 2 dependence,
    # fairness
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert page.external == []  # self-contained: no scripts, stylesheets or frames
    assert set(numbers) == JSON_SECTIONS
    for split in ("train", "valid", "test"):
        assert set(METRICS) <= set(numbers["metrics"][split])
    assert numbers["data"]["splits"]["test"]["n_rows"] == 200
    assert numbers["data"]["data_md5"] == numbers["model"]["lineage"]["data_md5"]
    assert numbers["model"]["family"] == "logistic" and numbers["model"]["params"]


def test_tier_default_rates_increase_from_low_to_high(numbers: dict[str, Any]) -> None:
    for split in ("train", "valid", "test"):
        rates = [row["default_rate"] for row in numbers["tiers"]["tables"][split]]
        assert [row["tier"] for row in numbers["tiers"]["tables"][split]] == [
            "low",
            "medium",
            "high",
        ]
        assert rates[0] < rates[1] < rates[2], (split, rates)
        assert numbers["tiers"]["default_rate_increases"][split] is True


def test_gate_verdict_and_champion_comparison(numbers: dict[str, Any]) -> None:
    gate = numbers["gate"]
    names = [c["name"] for c in gate["criteria"]]
    assert names[-1] == "roc_auc vs champion" and gate["champion_version"] == "1"
    assert gate["passed"] == all(c["passed"] for c in gate["criteria"])
    by_name = {c["name"]: c for c in gate["criteria"]}
    # measured by `measure` (as `riskgrade promote` does) = the report's own numbers
    assert by_name["roc_auc floor"]["value"] == pytest.approx(numbers["metrics"]["test"]["roc_auc"])
    assert by_name["score psi train vs test"]["value"] == pytest.approx(
        numbers["stability"]["score_psi"]
    )
    comparison = {row["metric"]: row for row in numbers["champion"]["metrics"]}
    assert numbers["champion"]["status"] == "compared"
    assert comparison["roc_auc"]["champion"] == pytest.approx(
        by_name["roc_auc floor"]["champion_value"]
    )


def test_every_number_shown_equals_the_json(page: ReportParser, numbers: dict[str, Any]) -> None:
    assert len(page.keyed) > 150
    for key, text in page.keyed.items():
        value = lookup(numbers, key)
        if text == "n/a":
            assert value is None, key
            continue
        shown = float(text.rstrip("%").replace(",", ""))
        decimals = len(text.rstrip("%").partition(".")[2])
        scale = 100 if text.endswith("%") else 1
        assert abs(shown - scale * value) <= 0.5 * 10**-decimals + 1e-9, (key, text, value)


def test_reason_codes_name_no_customer_and_explain_the_riskiest(numbers: dict[str, Any]) -> None:
    customers = numbers["reason_codes"]["customers"]
    assert [c["rank"] for c in customers] == [1, 2, 3, 4, 5]
    assert [c["pd"] for c in customers] == sorted((c["pd"] for c in customers), reverse=True)
    assert all(c["reasons"] and c["reasons"][0]["contribution"] > 0 for c in customers)
    assert not {"row_id", "customer_id", "id"} & {key for c in customers for key in c}
    top = {row["feature"] for row in numbers["explanations"]["importance"][:5]}
    assert "status_of_existing_checking_account" in top


def test_report_is_logged_to_the_source_run_and_tagged(
    reported_version: Reported, numbers: dict[str, Any]
) -> None:
    uri = reported_version.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version(reported_version.model_name, reported_version.version)
    report_uri = version.tags["validation_report"]
    assert (
        report_uri
        == numbers["report"]["mlflow_uri"]
        == (f"runs:/{version.run_id}/validation_report/validation_report.html")
    )
    logged = {Path(a.path).name for a in client.list_artifacts(version.run_id, "validation_report")}
    assert {"validation_report.html", "validation_report.json", "shap_importance.png"} <= logged
    assert {"shap_beeswarm.png"} | {
        f"shap_dependence_{f}.png" for f in numbers["explanations"]["dependence_features"]
    } <= logged
    local = mlflow.artifacts.download_artifacts(report_uri, tracking_uri=uri)
    assert re.search(r'<section id="gate">', Path(local).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either a version"),
        (["no-slash"], "expected <model name>/<version>"),
        (["report-test-credit/99"], "has no version or alias '99'"),
    ],
)
def test_bad_references_are_clear_errors(
    reported_version: Reported, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = reported_version.root
    monkeypatch.setenv("MLFLOW_TRACKING_URI", reported_version.tracking_uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # restored after the test
    register_commands()
    common = ["--params", str(root / "params.yaml"), "--project-dir", str(root)]
    result = CliRunner().invoke(app, ["report", *args, *common])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
