"""``GET /healthz`` (the process answers) and ``GET /readyz`` (a model is loaded and a decision
can be recorded now). Neither touches the audit store: readiness is the audit writer's own
account (its last outcome, and for SQLite whether the file at the path is the one open)."""

from __future__ import annotations

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
    problem = service.audit.problem()
    ready = version is not None and problem is None
    body = Readiness(
        status="ready" if ready else "not ready",
        model_version=version,
        audit="ok" if problem is None else f"unavailable: {problem}",
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
