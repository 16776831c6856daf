"""End to end on a dataset riskgrade has never seen: `riskgrade init` on a small real file with
missing values (R's ``NA``) and categorical codes, then `dvc repro`, `riskgrade promote` and
`riskgrade score` in a fresh copy of the project, with no hand edit of the data section.

The file is 500 rows of modeldata's ``credit_data`` (tests/data/README.md). The only change
to what init wrote is the tuning budget (`SMALL_BUDGETS["tune"]`, as in the bundled data's
end-to-end test): CI time. Measured on two cores shared with other work: 3 min 10 s to
3 min 25 s at a load of about 2, 5 min 54 s at 3.5. About 100 s of it is the start-up of
the 16 `riskgrade` processes (5-8 s of imports each: every DVC stage of three families,
init, promote, score); a smaller tuning budget saves seconds, not minutes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pipeline.dvc_project import SMALL_BUDGETS, copy_project, make_env, run

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "credit_data_sample.csv"
SOURCE = "data/external/credit_data/credit_data_sample.csv"


def test_init_then_repro_promote_and_score_a_new_dataset(tmp_path: Path, repo_root: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    copy_project(repo_root, root)
    (root / SOURCE).parent.mkdir(parents=True)
    shutil.copyfile(SAMPLE, root / SOURCE)
    env = make_env(tmp_path / "mlflow.db")

    run(["riskgrade", "init", "--data", SOURCE, "--target", "Status", "--force"], root, env)
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["tune"] |= SMALL_BUDGETS["tune"]  # CI time; the rest is init's, untouched
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"]):
        run(command, root, env)
    run(["git", "commit", "-q", "-m", "init"], root, env)
    run(["dvc", "repro"], root, env)
    run(["riskgrade", "promote"], root, env)
    scored = run(["riskgrade", "score", "--input", SOURCE, "--output", "scored.parquet"], root, env)

    data = params["data"]
    assert (data["na_values"], data["excluded"]) == (["", "NA"], ["Marital"])
    assert data["categorical"] == ["Home", "Records", "Job"]
    raw = pd.read_csv(SAMPLE, keep_default_na=False, na_values=["", "NA"])
    with_missing = raw[data["numeric"] + data["categorical"]].isna().any(axis=1)
    assert with_missing.sum() >= 50  # Income, Assets, Debt, Home, Job
    out = pd.read_parquet(root / "scored.parquet")
    assert "rejected 0" in scored.stdout
    assert pd.read_csv(root / "scored.rejects.csv").empty
    assert len(out) == len(raw)  # every customer, missing values or not
    assert out["pd"].between(0, 1).all() and out["pd"].notna().all()
    default_rate = (raw["Status"] == "bad").mean()
    assert out["pd"].mean() == pytest.approx(default_rate, abs=0.05)
