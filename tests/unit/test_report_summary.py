"""The report's summary warnings, number formatting and version references (no MLflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from experiments.io import InputError
from experiments.registry.refs import ModelRefError, parse_model_ref
from experiments.reports.html import format_number
from experiments.reports.summary import summary_section
from experiments.reports.validation import ReportError, choose_ref


def report_numbers(**changes: Any) -> dict[str, Any]:
    """The sections ``summary_section`` reads, for a healthy model; ``changes`` override."""
    numbers: dict[str, Any] = {
        "metrics": {"train": {"roc_auc": 0.80}, "test": {"roc_auc": 0.78, "gini": 0.56, "ks": 0.4}},
        "calibration": {"expected_calibration_error": 0.05},
        "tiers": {"default_rate_increases": {"train": True, "test": True}},
        "stability": {"score_psi": 0.02, "score_band": "stable", "features": []},
        "gate": {
            "passed": True,
            "criteria": [
                {"name": "ks floor", "value": 0.4, "rule": ">=", "threshold": 0.3, "passed": True}
            ],
        },
        "champion": {"status": "none", "version": None},
        "model": {"lineage": {"data_md5": "abc"}},
        "data": {"data_md5": "abc"},
    }
    return numbers | changes


def test_a_healthy_model_has_no_warnings() -> None:
    summary = summary_section(report_numbers())
    assert summary["warnings"] == []
    assert summary["gate_passed"] is True and summary["test_roc_auc"] == 0.78


def test_every_problem_is_a_warning_with_its_number() -> None:
    numbers = report_numbers(
        metrics={"train": {"roc_auc": 0.95}, "test": {"roc_auc": 0.78, "gini": 0.56, "ks": 0.2}},
        tiers={"default_rate_increases": {"train": True, "test": False}},
        stability={
            "score_psi": 0.3,
            "score_band": "act",
            "features": [{"feature": "purpose", "psi": 0.4, "band": "act"}],
        },
        gate={
            "passed": False,
            "criteria": [
                {"name": "ks floor", "value": 0.2, "rule": ">=", "threshold": 0.3, "passed": False}
            ],
        },
        data={"data_md5": "other"},
    )
    warnings = "\n".join(summary_section(numbers)["warnings"])
    assert "ks floor fails (0.2000, required >= 0.3000)" in warnings
    assert "trained on data md5 abc" in warnings and "md5 other" in warnings
    assert "exceeds test ROC AUC by 0.1700" in warnings
    assert "does not rise low < medium < high on test" in warnings
    assert "score PSI 0.3000 (act)" in warnings and "feature purpose PSI 0.4000" in warnings


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (0.12345, "float", "0.1235"),
        (0.3, "pct", "30.0%"),
        (1000, "int", "1,000"),
        (None, "float", "n/a"),
        (float("nan"), "pct", "n/a"),
        ("lightgbm", "float", "lightgbm"),
    ],
)
def test_format_number(value: Any, kind: str, text: str) -> None:
    assert format_number(value, kind) == text


def test_version_references() -> None:
    assert parse_model_ref("riskgrade-credit/3") == ("riskgrade-credit", "3")
    assert parse_model_ref("riskgrade-credit/champion") == ("riskgrade-credit", "champion")
    assert parse_model_ref("riskgrade-credit@champion") == ("riskgrade-credit", "champion")
    assert parse_model_ref("@champion", "default") == ("default", "champion")
    assert parse_model_ref("3", "default") == ("default", "3")
    with pytest.raises(ModelRefError, match="expected <model name>/<version>"):
        parse_model_ref("riskgrade-credit")
    with pytest.raises(ModelRefError, match="expected <model name>/<version>"):
        parse_model_ref("riskgrade-credit/")
    with pytest.raises(ReportError, match="not both or neither"):
        choose_ref("riskgrade-credit/3", Path("registered.json"))
    with pytest.raises(InputError, match="run `dvc repro register` first"):
        choose_ref(None, Path("no/such/registered.json"))
