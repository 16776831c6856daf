"""Errors for people: every bad request gets a 4xx naming the field and what was expected.

- malformed JSON -> 400; body over the size limit -> 413 (checked before the body is read when
  ``Content-Length`` says so, and while streaming otherwise);
- missing / wrong type / null / unknown field / empty or oversized batch -> 422 with one entry
  per problem: ``field`` (dotted path), ``message`` and ``expected``;
- values that drive the model out of range -> 422; audit store down -> 503.
Unexpected failures are logged with a request id and answered 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.scoring.predictor import UnscorableInputError
from serving.stores.audit import AuditUnavailableError

log = logging.getLogger("riskgrade.serving")


class BodyTooLargeError(Exception):
    """The request body exceeds ``max_body_bytes``."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than the limit of {limit} bytes")
        self.limit = limit


def error_json(code: int, message: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "errors": errors or []}, status_code=code)


def field_path(loc: tuple[Any, ...]) -> str:
    """``("items", 3, "customer", "age")`` -> ``items[3].customer.age``."""
    path = ""
    for part in loc:
        if part == "body":
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def expected_for(path: str, expected: dict[str, str]) -> str | None:
    """What the field expects, looked up without batch positions (``items[3].customer.x``)."""
    plain = path.split("].", 1)[1] if path.startswith("items[") and "]." in path else path
    return expected.get(plain) or expected.get(path)


def describe_errors(error: ValidationError, expected: dict[str, str]) -> list[dict[str, Any]]:
    """One ``{field, message, expected}`` per pydantic error (never echoes input values)."""
    items = []
    for problem in error.errors(include_input=False, include_url=False):
        path = field_path(tuple(problem["loc"]))
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown field: not an input of this model (see GET /v1/model)"
        items.append({"field": path, "message": message, "expected": expected_for(path, expected)})
    return items


def validation_response(error: ValidationError, expected: dict[str, str]) -> JSONResponse:
    """400 for malformed JSON, 422 otherwise; the message lists every problem."""
    problems = error.errors(include_input=False, include_url=False)
    if any(p["type"] == "json_invalid" for p in problems):
        detail = problems[0]["msg"]
        return error_json(status.HTTP_400_BAD_REQUEST, f"malformed JSON body: {detail}")
    items = describe_errors(error, expected)
    summary = "; ".join(
        f"{i['field']}: {i['message']}" + (f" (expected {i['expected']})" if i["expected"] else "")
        for i in items[:10]
    )
    return error_json(status.HTTP_422_UNPROCESSABLE_CONTENT, f"invalid request: {summary}", items)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn known failures into clear 4xx/503 answers."""

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, error: RequestValidationError) -> JSONResponse:
        items = [
            {"field": field_path(tuple(e["loc"])), "message": e["msg"], "expected": None}
            for e in error.errors()
        ]
        return error_json(
            422,
            "invalid request: " + "; ".join(f"{i['field']}: {i['message']}" for i in items),
            items,
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        response = error_json(error.status_code, str(error.detail))
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(BodyTooLargeError)
    async def _too_large(_: Request, error: BodyTooLargeError) -> JSONResponse:
        return error_json(status.HTTP_413_CONTENT_TOO_LARGE, str(error))

    @app.exception_handler(UnscorableInputError)
    async def _unscorable(_: Request, error: UnscorableInputError) -> JSONResponse:
        return error_json(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))

    @app.exception_handler(AuditUnavailableError)
    async def _audit(_: Request, error: AuditUnavailableError) -> JSONResponse:
        message = f"{error}: no score was returned; retry later"
        return error_json(status.HTTP_503_SERVICE_UNAVAILABLE, message)


class BodyLimitMiddleware:
    """Pure ASGI middleware: refuse bodies over ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await error_json(413, str(BodyTooLargeError(self.limit)))(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLargeError(self.limit)
            return message

        await self.app(scope, counting_receive, send)
