"""``POST /v1/explain``: one customer's full per-feature contributions (raw features)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from serving.routers.score import audit_rows, record
from serving.scoring.predictor import explanation_of
from serving.scoring.schemas import Contribution, ExplainResponse, ModelRef
from serving.service import (
    ERROR_RESPONSES,
    Scoring,
    body_schema,
    elapsed_ms,
    json_response,
    new_request_id,
    read_body,
)

router = APIRouter(tags=["explain"])


@router.post(
    "/v1/explain",
    response_model=ExplainResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=body_schema("ExplainRequest"),
    summary="Explain one customer's score: every raw feature's contribution (log-odds)",
)
async def explain(request: Request, call: Scoring) -> Response:
    """Contributions add up: ``base_value + sum(contributions) == margin == logit(pd)``."""
    started = time.perf_counter()
    service, caller = call.service, call.caller
    model = service.model
    body = await read_body(request, model.requests.explain, model.requests.expected)
    customer = body.customer.model_dump(by_alias=True)
    decision, explanation = explanation_of(model, customer)
    request_id = new_request_id()
    context = (request_id, "explain", model, caller, elapsed_ms(started))
    await record(service, audit_rows(service, context, [decision], [body.customer_id]), [decision])
    reply = ExplainResponse(
        request_id=request_id,
        model=ModelRef(name=model.name, version=model.version),
        pd=decision.pd,
        score=decision.score,
        grade=decision.grade,
        tier=decision.tier,
        base_value=explanation["base_value"],
        margin=explanation["margin"],
        contributions=[Contribution(**item) for item in explanation["contributions"]],
        unseen_categories=decision.unseen,
        method=explanation["method"],
    )
    return json_response(reply, request_id)
