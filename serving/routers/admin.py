"""``POST /v1/admin/reload``: serve the version the alias points to now (admin role)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.auth import SECURED, Admin
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
    model they started with.
    """
    model = service.model
    outcome = await service.reload(force=force)
    result = ReloadResult(
        status=outcome.status,
        previous_version=outcome.previous_version or model.version,
        version=outcome.version,
        error=outcome.error,
    )
    code = 502 if outcome.status == "failed" else 200
    return JSONResponse(result.model_dump(), status_code=code)
