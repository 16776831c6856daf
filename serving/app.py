"""``create_app(settings)``: the scoring service.

Nothing happens at import. ``create_app`` refuses an audit URL that cannot work
(``DatabaseConfigError``, one line); the lifespan handler opens the audit store, loads
``models:/<name>@<alias>`` (refusing to start with a clear message when there is none),
builds the request models from its signature and starts the optional reload poller. The
OpenAPI document is generated from the model being served, and regenerated after a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema

from serving.auth import SECURITY_SCHEME, KeyRing
from serving.docs import install_offline_docs
from serving.errors import BodyLimitMiddleware, install_error_handlers, validation_response
from serving.limits import BodyTimeoutMiddleware
from serving.metrics import MetricsMiddleware, ServiceMetrics
from serving.routers import admin, customers, explain, health, metrics, model, score
from serving.scoring.model_store import (
    ModelHolder,
    ModelLoadError,
    load_version,
    polling_interval,
    resolve_alias,
)
from serving.service import InvalidBodyError, Service
from serving.settings import Settings
from serving.stores.audit_writer import AuditLog
from serving.stores.engine import DatabaseConfigError

log = logging.getLogger("riskgrade.serving")
REF_TEMPLATE = "#/components/schemas/{model}"


def warn_if_open(settings: Settings) -> None:
    if settings.open_access:
        log.warning("development mode without API keys: every caller may score and reload")
    if settings.customer_id_secret is None:
        log.warning("development mode: customer ids are hashed with the public dev secret")


def freeze_heap() -> None:
    """Exclude everything loaded so far from garbage collection.

    MLflow, pandas, scikit-learn and the model leave a large, long-lived heap; without this,
    every full collection walks it and stalls requests for tens of milliseconds (p99).
    """
    gc.collect()
    gc.freeze()


async def start_model(service: Service) -> None:
    """Load the alias's version; any failure stops start-up with its message."""
    settings = service.settings
    if settings.tracking_uri:
        import mlflow

        mlflow.set_tracking_uri(settings.tracking_uri)
    version = await asyncio.to_thread(resolve_alias, settings)
    loaded = await asyncio.to_thread(load_version, settings, version)
    service.holder = ModelHolder(settings, loaded)
    service.metrics.serving(loaded.name, loaded.version)
    freeze_heap()
    log.info("serving %s version %s (@%s)", loaded.name, loaded.version, settings.model_alias)


def lifespan_for(service: Service) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        warn_if_open(service.settings)
        try:
            await asyncio.to_thread(service.audit.start)
        except DatabaseConfigError as error:
            log.error("cannot start: %s", error)
            raise
        poller = None
        try:
            try:
                await start_model(service)
            except ModelLoadError as error:
                log.error("cannot start: %s", error)
                raise
            interval = polling_interval(service.settings)  # on with several workers
            if interval:
                poller = asyncio.create_task(service.poll(interval))
            yield
        finally:
            if poller is not None:
                poller.cancel()
            await asyncio.to_thread(service.audit.stop)

    return lifespan


def model_openapi(app: FastAPI, service: Service) -> dict[str, Any]:
    """OpenAPI with the request bodies of the model being served."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    if service.holder is not None:
        requests = service.holder.current.requests
        _, definitions = models_json_schema(
            [(m, "validation") for m in requests.components], ref_template=REF_TEMPLATE
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions.get("$defs", {}))
        show_examples(schema, components)
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEME
    app.openapi_schema = schema
    return schema


def show_examples(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Each request body's full example (its component's first ``examples`` entry, built from
    the version's input example) as the media type's ``example``: what Swagger UI and ReDoc
    show and "Try it out" starts from."""
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        ref = (content or {}).get("schema", {}).get("$ref", "")
        examples = components.get(ref.rsplit("/", 1)[-1], {}).get("examples")
        if content is not None and examples:
            content["example"] = examples[0]


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app for ``settings``; the model is loaded when the app starts."""
    audit = AuditLog(settings.audit_url, settings.audit_timeout_seconds)  # DatabaseConfigError
    service = Service(settings, KeyRing(settings), ServiceMetrics(), audit)
    app = FastAPI(
        title="riskgrade scoring service",
        version="1",
        description="Probability of default, credit score, risk tier and reason codes from "
        f"the @{settings.model_alias} version of {settings.model_name!r}.",
        lifespan=lifespan_for(service),
        docs_url=None,  # served from the installed package instead: serving.docs
        redoc_url=None,
    )
    install_offline_docs(app)
    app.state.service = service
    app.state.keyring = service.keyring
    for module in (score, explain, customers, model, health, admin, metrics):
        app.include_router(module.router)
    install_error_handlers(app)

    @app.exception_handler(InvalidBodyError)
    async def _invalid_body(_: Request, error: InvalidBodyError) -> JSONResponse:
        return validation_response(error.error, error.expected)

    def after_swap() -> None:
        app.openapi_schema = None
        freeze_heap()  # the new model joins the frozen heap

    service.on_swap = after_swap
    app.openapi = lambda: model_openapi(app, service)  # type: ignore[method-assign]
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_timeout_seconds)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn factory (``serving.app:app_from_environment``): settings from RISKGRADE_*."""
    return create_app(Settings())
