"""One bounded wrk run against 127.0.0.1 and its figures: req/s, p50, p99, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses + socket errors


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `apt-get install wrk` (Debian package)")
    return path


def write_script(path: Path, body: dict[str, object]) -> Path:
    """A wrk Lua script POSTing ``body`` as JSON."""
    text = json.dumps(body)
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(text)}\n",
        encoding="utf-8",
    )
    return path


def milliseconds(value: str | None) -> float:
    """``"1.25ms"`` -> 1.25; NaN when wrk printed no such percentile (no request finished)."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value or "")
    if found is None:
        return float("nan")
    number, unit = found.groups()
    return float(number) * UNITS.get(unit, 60_000.0)


def parse(output: str) -> LoadResult:
    percentile = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket.groups()) if socket else 0
    return LoadResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=milliseconds(percentile.get("50")),
        p99_ms=milliseconds(percentile.get("99")),
        requests=int(total.group(1)) if total else 0,
        errors=errors,
    )


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> LoadResult:
    """``wrk`` with one thread (the load generator shares the 2 cores with the server)."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"refusing to load anything but 127.0.0.1, got {url}")
    command = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["--latency"]
    command += ["-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse(done.stdout)
