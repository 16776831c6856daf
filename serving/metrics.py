"""Prometheus metrics: request counts and latency, scores by tier, the model version served.

One registry per app (not the process-global one), so several apps in one process (tests) do
not collide. With several uvicorn workers each worker exposes its own counters; a Prometheus
scrape of ``/metrics`` reaches one worker at a time (add ``instance``/``pid`` relabelling, or
run one worker per container as usual behind a load balancer).
``riskgrade_worker_model_info`` names the answering worker (its pid) with the version it
serves, so scrapes show which worker serves what, e.g. while workers follow a reload.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    """The service's collectors in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "riskgrade_requests",
            "HTTP requests by route and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "riskgrade_request_latency_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "riskgrade_decisions",
            "Scoring decisions returned, by risk tier",
            ["tier"],
            registry=self.registry,
        )
        self.model = Gauge(
            "riskgrade_model_info",
            "The model version being served (value 1)",
            ["name", "version"],
            registry=self.registry,
        )
        self.worker_model = Gauge(
            "riskgrade_worker_model_info",
            "The model version this worker process (pid) serves (value 1)",
            ["name", "version", "worker"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "riskgrade_reloads", "Model reloads by outcome", ["status"], registry=self.registry
        )

    def serving(self, name: str, version: str) -> None:
        """Mark ``version`` as the one being served (and no other), by this worker."""
        self.model.clear()
        self.model.labels(name=name, version=version).set(1)
        self.worker_model.clear()
        self.worker_model.labels(name=name, version=version, worker=str(os.getpid())).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_of(scope: Scope) -> str:
    """The route template (``/v1/score``), never the raw path (unbounded label values)."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class MetricsMiddleware:
    """Pure ASGI middleware counting and timing every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_with_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_of(scope)
            self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
