"""Start and stop the servers the serving benchmark compares, all on 127.0.0.1.

- ``riskgrade``: ``riskgrade serve`` (the real service as users start it, uvicorn with
  riskgrade's connection limits: ``serving.limits``; auth off in development mode, audit to a
  temporary SQLite file, LightGBM 1 thread per worker);
- ``mlflow``: ``mlflow models serve -m models:/<name>@champion --env-manager local``;
- ``floor``: a bare FastAPI endpoint returning a constant (``floor_app.py``): the HTTP floor.
Each server runs in its own process group and is always stopped (``stop_server``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SERVER_ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",  # idle OpenMP threads sleep instead of spinning
    "OMP_NUM_THREADS": "1",  # one LightGBM thread per worker process (2 cores)
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def command(kind: str, port: int, workers: int, model_uri: str) -> list[str]:
    uvicorn = [str(BIN / "uvicorn"), "--host", HOST, "--port", str(port)]
    uvicorn += ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    if kind == "riskgrade":  # as users run it: uvicorn with riskgrade's connection limits
        return [str(BIN / "riskgrade"), "serve", "--host", HOST, "--port", str(port),
                "--workers", str(workers)]  # fmt: skip
    if kind == "floor":
        return [*uvicorn, "--app-dir", str(HERE), "floor_app:app"]
    return [
        str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
        "-h", HOST, "-p", str(port), "-w", str(workers),
    ]  # fmt: skip


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after 15 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def running(
    kind: str, port: int, workers: int, model_uri: str, env: dict[str, str], log: Path
) -> Iterator[str]:
    """A started server of ``kind``; yields its base URL; stops it on exit."""
    health = {"riskgrade": "/readyz", "floor": "/healthz", "mlflow": "/ping"}[kind]
    base = f"http://{HOST}:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command(kind, port, workers, model_uri),
            env=os.environ | SERVER_ENV | env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop_server takes the workers too
            cwd=HERE.parents[1],
        )
        try:
            wait_ready(base + health, process)
            yield base
        finally:
            stop_server(process)
