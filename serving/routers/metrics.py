"""``GET /metrics``: Prometheus text exposition of the service's counters and histograms."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from serving.service import ServiceDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
