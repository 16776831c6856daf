"""Unauthenticated clients cannot exhaust the server (issue 13, item 4): a real `riskgrade serve`.

Before: a 64 MB header was read whole (four such connections: +240 MB resident), an 8 MB
header or 100,000 header fields got 200, a client sending its header or its body one byte at a
time held its connection for ever, and SIGTERM waited 38.5 s for one slow upload. Now
``serving.limits`` and uvicorn's own options bound each (``RISKGRADE_*`` settings, README
"Serving"): 431 for a header too large or with too many fields, cut off before it is read; 408
(or the connection closed) for a header or body slower than its timeout; 503 over the
connection limit; exit within the graceful-shutdown timeout.

Raw sockets against ``riskgrade serve`` on free 127.0.0.1 ports, development mode (open
access), with short timeouts: the tests take about 13 s once the two servers, started
together, are up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from serving_support import NAME, Registry

pytestmark = pytest.mark.faults
HOST = "127.0.0.1"
HEADER_TIMEOUT = 1.5  # RISKGRADE_HEADER_TIMEOUT_SECONDS in these tests
BODY_TIMEOUT = 1.5  # RISKGRADE_BODY_TIMEOUT_SECONDS
KEEP_ALIVE = 1  # RISKGRADE_KEEP_ALIVE_SECONDS (default 5)
SHUTDOWN_TIMEOUT = 2  # RISKGRADE_SHUTDOWN_TIMEOUT_SECONDS
MAX_CONNECTIONS = 6  # RISKGRADE_MAX_CONNECTIONS
SLACK = 1.5  # seconds a timer may run late on a loaded 2-core machine
PROMPT = 2.0  # a refusal arrives within this (seconds)
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def connect(self) -> socket.socket:
        return socket.create_connection((HOST, self.port), timeout=10)

    def resident_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(row for row in status.splitlines() if row.startswith("VmRSS:"))
        return int(line.split()[1])

    def get_health(self) -> int:
        return httpx.get(f"http://{HOST}:{self.port}/healthz", timeout=10).status_code

    def wait_ready(self, timeout: float = 180) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"riskgrade serve exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{HOST}:{self.port}/readyz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        raise TimeoutError(f"riskgrade serve not ready within {timeout} s")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def launch(registry: Registry, tmp_path: Path, limits: dict[str, float]) -> Server:
    """``riskgrade serve`` (not yet ready) with ``limits`` as ``RISKGRADE_<NAME>`` settings."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RISKGRADE_")}
    environment |= {
        "RISKGRADE_MODE": "development",
        "RISKGRADE_MODEL_NAME": NAME,
        "RISKGRADE_TRACKING_URI": registry.uri,
        "RISKGRADE_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.db'}",
    } | {f"RISKGRADE_{name.upper()}": str(value) for name, value in limits.items()}
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "riskgrade"), "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Server(port, process, log)


@pytest.fixture(scope="module")
def servers(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    """Two servers on v2 (logistic: quick to load), started together: one with short limits
    (header size and field count: the defaults), one to stop with SIGTERM -- its body timeout
    long, so that only the graceful-shutdown timeout can end a slow upload."""
    registry.set_champion("2")
    limits = {
        "header_timeout_seconds": HEADER_TIMEOUT,
        "body_timeout_seconds": BODY_TIMEOUT,
        "keep_alive_seconds": KEEP_ALIVE,
        "max_connections": MAX_CONNECTIONS,
    }
    stopping = {"body_timeout_seconds": 60, "shutdown_timeout_seconds": SHUTDOWN_TIMEOUT}
    launched = [
        launch(registry, tmp_path_factory.mktemp("limits"), limits),
        launch(registry, tmp_path_factory.mktemp("stopping"), stopping),
    ]
    try:
        yield launched
    finally:
        for running in launched:
            running.kill()
        registry.set_champion("1")


@pytest.fixture(scope="module")
def server(servers: list[Server]) -> Server:
    return servers[0].wait_ready()


def head(method: str, path: str, fields: list[bytes]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: {HOST}".encode(), *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def send_all(sock: socket.socket, data: bytes, chunk: int = MIB) -> bool:
    """Send ``data``; False when the server cut the connection first."""
    try:
        for start in range(0, len(data), chunk):
            sock.sendall(data[start : start + chunk])
    except OSError:  # reset, broken pipe, or no room left for the whole of it
        return False
    return True


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True) or ``within`` s pass."""
    deadline = time.monotonic() + within
    data = b""
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def read_response(sock: socket.socket, within: float = 10) -> tuple[int, bytes]:
    """One response with a Content-Length: ``(status, body)``."""
    deadline = time.monotonic() + within
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    raw_head, body = data.split(b"\r\n\r\n", 1)
    lines = raw_head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines[1:])
    while len(body) < int(fields["content-length"]):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        body += sock.recv(65536)
    return int(lines[0].split()[1]), body


def status_of(data: bytes) -> int | None:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


@contextlib.contextmanager
def trickling(sock: socket.socket, data: bytes, interval: float) -> Iterator[None]:
    """Send ``data`` one byte every ``interval`` s, in the background, while the block runs."""
    stop = threading.Event()

    def send() -> None:
        for byte in data:
            if stop.wait(interval):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        yield
    finally:
        stop.set()
        sender.join()


def test_a_header_of_8_mib_is_refused_before_it_is_read(server: Server) -> None:
    with server.connect() as sock:
        started = time.monotonic()
        send_all(sock, head("GET", "/healthz", [b"X-Big: " + b"a" * (8 * MIB)]))
        answer, closed = read_until_closed(sock, PROMPT)
    elapsed = time.monotonic() - started
    assert status_of(answer) in {431, None} and closed, answer[:200]  # None: reset first
    assert elapsed < PROMPT + 1


def test_too_many_header_fields_get_431(server: Server) -> None:
    fields = [f"X-Field-{i}: 1".encode() for i in range(101)]  # the default limit: 100
    with server.connect() as sock:
        sock.sendall(head("GET", "/healthz", fields))
        status, body = read_response(sock)
        assert status == 431 and b"100" in body, body
        assert read_until_closed(sock, PROMPT)[1]  # and the connection is closed


def test_100_000_header_fields_are_refused_before_they_are_read(server: Server) -> None:
    fields = [f"X-{i}: 1".encode() for i in range(100_000)]
    with server.connect() as sock:
        send_all(sock, head("GET", "/healthz", fields))
        answer, closed = read_until_closed(sock, PROMPT)
    assert status_of(answer) in {431, None} and closed, answer[:200]


def test_headers_of_64_mib_on_4_connections_are_not_read_into_memory(server: Server) -> None:
    before = server.resident_kib()
    big = head("GET", "/healthz", [b"X-Big: " + b"a" * (64 * MIB)])
    sockets = [server.connect() for _ in range(4)]
    try:
        for sock in sockets:
            sock.settimeout(5)
        results: list[bool] = []
        senders = [
            threading.Thread(target=lambda s=sock: results.append(send_all(s, big)))
            for sock in sockets
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        grown_mib = (server.resident_kib() - before) / 1024
    finally:
        for sock in sockets:
            sock.close()
    assert results == [False] * 4, "the server read a 64 MiB header to its end"
    assert grown_mib < 16, f"resident memory grew by {grown_mib:.0f} MiB"
    assert server.get_health() == 200


@pytest.mark.parametrize(
    "sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "], ids=["silent", "slow"]
)
def test_a_slow_or_silent_header_is_cut_off(server: Server, sent: bytes) -> None:
    """A client that sends nothing, or its header one byte per 0.3 s (after a first line)."""
    with server.connect() as sock:
        started = time.monotonic()
        sock.sendall(sent[:25])
        with trickling(sock, sent[25:] + b"a" * 100 if sent else b"", interval=0.3):
            answer, closed = read_until_closed(sock, HEADER_TIMEOUT + SLACK)
        elapsed = time.monotonic() - started
    assert closed, f"still open after {elapsed:.1f} s"
    assert status_of(answer) == (408 if sent else None), answer
    assert elapsed > HEADER_TIMEOUT - 0.1


def test_a_slow_body_gets_408(server: Server) -> None:
    fields = [b"Content-Type: application/json", b"Content-Length: 500"]
    with server.connect() as sock:
        sock.sendall(head("POST", "/v1/score", fields) + b'{"customer": ')
        started = time.monotonic()
        with trickling(sock, b" " * 400, interval=0.3):
            answer, closed = read_until_closed(sock, BODY_TIMEOUT + SLACK)
        elapsed = time.monotonic() - started
    assert status_of(answer) == 408 and closed, answer
    assert b"1.5 s" in answer
    assert BODY_TIMEOUT - 0.1 < elapsed < BODY_TIMEOUT + SLACK


def test_a_slow_body_the_service_does_not_read_is_cut_off(server: Server) -> None:
    """``/healthz`` answers at once without reading the body; the rest must not trickle on."""
    with server.connect() as sock:
        sock.sendall(head("GET", "/healthz", [b"Content-Length: 500"]) + b"x")
        started = time.monotonic()
        status, _ = read_response(sock)
        assert status == 200
        with trickling(sock, b"x" * 400, interval=0.3):
            _, closed = read_until_closed(sock, BODY_TIMEOUT + SLACK)
        elapsed = time.monotonic() - started
    assert closed, f"still open after {elapsed:.1f} s"


def test_an_idle_keep_alive_connection_is_closed(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(head("GET", "/healthz", []))
        assert read_response(sock)[0] == 200
        started = time.monotonic()
        _, closed = read_until_closed(sock, KEEP_ALIVE + SLACK)
        assert closed and time.monotonic() - started > KEEP_ALIVE - 0.1


def test_requests_over_the_connection_limit_get_503(server: Server) -> None:
    idle = [server.connect() for _ in range(MAX_CONNECTIONS)]  # each silent: a slot held
    try:
        time.sleep(0.2)
        with server.connect() as sock:
            sock.sendall(head("GET", "/healthz", []))
            status, _ = read_response(sock)
        assert status == 503
    finally:
        for sock in idle:
            sock.close()
    deadline = time.monotonic() + 5  # the server sees the closed connections go
    while server.get_health() != 200:
        assert time.monotonic() < deadline, "still 503 after the connections closed"
        time.sleep(0.2)


def test_sigterm_with_a_slow_upload_in_flight_exits_within_the_shutdown_timeout(
    servers: list[Server],
) -> None:
    stopping = servers[1].wait_ready()
    with stopping.connect() as sock:
        fields = [b"Content-Type: application/json", b"Content-Length: 500"]
        sock.sendall(head("POST", "/v1/score", fields) + b"{")
        with trickling(sock, b" " * 400, interval=0.3):
            time.sleep(0.5)
            started = time.monotonic()
            stopping.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                stopping.process.wait(timeout=SHUTDOWN_TIMEOUT + 3 * SLACK)
            elapsed = time.monotonic() - started
    assert stopping.process.returncode is not None, f"still running after {elapsed:.1f} s"
    assert elapsed < SHUTDOWN_TIMEOUT + 3 * SLACK
