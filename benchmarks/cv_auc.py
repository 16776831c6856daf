"""5-fold stratified cross-validated ROC AUC of riskgrade's own pipelines on the bundled data.

Run on demand (not a test):  python benchmarks/cv_auc.py [--params params.yaml] [--repeats 1]
Each configuration is the full pipeline (features fitted inside each fold) from
``models.factory.build_model_pipeline`` with the settings in params.yaml: every registered
family (``models.families``), the logistic model with both encodings. Prints a table of mean
and standard deviation per model.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

from experiments.config import load_config
from experiments.io import read_table
from features.validation import validate_dataset
from models.factory import build_model_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--repeats", type=int, default=1, help="repetitions of the 5-fold split")
    args = parser.parse_args()
    config = load_config(args.params)
    schema = config.data
    frame = validate_dataset(read_table(schema.source), schema, str(schema.source))
    X, y = frame[schema.features], frame[schema.target]
    logistic = config.models.get("logistic")
    candidates = {
        "lightgbm (params.yaml)": config.models.get("lightgbm"),
        "logistic one-hot": logistic.model_copy(update={"encoding": "onehot"}),
        "logistic weight-of-evidence": logistic.model_copy(update={"encoding": "woe"}),
        "scorecard (optbinning)": config.models.get("scorecard"),
    }
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=args.repeats, random_state=config.seed)
    print(f"{'model':<32} {'cv roc_auc':>10} {'std':>7} {'seconds':>8}")
    for name, model_config in candidates.items():
        pipeline = build_model_pipeline(
            schema, config.features, model_config, config.seed, config.runtime.n_jobs
        )
        start = time.perf_counter()
        scores = cross_val_score(pipeline, X, y, cv=folds, scoring="roc_auc")
        seconds = time.perf_counter() - start
        print(f"{name:<32} {np.mean(scores):>10.4f} {np.std(scores):>7.4f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
