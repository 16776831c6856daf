"""``POST /v1/score`` (one customer) and ``POST /v1/score/batch`` (up to the batch limit), and
what every scoring route shares (``/v1/explain`` too): its declaration, the start of a request
and the audit of its decisions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.types import DecoratedCallable
from pydantic import BaseModel

from serving.auth import Caller
from serving.scoring.predictor import Decision, LoadedModel, decide
from serving.scoring.schemas import BatchScoreResponse, ModelRef, ScoreResponse, ScoreResult
from serving.service import (
    ERROR_RESPONSES,
    ScorerCall,
    Scoring,
    Service,
    body_schema,
    elapsed_ms,
    json_response,
    new_request_id,
    read_body,
)
from serving.stores.audit import decision_row, hash_customer_id

router = APIRouter(tags=["score"])
THREAD_THRESHOLD = 50  # batches at least this large are scored off the event loop
Endpoint = Literal["score", "batch", "explain"]  # as audited; names the request model too


def audit_rows(
    service: Service,
    context: tuple[str, str, LoadedModel, Caller, float],
    decisions: list[Decision],
    customer_ids: list[str | None],
) -> list[dict[str, Any]]:
    """Audit rows for decisions made in one request (``context``: id, endpoint, model...)."""
    request_id, endpoint, model, caller, latency = context
    secret = service.settings.hash_secret
    return [
        decision_row(
            request_id=request_id,
            item=i,
            endpoint=endpoint,
            model_name=model.name,
            model_version=model.version,
            customer_hash=hash_customer_id(customer_id, secret),
            pd=d.pd,
            score=d.score,
            tier=d.tier,
            reason_codes=None if d.reasons is None else [r["feature"] for r in d.reasons],
            unseen_categories=d.unseen,
            latency_ms=latency,
            caller=caller.name,
        )
        for i, (d, customer_id) in enumerate(zip(decisions, customer_ids, strict=True))
    ]


def result_of(decision: Decision, model: LoadedModel) -> dict[str, Any]:
    return {
        "pd": decision.pd,
        "score": decision.score,
        "grade": decision.grade,
        "tier": decision.tier,
        "reasons": decision.reasons,
        "unseen_categories": decision.unseen,
        "strategy": model.policy.strategies.for_tier(decision.tier),
    }


def scoring_route(
    router: APIRouter, path: str, body: str, response_model: type[BaseModel], summary: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """``POST path`` for a route that reads its body itself (``read_body``), so the OpenAPI
    document gets the body's schema (the component named ``body``) and the error responses."""
    return router.post(
        path,
        response_model=response_model,
        responses=ERROR_RESPONSES,
        openapi_extra=body_schema(body),
        summary=summary,
    )


@dataclass(frozen=True)
class Answering:
    """A scoring request being answered: its endpoint and caller, when it started, and the
    model read once at the start (the request finishes on that model even if a reload swaps
    the served one meanwhile)."""

    endpoint: Endpoint
    call: ScorerCall
    model: LoadedModel
    started: float

    async def record(
        self, decisions: list[Decision], customer_ids: list[str | None]
    ) -> tuple[str, ModelRef]:
        """Audit the decisions first (503 if that fails), then count them by tier; the new
        request id and the model reference, for the reply. The audited latency excludes the
        audit write."""
        service, model = self.call.service, self.model
        request_id = new_request_id()
        context = (request_id, self.endpoint, model, self.call.caller, elapsed_ms(self.started))
        await service.audit.record(audit_rows(service, context, decisions, customer_ids))
        for decision in decisions:
            service.metrics.decisions.labels(decision.tier).inc()
        return request_id, ModelRef(name=model.name, version=model.version)


async def begin(request: Request, call: ScorerCall, endpoint: Endpoint) -> tuple[Answering, Any]:
    """Start answering a request: the clock, the served model, and the body validated against
    that model's request model of ``endpoint`` (``RequestModels.score``, ``batch``, ...)."""
    started = time.perf_counter()
    model = call.service.model  # read once: the request finishes on this model
    body_model = getattr(model.requests, endpoint)
    body = await read_body(request, body_model, model.requests.expected)
    return Answering(endpoint, call, model, started), body


@scoring_route(
    router,
    "/v1/score",
    "ScoreRequest",
    ScoreResponse,
    "Score one customer: PD, score, tier and reason codes",
)
async def score_one(request: Request, call: Scoring) -> Response:
    answering, body = await begin(request, call, "score")
    model = answering.model
    decisions = decide(model, [body.customer.model_dump(by_alias=True)], body.reason_codes)
    request_id, ref = await answering.record(decisions, [body.customer_id])
    reply = ScoreResponse(request_id=request_id, model=ref, **result_of(decisions[0], model))
    return json_response(reply, request_id)


@scoring_route(
    router,
    "/v1/score/batch",
    "BatchScoreRequest",
    BatchScoreResponse,
    "Score up to the configured number of customers in one call",
)
async def score_batch(request: Request, call: Scoring) -> Response:
    answering, body = await begin(request, call, "batch")
    model = answering.model
    customers = [item.customer.model_dump(by_alias=True) for item in body.items]
    if len(customers) >= THREAD_THRESHOLD:
        decisions = await asyncio.to_thread(decide, model, customers, body.reason_codes)
    else:
        decisions = decide(model, customers, body.reason_codes)
    ids = [item.customer_id for item in body.items]
    request_id, ref = await answering.record(decisions, ids)
    results = [ScoreResult(**result_of(d, model)) for d in decisions]
    reply = BatchScoreResponse(request_id=request_id, model=ref, results=results)
    return json_response(reply, request_id)
