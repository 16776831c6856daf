"""Soak benchmark (on demand, not a test): the service at half its capacity for minutes, with a
batch scoring job writing to the same audit store part of the time.

    .venv/bin/python benchmarks/serving/soak.py [--minutes 10] [--batch-rows 200000]

1. Registers the configured LightGBM pipeline as ``@champion`` in a temporary MLflow store
   (``bench_model.register_champion``) and starts the real service (1 worker, production
   settings, audit to a temporary SQLite file) on 127.0.0.1.
2. Measures its capacity: wrk, 16 connections, 15 s, 1-row ``/v1/score`` with reason codes.
3. Soak: wrk at about half that rate (16 connections, each pausing between requests: wrk's
   ``delay()``), in one-minute segments so p50/p99 and errors are seen per minute, while the
   server's resident memory (its process, from /proc) is sampled every 5 s. From the end of
   the first third to the end of the second, ``riskgrade score --id-column customer_id``
   scores ``--batch-rows`` customers (SYNTHETIC: German Credit rows resampled with
   replacement) and stores the run with its alerts in the same audit database.
4. Prints per-minute figures and the verdict: errors (non-2xx + socket), p99 spread, the
   resident-memory slope (least squares, MB per minute, after the first minute's warm-up),
   and audit rows == successful answers.
Results: ``benchmarks/results/soak.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_model import batch_input, customer_record, register_champion
from load import LoadResult, run_wrk, write_script
from servers import running

PORT = 18611
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
SCORER_KEY = "soak-scorer-key-0123456789abcdef0123456789"
SECRET = "soak-customer-id-secret-0123456789abcdef"


def server_env(tmp: Path, uri: str, name: str) -> dict[str, str]:
    from serving.settings import hash_api_key

    keys = [{"name": "soak", "sha256": hash_api_key(SCORER_KEY), "roles": ["scorer"]}]
    return {
        "RISKGRADE_MODE": "production",
        "RISKGRADE_API_KEYS": json.dumps(keys),
        "RISKGRADE_CUSTOMER_ID_SECRET": SECRET,
        "RISKGRADE_MODEL_NAME": name,
        "RISKGRADE_TRACKING_URI": uri,
        "RISKGRADE_AUDIT_URL": f"sqlite:///{tmp / 'audit.db'}",
        "MLFLOW_TRACKING_URI": uri,
    }


def paced_script(path: Path, body: dict, delay_ms: float) -> Path:
    """wrk script: POST ``body`` with the scorer key, pausing ``delay_ms`` between requests."""
    write_script(path, body)
    text = path.read_text(encoding="utf-8")
    text += f'wrk.headers["X-API-Key"] = "{SCORER_KEY}"\n'
    if delay_ms > 0:
        text += f"function delay()\n  return {delay_ms:.3f}\nend\n"
    path.write_text(text, encoding="utf-8")
    return path


def server_pid(port: int) -> int:
    """The pid of the process listening on ``port`` (the uvicorn worker)."""
    found = subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(found.split("pid=")[1].split(",")[0])


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(self.every):
            self.samples.append((time.monotonic() - started, resident_mb(self.pid)))


def batch_job(tmp: Path, env: dict[str, str], rows: int) -> subprocess.Popen[str]:
    import pandas as pd

    source = tmp / "batch.parquet"
    if not source.exists():
        frame = pd.read_parquet(batch_input(tmp / "batch-features.parquet", rows))
        frame.insert(0, "customer_id", [f"S{i:08d}" for i in range(len(frame))])
        frame.to_parquet(source)
    command = [
        str(Path(sys.executable).parent / "riskgrade"), "score", "--input", str(source),
        "--output", str(tmp / "batch-scored.parquet"), "--id-column", "customer_id",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=os.environ | env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def audit_rows(tmp: Path) -> int:
    with sqlite3.connect(tmp / "audit.db") as connection:
        return int(connection.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])


def slope_mb_per_minute(samples: list[tuple[float, float]]) -> float:
    warm = [(t, mb) for t, mb in samples if t >= 60] or samples
    t, mb = np.array(warm).T
    return float(np.polyfit(t / 60, mb, 1)[0]) if len(t) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--batch-rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskgrade-soak-") as name:
        tmp = Path(name)
        model = "soak-model"
        uri = register_champion(tmp, model)
        env = server_env(tmp, uri, model)
        body = {"customer_id": "C-000001", "reason_codes": True, "customer": customer_record()}
        with running("riskgrade", PORT, 1, "", env, tmp / "server.log") as base:
            url = base + "/v1/score"
            capacity = run_wrk(url, paced_script(tmp / "full.lua", body, 0), 16, 15)
            rate = capacity.requests_per_second / 2
            delay = max(16 / rate * 1000 - capacity.p50_ms, 0.0)
            script = paced_script(tmp / "paced.lua", body, delay)
            print(f"capacity {capacity.requests_per_second:,.0f} req/s; soak at ~{rate:,.0f}")
            time.sleep(2)  # requests in flight when wrk stopped are committed, then counted
            rows_before = audit_rows(tmp)
            sampler = MemorySampler(server_pid(PORT))
            sampler.start()
            minutes: list[LoadResult] = []
            job = None
            third = max(args.minutes // 3, 1)
            for minute in range(args.minutes):
                if minute == third:
                    job = batch_job(tmp, env, args.batch_rows)
                minutes.append(run_wrk(url, script, 16, 60))
                result = minutes[-1]
                print(
                    f"minute {minute + 1:>2}: {result.requests_per_second:7,.0f} req/s  "
                    f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                    f"errors {result.errors}"
                    + ("  (batch job running)" if job and job.poll() is None else ""),
                    flush=True,
                )
            sampler.stopped.set()
            batch_output = job.communicate(timeout=1800)[0] if job else ""
            answers = sum(r.requests - r.errors for r in minutes)
            time.sleep(2)
            # wrk does not count requests still in flight when a segment ends (at most 16 per
            # segment) though the service answered and audited them: rows - answers is in
            # [0, 16 x segments] when nothing is lost
            stored = audit_rows(tmp) - rows_before
        summary = {
            "capacity_rps": capacity.requests_per_second,
            "soak_rps": [round(r.requests_per_second) for r in minutes],
            "p50_ms": [r.p50_ms for r in minutes],
            "p99_ms": [r.p99_ms for r in minutes],
            "errors": sum(r.errors for r in minutes),
            "rss_mb_first_last": [sampler.samples[0][1], sampler.samples[-1][1]],
            "rss_slope_mb_per_minute": round(slope_mb_per_minute(sampler.samples), 3),
            "answers_2xx": answers,
            "audit_rows": stored,
            "batch_job_exit": job.returncode if job else None,
            "batch_job_output": batch_output.strip().splitlines()[-2:],
        }
    print(json.dumps(summary, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
