"""``POST /v1/admin/reload``: serve the version the alias points to now (admin role)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.auth import SECURED, Admin
from serving.scoring.model_store import polling_interval
from serving.scoring.schemas import ReloadResult
from serving.service import ERROR_RESPONSES, ServiceDep

router = APIRouter(tags=["admin"])


@router.post(
    "/v1/admin/reload",
    response_model=ReloadResult,
    responses=ERROR_RESPONSES | {502: {"model": ReloadResult, "description": "Reload failed"}},
    openapi_extra=SECURED,
)
async def reload_model(caller: Admin, service: ServiceDep, force: bool = False) -> JSONResponse:
    """Load, smoke-test and swap in the alias's version; on failure keep serving the old one.

    ``force`` reloads even when the alias has not moved. Requests in flight finish on the
    model they started with. The request reaches one worker process; with several, every
    worker looks at the alias every ``polling_seconds`` and follows it (a forced reload of
    the same version reaches this worker only).
    """
    model = service.model
    outcome = await service.reload(force=force)
    result = ReloadResult(
        status=outcome.status,
        previous_version=outcome.previous_version or model.version,
        version=outcome.version,
        error=outcome.error,
        worker=os.getpid(),
        polling_seconds=polling_interval(service.settings),
    )
    code = 502 if outcome.status == "failed" else 200
    return JSONResponse(result.model_dump(), status_code=code)
