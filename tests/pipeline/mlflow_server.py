"""A real MLflow tracking server for tests: ``mlflow server`` on a PostgreSQL backend store,
artifacts proxied by the server into a local folder, on a free port of 127.0.0.1.

Its first start creates MLflow's schema and imports the server: about half a minute on an
idle two-core machine, so a test may launch it, do work that needs no MLflow, then wait.

The server runs in its own process group (``mlflow server`` starts uvicorn as a child), so
``stop`` ends both; ``running_mlflow_server`` always stops it, even when the test fails. Its
output goes to a log file, whose tail is in the error when the server does not come up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

START_TIMEOUT_SECONDS = 240.0  # the first start creates MLflow's schema (Alembic, ~50 steps)
STOP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(backend_uri: str, artifacts: Path, port: int) -> list[str]:
    """The production command (README, "Production deployment"), on 127.0.0.1 and one worker."""
    return [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        *("--backend-store-uri", backend_uri),
        *("--artifacts-destination", artifacts.resolve().as_uri()),
        "--serve-artifacts",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]


def server_env() -> dict[str, str]:
    """This environment without any client-side MLflow store; telemetry and jobs off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    return env | {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        # The server's job runner (GenAI scorers, trace archival) has no work from riskgrade;
        # off, the machine is spared its process and its once-a-minute schedulers.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }


class MlflowServer:
    """One ``mlflow server`` process; ``url`` is its tracking URI (``http://127.0.0.1:<port>``)."""

    def __init__(self, backend_uri: str, artifacts: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = server_command(backend_uri, artifacts, self.port)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MlflowServer:
        """Launch the server; ``wait_healthy`` before using it (meanwhile, do other work)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=server_env(), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return self

    def wait_healthy(self) -> None:
        """Until ``GET /health`` answers 200; an early exit or the timeout raises with the log."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited ({self.process.returncode}):\n{self.tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(
            f"mlflow server not healthy after {START_TIMEOUT_SECONDS:.0f} s:\n{self.tail()}"
        )

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL if it has not ended within the timeout."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextlib.contextmanager
def running_mlflow_server(
    backend_uri: str, artifacts: Path, log: Path, wait: bool = True
) -> Iterator[MlflowServer]:
    """A server on ``backend_uri`` (a SQLAlchemy URL) and ``artifacts``, healthy unless
    ``wait`` is False (then call ``wait_healthy``); always stopped after."""
    server = MlflowServer(backend_uri, artifacts, log)
    try:
        server.start()
        if wait:
            server.wait_healthy()
        yield server
    finally:
        server.stop()
