"""Speed of SHAP explanations (``models.explain.explanation.explain``) at batch scale.

Run on demand (not a test):  python benchmarks/explain.py [--params params.yaml] [--rows 10000]

The models are fitted as the train stage does (params.yaml settings, ``runtime.n_jobs`` threads,
the pipeline's own training split). The explained rows are RESAMPLED REAL DATA: ``--rows`` rows
drawn with replacement from the 1,000 bundled German Credit rows. Resampling is used because
scale is the point here; the values are real but the rows repeat, which does not change the cost
of TreeSHAP or of the linear explainer (no caching by row). Each timing is repeated
``--repeats`` times; the table shows min and median seconds and rows per second (from the min),
and the largest additivity gap |base + sum - margin| in log-odds. For LightGBM it also times the
serving fast path's tabulated TreeSHAP (``models.fastpath.tree_shap``: building the tables, all
rows at once, and one customer at a time as the service does), with its largest gap to
``explain`` in the last column instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before lightgbm loads OpenMP

import numpy as np
import pandas as pd

from experiments.config import ProjectConfig, load_config
from experiments.io import read_table
from features.schema import FrozenModel
from features.splitting import split_dataset
from features.validation import validate_dataset
from models.explain.explanation import Explanation, explain
from models.factory import build_model_pipeline
from models.fastpath.compiled import CompiledPipeline, columns_from_records, compile_pipeline
from models.scoring.reason_codes import reason_codes


def time_call(call: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Wall-clock seconds of each of ``repeats`` calls, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def additivity_gap(explanation: Explanation) -> float:
    """Largest |base value + sum of contributions - margin| over rows, in log-odds."""
    total = explanation.base_value + explanation.contributions.to_numpy().sum(axis=1)
    return float(np.max(np.abs(total - explanation.margin)))


def print_row(name: str, seconds: list[float], n_rows: int, gap: float | None) -> None:
    fastest = min(seconds)
    gap_text = "" if gap is None else f"{gap:.1e}"
    print(
        f"{name:<38} {fastest:>8.3f} {statistics.median(seconds):>8.3f} "
        f"{n_rows / fastest:>10,.0f} {gap_text:>9}"
    )


def load_rows(config: ProjectConfig, n_rows: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The training split and ``n_rows`` feature rows resampled (with replacement) from all data."""
    schema = config.data
    frame = validate_dataset(read_table(schema.source), schema, str(schema.source))
    splits = split_dataset(frame, schema, config.split, config.seed)
    sample = frame[schema.features].sample(n=n_rows, replace=True, random_state=config.seed)
    return splits, sample.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--rows", type=int, default=10_000, help="rows to explain")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions")
    args = parser.parse_args()
    config = load_config(args.params)
    schema, n_jobs = config.data, config.runtime.n_jobs
    splits, rows = load_rows(config, args.rows)
    train = splits["train"]
    print(
        f"{args.rows:,} rows resampled with replacement from the bundled German Credit data "
        f"(real data, resampled: scale is the point); {os.cpu_count()} CPUs, n_jobs={n_jobs}, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, {args.repeats} repeats"
    )
    print(f"{'what':<38} {'min s':>8} {'median s':>8} {'rows/s':>10} {'add. gap':>9}")
    candidates: dict[str, FrozenModel] = {
        "lightgbm (pred_contrib TreeSHAP)": config.models.lightgbm,
        "logistic woe (linear SHAP)": config.models.logistic.model_copy(update={"encoding": "woe"}),
        "logistic one-hot (linear SHAP)": config.models.logistic.model_copy(
            update={"encoding": "onehot"}
        ),
    }
    for name, model_config in candidates.items():
        pipeline = build_model_pipeline(
            schema, config.features, model_config, config.seed, n_jobs
        ).fit(train[schema.features], train[schema.target])
        background = train[schema.features]
        seconds, explanation = time_call(partial(explain, pipeline, rows, background), args.repeats)
        print_row(name, seconds, args.rows, additivity_gap(explanation))
        if name.startswith("lightgbm"):
            seconds, _ = time_call(partial(reason_codes, explanation, rows, k=4), args.repeats)
            print_row("  + reason codes, k=4", seconds, args.rows, None)
            fast_path_rows(pipeline, rows, explanation, args.repeats)


def fast_path_rows(
    pipeline: Any, rows: pd.DataFrame, explanation: Explanation, repeats: int
) -> None:
    """The serving fast path's contributions: tables built once, then all rows, then one by one."""
    seconds, compiled = time_call(partial(compile_pipeline, pipeline), repeats)
    assert isinstance(compiled, CompiledPipeline) and compiled.booster is not None
    print(f"  fast path ({compiled.booster.shap_method}): compile {min(seconds):.3f} s")
    records = rows.to_dict("records")
    columns = columns_from_records(records, compiled.raw_columns, compiled.categories)
    reference = explanation.contributions.to_numpy()
    seconds, scores = time_call(partial(compiled.predict, columns, True), repeats)
    print_row("  fast path, all rows at once", seconds, len(rows), gap(scores, reference))
    few = records[:2000]

    def one_by_one() -> np.ndarray:
        return np.vstack([compiled.predict_record(r, True).contributions for r in few])

    seconds, single = time_call(one_by_one, repeats)
    print_row("  fast path, one customer at a time", seconds, len(few), gap(single, reference))


def gap(scores: Any, reference: np.ndarray) -> float:
    """Largest |fast path - explain| contribution (log-odds) over the rows compared."""
    got = scores if isinstance(scores, np.ndarray) else scores.contributions
    return float(np.max(np.abs(got - reference[: len(got)])))


if __name__ == "__main__":
    main()
