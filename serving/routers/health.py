"""``GET /healthz`` (the process answers) and ``GET /readyz`` (model loaded, audit reachable)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.scoring.schemas import Health, Readiness
from serving.service import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(service: ServiceDep) -> JSONResponse:
    version = service.holder.current.version if service.holder else None
    audit_ok = await asyncio.to_thread(service.audit.ping)
    ready = version is not None and audit_ok
    body = Readiness(
        status="ready" if ready else "not ready",
        model_version=version,
        audit="ok" if audit_ok else "unavailable",
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
