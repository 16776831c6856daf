"""``riskgrade score`` (files, chunked, rejects) and ``riskgrade audit`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_support import SCORER_KEY, Registry, make_settings
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from serving.app import create_app


def run(*args: str) -> tuple[int, str]:
    register_commands()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def customers_file(registry: Registry, path: Path) -> pd.DataFrame:
    """Test rows, two bad ones (rows 201, 203), a missing value (202, scored as training
    does) and an unseen category (row 204)."""
    frame = registry.parts["test"][registry.features].reset_index(drop=True).astype(object)
    bad = frame.head(4).copy()
    bad.loc[0, "credit_amount"] = "a lot"
    bad.loc[1, "purpose"] = None
    bad.loc[2, "duration_in_month"] = "12 months"
    bad.loc[3, "purpose"] = "spaceship"
    full = pd.concat([frame, bad], ignore_index=True)
    if path.suffix == ".csv":
        full.to_csv(path, index=False)
    else:
        full.astype(str).where(full.notna(), None).to_parquet(path)
    return full


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_file_matches_the_service_and_reports_rejects(
    cli_env: Path, registry: Registry, suffix: str
) -> None:
    source, output = cli_env / f"customers{suffix}", cli_env / "out" / "scored.parquet"
    frame = customers_file(registry, source)
    code, out = run("score", "--input", str(source), "--output", str(output), "--chunk-rows", "64")
    assert code == 0, out
    scored = pd.read_parquet(output)
    rejects = pd.read_csv(output.with_suffix(".rejects.csv"))
    assert len(scored) + len(rejects) == len(frame) == 204
    assert rejects["row_number"].tolist() == [201, 203]
    assert rejects["reason"].tolist() == [
        "credit_amount: expected a finite number at least 1 or null",
        "duration_in_month: expected a finite number from 1 to 360 or null",
    ]
    assert 202 in scored["row_number"].tolist()
    assert json.loads(scored["unseen_categories"].iloc[-1]) == ["purpose"]
    settings = make_settings(registry, cli_env)
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        for i in (0, 57, 199):
            record = registry.records()[i]
            served = client.post("/v1/score", json={"customer": record}).json()
            row = scored.iloc[i]
            assert row["row_number"] == i + 1
            assert (row["pd"], row["score"], row["tier"]) == (
                pytest.approx(served["pd"], abs=1e-12),
                served["score"],
                served["tier"],
            )
            batch_reasons = json.loads(row["reasons"])
            assert [r["sentence"] for r in batch_reasons] == [
                r["sentence"] for r in served["reasons"]
            ]
            assert [r["contribution"] for r in batch_reasons] == pytest.approx(
                [r["contribution"] for r in served["reasons"]], abs=1e-12
            )


def test_missing_columns_fail_and_leave_no_output(cli_env: Path, registry: Registry) -> None:
    source, output = cli_env / "bad.csv", cli_env / "scored.parquet"
    registry.parts["test"][registry.features[:-1]].to_csv(source, index=False)
    code, out = run("score", "--input", str(source), "--output", str(output))
    assert code == 1 and "lacks the model's column(s) ['telephone']" in out
    assert not output.exists() and not list(cli_env.glob(".scored*"))


def test_audit_command_lists_recorded_decisions(cli_env: Path, registry: Registry) -> None:
    settings = make_settings(registry, cli_env)
    with TestClient(create_app(settings), headers={"X-API-Key": SCORER_KEY}) as client:
        bodies = [
            client.post("/v1/score", json={"customer": c}).json() for c in registry.records(n=3)
        ]
    tier = bodies[0]["tier"]
    code, out = run("audit", "--tier", tier, "--model-version", "1")
    assert code == 0, out
    assert f"{sum(b['tier'] == tier for b in bodies)} decision(s)" in out
    code, out = run("audit", "--since", "2999-01-01")
    assert code == 0 and "0 decision(s)" in out


def test_a_chunk_with_only_rejects_still_writes_the_rest(cli_env: Path, registry: Registry) -> None:
    frame = registry.parts["test"][registry.features].head(3).reset_index(drop=True).astype(object)
    frame.loc[0, "age_in_years"] = "young"
    frame.loc[1, "age_in_years"] = "old"
    source, output = cli_env / "three.csv", cli_env / "three.parquet"
    frame.to_csv(source, index=False)
    code, out = run("score", "--input", str(source), "--output", str(output), "--chunk-rows", "2")
    assert code == 0, out
    assert pd.read_parquet(output)["row_number"].tolist() == [3]
    assert pd.read_csv(output.with_suffix(".rejects.csv"))["row_number"].tolist() == [1, 2]


def test_numbers_outside_their_valid_range_are_rejected_naming_it(
    cli_env: Path, registry: Registry
) -> None:
    """German Credit's params.yaml declares data.ranges; the version carries them."""
    frame = registry.parts["test"][registry.features].head(3).reset_index(drop=True)
    frame = frame.astype({"age_in_years": "float64", "credit_amount": "float64"})
    frame.loc[0, "age_in_years"] = -1
    frame.loc[1, "credit_amount"] = 0
    source, output = cli_env / "ranges.csv", cli_env / "ranges.parquet"
    frame.to_csv(source, index=False)

    code, out = run("score", "--input", str(source), "--output", str(output), "--no-record")

    assert code == 0, out
    rejects = pd.read_csv(output.with_suffix(".rejects.csv"))
    assert rejects.to_dict("list") == {
        "row_number": [1, 2],
        "reason": [
            "age_in_years: expected a finite number from 18 to 120 or null (data.ranges)",
            "credit_amount: expected a finite number at least 1 or null (data.ranges)",
        ],
    }
    assert pd.read_parquet(output)["row_number"].tolist() == [3]
