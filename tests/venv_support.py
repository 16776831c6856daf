"""Throw-away virtual environments and processes for the packaging tests.

A new venv gets no pip of its own: this environment's pip installs into it (``--python``), so
creating one costs a second and what is installed is only what the test asks for. Commands
run in it with ``clean_environment``: nothing points Python back at the work tree.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

Command = list[str | Path]
PIP: Command = [sys.executable, "-m", "pip"]  # this environment's pip


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    site_packages: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def pip_install(self, *args: str | Path, cwd: Path) -> None:
        """``pip install`` into this venv with this environment's pip (no bytecode compiled:
        only what a test imports is compiled, on first import)."""
        run([*PIP, "--python", self.python, "install", "--quiet", "--no-compile", *args], cwd=cwd)


def run(command: Command, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def new_venv(root: Path) -> Venv:
    """An empty virtual environment (no pip, no packages) at ``root``."""
    run([sys.executable, "-m", "venv", "--without-pip", root])
    python = root / "bin" / "python"
    paths = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    return Venv(root, python, Path(paths.stdout.strip()))


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without anything that points Python at the work tree."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    return {k: v for k, v in os.environ.items() if k not in drop} | overrides


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path, name: str, seconds: float = 120
) -> None:
    """Poll ``url`` until it answers 200; fail with ``log`` if ``process`` exits or time runs
    out (``name``: the command, for the message)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet, or 503 while the model loads
        time.sleep(0.5)
    pytest.fail(f"{name} not ready after {seconds:.0f} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
