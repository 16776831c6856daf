"""Serving benchmark (on demand, not a test): riskgrade vs ``mlflow models serve`` vs the floor.

    .venv/bin/python benchmarks/serving/run.py [--seconds 10] [--workers 1 2] [--batch-rows 1000000]

1. Builds a temporary MLflow store and registers the configured LightGBM pipeline (trained on
   the bundled German Credit training split) as ``@champion`` -- the project's registry is
   never touched. ``--tracking-uri``/``--model-name`` benchmark an existing champion instead.
2. For each worker count: starts each server on 127.0.0.1, one at a time, and runs wrk on a
   1-row score request with and without reason codes at 2 and 16 connections (warm-up
   first); every server is stopped before the next starts and at the end.
3. Batch scoring: ``riskgrade score`` on N rows made by RESAMPLING the bundled German Credit
   rows with replacement (synthetic: real rows repeated), with and without reason codes.
Prints a table with req/s, p50/p99 and the ratios to mlflow serve.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_model import batch_input, customer_record, register_champion
from load import LoadResult, run_wrk, write_script
from servers import running

PORT = {"riskgrade": 18601, "mlflow": 18602, "floor": 18603}


def bodies(record: dict, kind: str, reasons: bool) -> dict:
    """The request each server needs for one customer (same customer everywhere)."""
    if kind == "mlflow":
        return {"dataframe_records": [record], "params": {"reason_codes": 4 if reasons else 0}}
    return {"customer_id": "C-000001", "reason_codes": reasons, "customer": record}


def measure_server(
    kind: str, workers: int, context: dict, seconds: int, extra_env: dict | None = None
) -> dict[str, LoadResult]:
    """wrk results of one server for each (reasons, connections) combination."""
    tmp: Path = context["tmp"]
    env = (extra_env or {}) | {
        "RISKGRADE_MODEL_NAME": context["name"],
        "RISKGRADE_TRACKING_URI": context["uri"],
        "RISKGRADE_AUDIT_URL": f"sqlite:///{tmp / f'audit-{workers}.db'}",
        "MLFLOW_TRACKING_URI": context["uri"],
    }
    path = "/invocations" if kind == "mlflow" else "/v1/score"
    results: dict[str, LoadResult] = {}
    log = tmp / f"{kind}-{workers}.log"
    with running(kind, PORT[kind], workers, context["model_uri"], env, log) as base:
        for reasons in (False, True) if kind != "floor" else (False,):
            script = write_script(
                tmp / f"{kind}-{reasons}.lua", bodies(context["record"], kind, reasons)
            )
            run_wrk(base + path, script, 4, 2)  # warm-up
            for connections in (2, 16):
                key = f"{'with' if reasons else 'without'} reasons, {connections} conn"
                results[key] = run_wrk(base + path, script, connections, seconds)
                print(f"  {kind} {workers}w {key}: {results[key]}", flush=True)
    return results


def batch_rate(context: dict, rows: int, reasons: bool) -> tuple[float, float]:
    """rows/s of ``riskgrade score``: end to end (process start, model load) and scoring only."""
    tmp: Path = context["tmp"]
    command = [str(Path(sys.executable).parent / "riskgrade"), "score"]
    command += ["--input", str(context["batch"]), "--output", str(tmp / "scored.parquet")]
    command += ["--reasons" if reasons else "--no-reasons"]
    env = os.environ | {
        "RISKGRADE_MODEL_NAME": context["name"],
        "RISKGRADE_TRACKING_URI": context["uri"],
    }
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, timeout=1800)
    end_to_end = rows / (time.perf_counter() - started)
    reported = re.search(r"\(([\d,]+) rows/s\)", done.stdout.decode())
    return end_to_end, float(reported.group(1).replace(",", "")) if reported else float("nan")


def print_table(results: dict[int, dict[str, dict[str, LoadResult]]]) -> None:
    columns = ["workers", "request", "server", "req/s", "p50 ms", "p99 ms", "errors"]
    columns += ["x mlflow", "% of floor"]
    print("\n| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for workers, by_server in results.items():
        for key in by_server["riskgrade"]:
            floor = by_server["floor"][key.replace("with reasons", "without reasons")]
            base = by_server["mlflow"][key].requests_per_second
            for kind in ("riskgrade", "mlflow", "floor"):
                if key not in by_server[kind]:
                    continue
                r = by_server[kind][key]
                print(
                    f"| {workers} | {key} | {kind} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} "
                    f"| {r.p99_ms:.2f} | {r.errors} | {r.requests_per_second / base:.1f} "
                    f"| {r.requests_per_second / floor.requests_per_second:.1%} |"
                )


def report(results: dict, threads: dict[str, LoadResult], batch: dict, rows: int) -> None:
    """Print the HTTP table, the thread-setting comparison and the batch rates."""
    if results and all(kind in by_server for by_server in results.values() for kind in PORT):
        print_table(results)
    if threads:
        print("\nriskgrade, 1 worker, 2 LightGBM threads + OMP_WAIT_POLICY=ACTIVE (vs table):")
    for key, r in threads.items():
        rate = f"{r.requests_per_second:,.0f} req/s"
        print(f"  {key}: {rate}, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms")
    if batch:
        print(f"\nbatch scoring, {rows:,} resampled German Credit rows (synthetic):")
    for reasons, (total, scoring) in batch.items():
        label = "with" if reasons else "without"
        print(f"  {label} reason codes: {total:,.0f} rows/s end to end = {total * 6e-5:.2f} M/min")
        print(f"    (scoring alone, model loaded: {scoring:,.0f} rows/s)")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="none: no HTTP")
    parser.add_argument("--servers", nargs="+", choices=list(PORT), default=list(PORT),
                        help="which servers (the table's ratios need all three)")  # fmt: skip
    parser.add_argument("--batch-rows", type=int, default=1_000_000, help="0: no batch run")
    parser.add_argument("--tracking-uri", help="use this store's champion instead of a new one")
    parser.add_argument("--model-name", default="riskgrade-bench")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", default="/var/tmp", help="where the temporary files go")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    with tempfile.TemporaryDirectory(prefix="servingbench-", dir=args.workdir) as name:
        tmp = Path(name)
        uri = args.tracking_uri or register_champion(tmp, args.model_name)
        context = {
            "tmp": tmp, "uri": uri, "name": args.model_name, "record": customer_record(),
            "model_uri": f"models:/{args.model_name}@champion",
            "batch": batch_input(tmp / "customers.parquet", args.batch_rows),
        }  # fmt: skip
        print(f"load average before: {os.getloadavg()}", flush=True)
        results = {w: {k: measure_server(k, w, context, args.seconds) for k in args.servers}
                   for w in args.workers}  # fmt: skip
        # The thread choice, measured: 2 LightGBM threads per worker with spinning OpenMP
        # waits (the library defaults) instead of 1 thread + passive waits.
        spinning = {"RISKGRADE_LIGHTGBM_THREADS": "2", "OMP_NUM_THREADS": "2"}
        spinning["OMP_WAIT_POLICY"] = "ACTIVE"
        compare = results and "riskgrade" in args.servers
        threads = measure_server("riskgrade", 1, context, args.seconds, spinning) if compare else {}
        rows = args.batch_rows
        batch = {r: batch_rate(context, rows, r) for r in (False, True)} if rows else {}
        print(f"load average after: {os.getloadavg()}")
    report(results, threads, batch, args.batch_rows)
    if args.json:
        figures = {w: {k: {c: vars(r) for c, r in v.items()} for k, v in s.items()}
                   for w, s in results.items()}  # fmt: skip
        args.json.write_text(json.dumps({"http": figures, "batch_rows_per_s": batch}, indent=2))


if __name__ == "__main__":
    main()
