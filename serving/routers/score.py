"""``POST /v1/score`` (one customer) and ``POST /v1/score/batch`` (up to the batch limit)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from serving.auth import Caller
from serving.scoring.predictor import Decision, LoadedModel, decide
from serving.scoring.schemas import BatchScoreResponse, ModelRef, ScoreResponse, ScoreResult
from serving.service import (
    ERROR_RESPONSES,
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


async def record(service: Service, rows: list[dict[str, Any]], decisions: list[Decision]) -> None:
    """Audit first (503 if it fails), then count the decisions by tier."""
    await service.audit.record(rows)
    for decision in decisions:
        service.metrics.decisions.labels(decision.tier).inc()


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema("ScoreRequest"),
    summary="Score one customer: PD, score, tier and reason codes",
)
async def score_one(request: Request, call: Scoring) -> Response:
    service, caller = call.service, call.caller
    started = time.perf_counter()
    model = service.model  # read once: this request finishes on this model
    body = await read_body(request, model.requests.score, model.requests.expected)
    decisions = decide(model, [body.customer.model_dump(by_alias=True)], body.reason_codes)
    request_id = new_request_id()
    context = (request_id, "score", model, caller, elapsed_ms(started))
    await record(service, audit_rows(service, context, decisions, [body.customer_id]), decisions)
    reply = ScoreResponse(
        request_id=request_id,
        model=ModelRef(name=model.name, version=model.version),
        **result_of(decisions[0], model),
    )
    return json_response(reply, request_id)


@router.post(
    "/v1/score/batch",
    response_model=BatchScoreResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema("BatchScoreRequest"),
    summary="Score up to the configured number of customers in one call",
)
async def score_batch(request: Request, call: Scoring) -> Response:
    service, caller = call.service, call.caller
    started = time.perf_counter()
    model = service.model
    body = await read_body(request, model.requests.batch, model.requests.expected)
    customers = [item.customer.model_dump(by_alias=True) for item in body.items]
    if len(customers) >= THREAD_THRESHOLD:
        decisions = await asyncio.to_thread(decide, model, customers, body.reason_codes)
    else:
        decisions = decide(model, customers, body.reason_codes)
    request_id = new_request_id()
    context = (request_id, "batch", model, caller, elapsed_ms(started))
    ids = [item.customer_id for item in body.items]
    await record(service, audit_rows(service, context, decisions, ids), decisions)
    reply = BatchScoreResponse(
        request_id=request_id,
        model=ModelRef(name=model.name, version=model.version),
        results=[ScoreResult(**result_of(d, model)) for d in decisions],
    )
    return json_response(reply, request_id)
