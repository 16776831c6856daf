"""Several workers, one reload (issue 13, item 12): a real ``uvicorn --workers 2``.

``POST /v1/admin/reload`` reaches one worker process. The others used to keep the old version
for good (answers split between versions); they now poll the alias by default, so within the
polling interval every answer, from every worker, comes from the new version. Each answer of
``/v1/model`` and ``/metrics`` names its worker (pid) and the version it serves.

uvicorn itself, as ``riskgrade serve`` runs it (``serving.app:app_from_environment``), with a
generous worker health-check timeout: a worker busy importing on a loaded machine is not
killed as unresponsive.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serving_support import NAME, Registry, fit

from serving.scoring.model_store import SHARED_RELOAD_INTERVAL_SECONDS, polling_interval
from serving.settings import Settings

pytestmark = pytest.mark.faults
STARTED = "Application startup complete."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_lines(lines: list[str], text: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sum(text in line for line in lines) < count:
        assert time.monotonic() < deadline, f"no {count}x {text!r} in {timeout} s:\n" + "".join(
            lines
        )
        time.sleep(0.2)


@dataclass(frozen=True)
class Server:
    url: str
    next_version: str  # registered while the workers start, not yet the champion


@pytest.fixture
def two_workers(registry: Registry, tmp_path: Path) -> Iterator[Server]:
    """Two workers serving v2 (logistic: quick to load; development mode: open access)."""
    registry.set_champion("2")
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"RISKGRADE_RELOAD_INTERVAL_SECONDS", "RISKGRADE_WORKERS"}
    }
    environment |= {
        "RISKGRADE_MODE": "development",
        "RISKGRADE_MODEL_NAME": NAME,
        "RISKGRADE_TRACKING_URI": registry.uri,
        "RISKGRADE_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.db'}",
    }
    command = [sys.executable, "-m", "uvicorn", "serving.app:app_from_environment", "--factory"]
    options = ["--workers", "2", "--timeout-worker-healthcheck", "120", "--no-access-log"]
    server = subprocess.Popen(
        [*command, *options, "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stderr=subprocess.STDOUT,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert server.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(server.stdout or ()), daemon=True)
    reader.start()
    try:
        next_version = registry.register(
            fit(registry.config, registry.parts["train"], "logistic"), {}
        )
        wait_for_lines(lines, STARTED, 2, timeout=120)  # both workers serve v2
        yield Server(f"http://127.0.0.1:{port}", next_version)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        registry.set_champion("1")


def answers(base: str, n: int) -> list[dict]:
    """``/v1/model`` ``n`` times, concurrently, each on a new connection (any worker)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: httpx.get(f"{base}/v1/model").json(), range(n)))


def test_one_reload_reaches_every_worker(two_workers: Server, registry: Registry) -> None:
    url, new = two_workers.url, two_workers.next_version
    assert {a["version"] for a in answers(url, 16)} == {"2"}
    registry.set_champion(new)
    reloaded = httpx.post(f"{url}/v1/admin/reload", timeout=60).json()
    assert reloaded["status"] == "reloaded" and reloaded["version"] == new
    assert reloaded["polling_seconds"] == SHARED_RELOAD_INTERVAL_SECONDS
    deadline = time.monotonic() + SHARED_RELOAD_INTERVAL_SECONDS + 15  # + a load on 2 cores
    seen: Counter[tuple[str, int | None]] = Counter()
    while True:
        batch = answers(url, 16)
        seen.update((a["version"], a.get("worker")) for a in batch)
        workers = {a.get("worker") for a in batch}
        if {a["version"] for a in batch} == {new} and len(workers) == 2:
            break
        assert time.monotonic() < deadline, f"(version, worker) answers: {dict(seen)}"
        time.sleep(0.5)
    gauges = {  # each worker's own gauge (a scrape reaches one worker)
        f'riskgrade_worker_model_info{{name="{NAME}",version="{new}",worker="{worker}"}} 1.0'
        for worker in workers
    }
    for _ in range(60):
        gauges -= {g for g in gauges if g in httpx.get(f"{url}/metrics").text}
        if not gauges:
            break
    assert not gauges, f"never scraped: {gauges}"


@pytest.mark.parametrize(
    ("values", "spawned", "expected"),
    [
        ({}, False, None),  # one uvicorn process: reloads reach the only worker
        ({}, True, SHARED_RELOAD_INTERVAL_SECONDS),  # a worker of `uvicorn --workers N`
        ({"workers": 4}, False, SHARED_RELOAD_INTERVAL_SECONDS),  # as riskgrade serve says
        ({"workers": 1}, True, None),  # said to be alone
        ({"workers": 4, "reload_interval_seconds": 30}, True, 30),  # as configured
        ({"reload_interval_seconds": 2}, False, 2),
    ],
)
def test_several_workers_poll_by_default(
    values: dict, spawned: bool, expected: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = object() if spawned else None
    monkeypatch.setattr("multiprocessing.parent_process", lambda: parent)
    assert polling_interval(Settings(**values)) == expected
