"""``GET /v1/customers/{customer_id}/report``: the customer's latest recorded scoring.

Built from what riskgrade stores -- the audit trail of service decisions and batch scoring
runs, both keyed by the HMAC of the id -- so no customer record is kept for it. The
"what would improve the tier" part needs the customer's features and is therefore only in
``riskgrade customer-report`` (given the customer file); here ``improvements`` is empty.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse

from models.customers.report import build_customer_report, render_html
from models.scoring.reason_codes import ReasonSettings, default_label
from serving.auth import SECURED
from serving.scoring.predictor import grades_of
from serving.scoring.schemas import ErrorResponse
from serving.service import ERROR_RESPONSES, Scoring
from serving.stores.audit import customer_decisions, hash_customer_id
from serving.stores.portfolio import customer_history, open_store

router = APIRouter(tags=["customers"])
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES | {
    200: {"content": {"text/html": {}}, "description": "The report (JSON, or HTML page)"},
    404: {"model": ErrorResponse, "description": "No scoring is recorded for this customer"},
}


def service_decisions(url: str, key: str) -> list[dict[str, Any]]:
    """Service decisions about one customer, oldest first, as history entries."""
    rows = customer_decisions(url, key)
    return [
        {"time": r["decided_at"].isoformat(timespec="seconds"), "model_version": r["model_version"],
         "pd": float(r["pd"]), "score": int(r["score"]), "tier": r["tier"],
         "reason_codes": list(r["reason_codes"] or []), "source": "service"}
        for r in rows
    ]  # fmt: skip


def recorded_reasons(settings: ReasonSettings, features: list[str]) -> list[dict[str, Any]]:
    """Recorded reason codes worded with the version's reason template and labels
    (``scorecard.reasons``), as ``riskgrade customer-report`` words them.

    The audit trail records which features were reasons, not the customer's values, so the
    ``{value}`` placeholder is left empty (and the spaces around it closed up): the default
    ``"{label} {value} raises risk"`` reads ``"Loan duration (months) raises risk"``.
    """
    reasons = []
    for feature in features:
        label = settings.labels.get(feature, default_label(feature))
        sentence = settings.template.format(label=label, value="")
        reasons.append({"feature": feature, "sentence": " ".join(sentence.split())})
    return reasons


@router.get(
    "/v1/customers/{customer_id}/report",
    responses=REPORT_RESPONSES,
    openapi_extra=SECURED,
    summary="The customer's latest recorded score, tier, strategy, risk factors and history",
)
async def customer_report(
    customer_id: str, call: Scoring, format: Literal["json", "html"] = "json"
) -> Any:
    service = call.service
    settings = service.settings
    key = hash_customer_id(customer_id, settings.hash_secret) or ""
    batch = [h | {"source": "batch"} for h in customer_history(open_store(settings.audit_url), key)]
    history = sorted(service_decisions(settings.audit_url, key) + batch, key=lambda h: h["time"])
    if not history:
        raise HTTPException(404, "no scoring is recorded for this customer")
    latest, model = history[-1], service.model
    if latest["model_version"] == model.version:  # a grade is only defined by its own scale
        latest = latest | {"grade": grades_of(model, np.array([latest["pd"]]))[0]}
    report = build_customer_report(
        latest,
        recorded_reasons(model.policy.reasons, latest.get("reason_codes", [])),
        model.policy.strategies.for_tier(latest["tier"]),
        [],
        history,
        f"{model.name}/{latest['model_version']}",
    )
    if format == "html":
        return HTMLResponse(render_html(report))
    return JSONResponse(report)
