"""Tuned vs untuned models by nested cross-validation, and 1 vs 2 tuning workers.

Run on demand (not a test):  python benchmarks/tuning.py [--params params.yaml] [--repeats 1]
                                 [--n-trials N] [--worker-trials N]

Outer loop: 5 stratified folds of the bundled data (validated, all 1,000 rows), repeated
``--repeats`` times with different seeds. The outer test fold is never seen by tuning: each
family is tuned on the outer training part with exactly the code ``riskgrade tune`` runs
(``experiments.tuning.study.tune``: inner stratified folds, early stopping, pruning, MLflow runs),
then refitted there with the tuned values laid over params.yaml (``riskgrade train``'s
``with_tuned_params``) and scored on the outer test fold. "untuned" is params.yaml as is.
Then one LightGBM study of ``--worker-trials`` trials is timed with 1 and with 2 workers.
Studies and MLflow runs go to a temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import optuna
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold

from experiments.config import ProjectConfig, load_config
from experiments.io import read_table
from experiments.stages.train import with_tuned_params
from experiments.stages.tune import run as tune
from features.validation import validate_dataset
from models.factory import build_model_pipeline

FAMILIES: tuple[str, ...] = ("lightgbm", "logistic", "scorecard")


def outer_auc(config: ProjectConfig, family: str, train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Fit the family's full pipeline (config as given) on ``train``; ROC AUC on ``test``."""
    schema = config.data
    pipeline = build_model_pipeline(
        schema, config.features, config.models.get(family), config.seed, config.runtime.n_jobs
    )
    pipeline.fit(train[schema.features], train[schema.target])
    return float(roc_auc_score(test[schema.target], pipeline.predict_proba(test)[:, 1]))


def tuned_config(
    config: ProjectConfig, family: str, train: pd.DataFrame, work: Path, workers: int = 1
) -> ProjectConfig:
    """Tune on ``train`` exactly as ``riskgrade tune`` does; return the config train would use."""
    work.mkdir(parents=True, exist_ok=True)
    train_path, output = work / "train.parquet", work / f"{family}.json"
    train.to_parquet(train_path, index=False)
    tune(config, family, train_path, None, output, work, workers=workers)
    return with_tuned_params(config, family, output)


def nested_cv(config: ProjectConfig, frame: pd.DataFrame, repeats: int, work: Path) -> pd.DataFrame:
    """One row per (repeat, fold, family, setting) with the outer ROC AUC and seconds."""
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=config.seed)
    rows: list[dict[str, Any]] = []
    for number, (train_idx, test_idx) in enumerate(folds.split(frame, frame[config.data.target])):
        train, test = frame.iloc[train_idx], frame.iloc[test_idx]
        for family in FAMILIES:
            start = time.perf_counter()
            auc = outer_auc(config, family, train, test)
            rows.append(row(number, family, "untuned", auc, start))
            start = time.perf_counter()
            tuned = tuned_config(config, family, train, work / f"fold{number}")
            auc = outer_auc(tuned, family, train, test)
            rows.append(row(number, family, "tuned", auc, start))
            print(f"  outer fold {number}: {family} untuned {rows[-2]['roc_auc']:.4f} "
                  f"tuned {auc:.4f} ({rows[-1]['seconds']:.1f} s)", flush=True)  # fmt: skip
    return pd.DataFrame(rows)


def row(fold: int, family: str, setting: str, auc: float, start: float) -> dict[str, Any]:
    seconds = time.perf_counter() - start
    return {"fold": fold, "family": family, "setting": setting, "roc_auc": auc, "seconds": seconds}


def time_workers(
    config: ProjectConfig, frame: pd.DataFrame, n_trials: int, work: Path
) -> dict[int, float]:
    """Seconds for one fresh LightGBM study of ``n_trials`` trials with 1 and 2 workers."""
    budget = config.model_copy(
        update={"tune": config.tune.model_copy(update={"n_trials": n_trials})}
    )
    seconds = {}
    for workers in (1, 2):
        start = time.perf_counter()
        tuned_config(budget, "lightgbm", frame, work / f"workers{workers}", workers)
        seconds[workers] = time.perf_counter() - start
    return seconds


def print_report(results: pd.DataFrame, workers: dict[int, float], n_trials: int) -> None:
    table = results.groupby(["family", "setting"]).agg(
        outer_roc_auc=("roc_auc", "mean"), std=("roc_auc", "std"), seconds=("seconds", "mean")
    )
    print(f"\n{'model':<10} {'setting':<8} {'outer roc_auc':>13} {'std':>7} {'s/fold':>7}")
    for (family, setting), values in table.iterrows():
        print(
            f"{family:<10} {setting:<8} {values['outer_roc_auc']:>13.4f} "
            f"{values['std']:>7.4f} {values['seconds']:>7.1f}"
        )
    tuned = table.xs("tuned", level="setting")["outer_roc_auc"]
    lift = tuned["lightgbm"] - table.loc[("lightgbm", "untuned"), "outer_roc_auc"]
    print(f"\nbest tuned model: {tuned.idxmax()} {tuned.max():.4f} (target >= 0.785)")
    print(f"tuned - untuned LightGBM: {lift:+.4f} (target >= 0)")
    print(
        f"one LightGBM study of {n_trials} trials: 1 worker {workers[1]:.1f} s, "
        f"2 workers {workers[2]:.1f} s (x{workers[1] / workers[2]:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--repeats", type=int, default=1, help="repetitions of the outer 5 folds")
    parser.add_argument("--n-trials", type=int, default=None, help="default: tune.n_trials")
    parser.add_argument("--worker-trials", type=int, default=40, help="trials in the 1-vs-2 test")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = load_config(args.params)
    if args.n_trials:
        config = config.model_copy(
            update={"tune": config.tune.model_copy(update={"n_trials": args.n_trials})}
        )
    schema = config.data
    frame = validate_dataset(read_table(schema.source), schema, str(schema.source))
    with tempfile.TemporaryDirectory(prefix="riskgrade-bench-") as tmp:
        work = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        os.environ.pop("RISKGRADE_OPTUNA_STORAGE", None)  # each folder gets its own journal
        print(f"nested CV: 5 outer folds x {args.repeats}, {config.tune.n_trials} trials per study")
        results = nested_cv(config, frame, args.repeats, work)
        workers = time_workers(config, frame, args.worker_trials, work)
    print_report(results, workers, args.worker_trials)


if __name__ == "__main__":
    main()
