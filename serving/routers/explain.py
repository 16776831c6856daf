"""``POST /v1/explain``: one customer's full per-feature contributions (raw features)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from serving.routers.score import begin, scoring_route
from serving.scoring.predictor import explanation_of
from serving.scoring.schemas import Contribution, ExplainResponse
from serving.service import Scoring, json_response

router = APIRouter(tags=["explain"])


@scoring_route(
    router,
    "/v1/explain",
    "ExplainRequest",
    ExplainResponse,
    "Explain one customer's score: every raw feature's contribution (log-odds)",
)
async def explain(request: Request, call: Scoring) -> Response:
    """Contributions add up: ``base_value + sum(contributions) == margin == logit(pd)``."""
    answering, body = await begin(request, call, "explain")
    customer = body.customer.model_dump(by_alias=True)
    decision, explanation = explanation_of(answering.model, customer)
    request_id, ref = await answering.record([decision], [body.customer_id])
    reply = ExplainResponse(
        request_id=request_id,
        model=ref,
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
