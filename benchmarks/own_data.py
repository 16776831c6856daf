"""Your own data, first time right: every real credit dataset through the README's own-data path.

Run on demand (not a test; minutes per dataset):
    python benchmarks/own_data.py [NAME ...] [--workdir DIR] [--n-trials N]

For each dataset of ``benchmarks/credit_datasets.py`` other than the bundled German Credit, in a
fresh clone of this repository (its committed state; the installed ``.venv`` is linked, not
rebuilt): the dataset is written as the user's CSV file (missing values as empty fields) and
then exactly the README's commands run, with no hand edit of ``params.yaml``:

    riskgrade init --data FILE --target T --positive-label P --force
    dvc repro
    riskgrade promote            (the gate decides; a refusal is reported, not hidden)
    riskgrade score --input FILE --version <champion, else challenger>

Reported per dataset: wall time of each step, the registered family and its test ROC AUC,
the gate's decision, rows scored / rejected, customers with a missing value scored, the mean PD
against the observed default rate and the tier shares. ``--n-trials`` lowers the Optuna
budget for a quick look; that is then an edit of ``params.yaml`` and is said in the output.
Results: ``benchmarks/results/own_data.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from credit_datasets import CreditDataset, available_datasets, load_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "own_data.json"
ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}


class StepFailedError(RuntimeError):
    pass


def run(step: str, command: list[str], cwd: Path, timings: dict[str, float]) -> str:
    """Run one command in the project; record its wall time; raise with its output on failure."""
    env = os.environ | ENV | {"PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    timings[step] = round(time.perf_counter() - started, 1)
    output = done.stdout + done.stderr
    (cwd / f"{step}.log").write_text(output, encoding="utf-8")
    if done.returncode != 0 and step != "promote":
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise StepFailedError(f"{step} exited {done.returncode} after {timings[step]} s:\n{tail}")
    return output if done.returncode == 0 else f"REFUSED\n{output}"


def new_project(workdir: Path, name: str) -> Path:
    project = workdir / name
    subprocess.run(["rm", "-rf", str(project)], check=True)
    subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(project)], check=True)
    (project / ".venv").symlink_to(REPO_ROOT / ".venv")
    return project


def user_file(dataset: CreditDataset, project: Path) -> Path:
    """The dataset as a user's CSV: original column names and labels, empty = missing."""
    path = project / "data" / "external" / dataset.name / f"{dataset.name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.frame.to_csv(path, index=False)
    return path


def lower_budget(project: Path, n_trials: int) -> None:
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    old = raw["tune"]["n_trials"]
    params.write_text(
        text.replace(f"n_trials: {old}", f"n_trials: {n_trials}", 1), encoding="utf-8"
    )


def outcome(dataset: CreditDataset, project: Path, file: Path, gate: str) -> dict[str, Any]:
    registered = json.loads((project / "data/artifacts/registered.json").read_text())
    family = registered["model_family"]
    metrics = json.loads((project / f"data/reports/{family}/metrics.json").read_text())["test"]
    scored = pd.read_parquet(project / "out" / "scored.parquet")
    rejects = pd.read_csv(project / "out" / "scored.rejects.csv")
    frame = dataset.frame
    with_missing = frame.drop(columns=[dataset.target]).isna().any(axis=1)
    rows_with_missing = set((with_missing[with_missing].index + 1).tolist())
    return {
        "rows": len(frame),
        "default_rate": float((frame[dataset.target] == dataset.positive_label).mean()),
        "family": family,
        "version": registered["version"],
        "test_roc_auc": metrics["roc_auc"],
        "test_mean_pd": metrics["mean_pd"],
        "test_calibration_error": metrics["calibration_error"],
        "gate": "passed" if gate == "passed" else "refused",
        "scored": len(scored),
        "rejected": len(rejects),
        "rows_with_missing": len(rows_with_missing),
        "rows_with_missing_scored": len(rows_with_missing & set(scored["row_number"])),
        "mean_pd": float(scored["pd"].mean()),
        "tier_shares": scored["tier"].value_counts(normalize=True).round(3).to_dict(),
    }


def onboard(dataset: CreditDataset, workdir: Path, n_trials: int | None) -> dict[str, Any]:
    project = new_project(workdir, dataset.name)
    file = user_file(dataset, project)
    timings: dict[str, float] = {}
    relative = str(file.relative_to(project))
    init = [
        "riskgrade", "init", "--data", relative, "--target", dataset.target,
        "--positive-label", str(dataset.positive_label), "--force",
    ]  # fmt: skip
    run("init", init, project, timings)
    if n_trials is not None:
        lower_budget(project, n_trials)
    run("repro", ["dvc", "repro"], project, timings)
    promoted = run("promote", ["riskgrade", "promote"], project, timings)
    gate = "refused" if promoted.startswith("REFUSED") else "passed"
    version = "champion" if gate == "passed" else "challenger"
    score = [
        "riskgrade", "score", "--input", relative, "--output", "out/scored.parquet",
        "--version", version,
    ]  # fmt: skip
    run("score", score, project, timings)
    return outcome(dataset, project, file, gate) | {"seconds": timings}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    names = [n for n in available_datasets() if n != "german_credit"]
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"default: {' '.join(names)}")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/riskgrade-own-data"))
    parser.add_argument("--n-trials", type=int, default=None, help="lower the tuning budget")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if RESULTS.is_file():
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
    for name in args.names or names:
        dataset = load_dataset(name)
        print(f"{name}: {len(dataset.frame):,} rows ...", flush=True)
        try:
            result = onboard(dataset, args.workdir, args.n_trials)
        except StepFailedError as error:
            result = {"failed": str(error)}
        result["tune_n_trials"] = args.n_trials or "params.yaml default"
        results[name] = result
        print(json.dumps(result, indent=2), flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
