"""Per-customer latency of the service's fast path, per model family (run on demand).

    python benchmarks/fastpath.py [--families lightgbm logistic scorecard] [--rounds 7]

Fits each family on the bundled training split as ``train`` does (calibrated, scoring
policy), compiles it as the service does, then times ``predict_record`` one customer at a
time over the test split (5 passes per round), with and without reason contributions.
Prints the median and best round in microseconds per customer. Compare two checkouts by
running it in each, back to back, on the same machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from experiments.config import load_config
from experiments.io import read_table
from features.splitting import split_dataset
from features.validation import validate_dataset
from models.factory import build_calibrated_model, fit_credit_model
from models.families.registry import FAMILIES, get_family
from models.fastpath.compiled import compile_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    config = load_config(args.params)
    schema = config.data
    frame = validate_dataset(read_table(schema.source), schema, str(schema.source))
    parts = split_dataset(frame, schema, config.split, config.seed)
    X, y = parts["train"][schema.features], parts["train"][schema.target].to_numpy()
    records = [dict(r) for r in parts["test"][schema.features].to_dict("records")] * 5
    for name in args.families:
        family = get_family(name)
        model = build_calibrated_model(
            schema, config.features, config.models.get(name), config.calibration, config.seed, 1
        )
        fit_credit_model(model, config.scorecard, X, y)
        baseline = family.baseline(model, X) if family.baseline else None
        compiled = compile_pipeline(model, baseline, 1)
        for reasons in (False, True):
            rounds = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                for record in records:
                    compiled.predict_record(record, contributions=reasons)
                rounds.append((time.perf_counter() - start) / len(records) * 1e6)
            print(
                f"{name:<10} reasons={reasons!s:<5} median {statistics.median(rounds):6.1f} "
                f"µs/customer (best {min(rounds):.1f})"
            )


if __name__ == "__main__":
    main()
