"""Thread-setting A/B for one riskgrade worker (on demand, not a test).

    .venv/bin/python benchmarks/serving/threads.py [--rounds 2] [--seconds 8]

``run.py`` measures the spinning-thread variant once, after everything else; run order and
machine state then weigh on the comparison. Here the two settings alternate, round after
round, on the same registered model (a temporary store, as in ``run.py``):

- ``passive-1``: 1 LightGBM thread per worker, ``OMP_WAIT_POLICY=PASSIVE`` (the default);
- ``active-2``: 2 threads with spinning OpenMP waits (the libraries' own defaults).

Each: 1-row ``/v1/score`` with and without reason codes, at 2 and 16 connections.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench_model import customer_record, register_champion
from load import run_wrk, write_script
from servers import running

PORT = 18631
VARIANTS = {
    "passive-1": {},
    "active-2": {
        "RISKGRADE_LIGHTGBM_THREADS": "2",
        "OMP_NUM_THREADS": "2",
        "OMP_WAIT_POLICY": "ACTIVE",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per run")
    parser.add_argument("--workdir", default="/var/tmp", help="where the temporary files go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="threadsbench-", dir=args.workdir) as name:
        tmp = Path(name)
        uri = register_champion(tmp, "riskgrade-bench")
        record = customer_record()
        print(f"load average before: {os.getloadavg()}", flush=True)
        print("| round | setting | reasons | conn | req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|---|---|")
        for round_ in range(1, args.rounds + 1):
            for setting, extra in VARIANTS.items():
                env = extra | {
                    "RISKGRADE_MODEL_NAME": "riskgrade-bench",
                    "RISKGRADE_TRACKING_URI": uri,
                    "MLFLOW_TRACKING_URI": uri,
                    "RISKGRADE_AUDIT_URL": f"sqlite:///{tmp / f'audit-{setting}-{round_}.db'}",
                }
                log = tmp / f"{setting}-{round_}.log"
                with running("riskgrade", PORT, 1, "", env, log) as base:
                    for reasons in (False, True):
                        body = {"customer_id": "C-1", "reason_codes": reasons, "customer": record}
                        script = write_script(tmp / f"score-{reasons}.lua", body)
                        run_wrk(base + "/v1/score", script, 4, 2)  # warm-up
                        for connections in (2, 16):
                            r = run_wrk(base + "/v1/score", script, connections, args.seconds)
                            print(
                                f"| {round_} | {setting} | {'with' if reasons else 'without'} "
                                f"| {connections} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} "
                                f"| {r.p99_ms:.2f} | {r.errors} |",
                                flush=True,
                            )
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
