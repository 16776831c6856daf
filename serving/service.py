"""The objects one running app shares, and the request helpers every router uses."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from pydantic import BaseModel, ValidationError

from serving.auth import API_KEY_HEADER, SECURED, Caller, KeyRing, check_role
from serving.metrics import ServiceMetrics
from serving.scoring.model_store import ModelHolder, ReloadOutcome
from serving.scoring.predictor import LoadedModel
from serving.scoring.schemas import ErrorResponse
from serving.settings import Settings
from serving.stores.audit_writer import AuditLog

log = logging.getLogger("riskgrade.serving")
RETRY_FAILED_SECONDS = 60.0  # polling: how long a version that failed to load is left alone


class InvalidBodyError(Exception):
    """A request body that does not match the loaded model's request model."""

    def __init__(self, error: ValidationError, expected: dict[str, str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.expected = expected


@dataclass
class Service:
    """Settings, the model holder, the audit log, metrics and API keys of one app."""

    settings: Settings
    keyring: KeyRing
    metrics: ServiceMetrics
    audit: AuditLog
    holder: ModelHolder | None = None
    on_swap: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def model(self) -> LoadedModel:
        """The model being served now (read it once per request)."""
        if self.holder is None:
            raise HTTPException(503, "no model loaded yet")
        return self.holder.current

    async def reload(self, force: bool = False, retry_after: float = 0.0) -> ReloadOutcome:
        """Reload through the holder; count it, and publish the new version's schema."""
        if self.holder is None:
            raise HTTPException(503, "no model loaded yet")
        outcome = await self.holder.reload(force=force, retry_after=retry_after)
        self.metrics.reloads.labels(outcome.status).inc()
        if outcome.status == "reloaded":
            current = self.holder.current
            self.metrics.serving(current.name, current.version)
            if self.on_swap is not None:
                self.on_swap()
        return outcome

    async def poll(self, interval: float) -> None:
        """Reload whenever the alias moves; runs until cancelled. A version that failed to
        load is tried again after ``RETRY_FAILED_SECONDS`` (or as soon as the alias moves)."""
        log.info(
            "worker %d: looking at @%s every %g s", os.getpid(), self.settings.model_alias, interval
        )
        while True:
            await asyncio.sleep(interval)
            outcome = await self.reload(retry_after=RETRY_FAILED_SECONDS)
            if outcome.status == "failed":
                log.warning("polling reload failed: %s", outcome.error)


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


@dataclass(frozen=True)
class ScorerCall:
    """The service and an authenticated caller with the ``scorer`` role (one dependency)."""

    service: Service
    caller: Caller


async def scorer_call(request: Request) -> ScorerCall:
    """Auth + service in ONE dependency: each dependency node costs FastAPI ~20 us/request."""
    service: Service = request.app.state.service
    caller = service.keyring.identify(request.headers.get(API_KEY_HEADER))
    check_role(caller, "scorer")
    return ScorerCall(service, caller)


Scoring = Annotated[ScorerCall, Depends(scorer_call)]


async def read_body(
    request: Request, model_class: type[BaseModel], expected: dict[str, str]
) -> Any:
    """The body validated against ``model_class``, straight from bytes (pydantic's parser)."""
    raw = await request.body()
    try:
        return model_class.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidBodyError(error, expected) from None


def new_request_id() -> str:
    return uuid.uuid4().hex


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def json_response(payload: BaseModel, request_id: str) -> Response:
    """Serialize with pydantic (no second validation) and echo the request id."""
    return Response(
        payload.model_dump_json(),
        media_type="application/json",
        headers={"X-Request-ID": request_id},
    )


def body_schema(component: str) -> dict[str, Any]:
    """``openapi_extra`` naming the request body component built from the model signature."""
    return SECURED | {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}
            },
        }
    }


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Malformed JSON",
        401: "Missing or unknown API key",
        403: "The API key lacks the role",
        413: "Body over the size limit",
        422: "Invalid field: names the field and what was expected",
        503: "Audit store unavailable: nothing was scored",
    }.items()
}
