"""``GET /v1/customers/{customer_id}/report``: the customer's latest recorded scoring.

Built from what riskgrade stores -- the audit trail of service decisions and batch scoring
runs, both keyed by the HMAC of the id -- so no customer record is kept for it. The
"what would improve the tier" part needs the customer's features and is therefore only in
``riskgrade customer-report`` (given the customer file); here ``improvements`` is empty.

The history comes in pages of at most ``RISKGRADE_REPORT_HISTORY_LIMIT`` entries (the newest
first page, each page oldest first) with ``history_next``, the ``before`` of the next, older
page: a cursor (time, source, row id), so a page costs the same however long the history
and an entry recorded meanwhile neither repeats nor skips one. The route is a plain ``def``:
FastAPI runs it in its thread pool, so the database reads and the rendering never hold the
event loop that answers ``/healthz`` and scoring.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from models.customers.report import build_customer_report, render_html
from models.scoring.reason_codes import ReasonSettings, default_label
from serving.auth import SECURED
from serving.scoring.predictor import grades_of
from serving.scoring.schemas import ErrorResponse
from serving.service import ERROR_RESPONSES, Scoring, Service
from serving.settings import Settings
from serving.stores.audit import customer_decisions, hash_customer_id
from serving.stores.portfolio import customer_history_page, history_entry, open_store

log = logging.getLogger("riskgrade.serving")
router = APIRouter(tags=["customers"])
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES | {
    200: {"content": {"text/html": {}}, "description": "The report (JSON, or HTML page)"},
    404: {"model": ErrorResponse, "description": "No scoring is recorded for this customer"},
    503: {"model": ErrorResponse, "description": "The audit store cannot be read now"},
}
# microseconds since 1970 (17 digits: before year 5000), source, row id (int64)
CURSOR_PATTERN = r"^[0-9]{1,17}-[sb][0-9]{1,18}$"
SOURCES = "sb"  # service decisions, batch runs: at the same instant a batch entry is later
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ROW_ID_MAX = 2**63 - 1


@dataclass(frozen=True, order=True)
class Position:
    """Where an entry sits in a customer's history: time (UTC), source, row id, in order."""

    time: datetime
    source: int  # index in SOURCES
    row_id: int

    @classmethod
    def of(cls, time: datetime, source: int, row_id: int) -> Position:
        """SQLite gives naive datetimes (stored in UTC), PostgreSQL aware ones."""
        utc = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
        return cls(utc, source, row_id)

    @classmethod
    def parse(cls, cursor: str) -> Position:
        """The position a ``history_next`` names (checked against ``CURSOR_PATTERN``)."""
        micros, rest = cursor.split("-")
        return cls(EPOCH + int(micros) * MICROSECOND, SOURCES.index(rest[0]), int(rest[1:]))

    def cursor(self) -> str:
        micros = (self.time - EPOCH) // MICROSECOND
        return f"{micros}-{SOURCES[self.source]}{self.row_id}"

    def bound(self, source: int) -> tuple[datetime, int]:
        """The (time, row id) before which ``source``'s own entries are older than this
        position: the same instant counts as older for an earlier source, newer for a later."""
        if source == self.source:
            return self.time, self.row_id
        return self.time, ROW_ID_MAX if source < self.source else 0


Entry = tuple[Position, dict[str, Any]]


def service_entries(url: str, key: str, before: Position | None, limit: int) -> list[Entry]:
    """Service decisions about one customer, newest first, as history entries."""
    rows = customer_decisions(url, key, None if before is None else before.bound(0), limit)
    return [
        (Position.of(r["decided_at"], 0, r["id"]),
         {"time": r["decided_at"].isoformat(timespec="seconds"),
          "model_version": r["model_version"], "pd": float(r["pd"]), "score": int(r["score"]),
          "tier": r["tier"], "reason_codes": list(r["reason_codes"] or []), "source": "service"})
        for r in rows
    ]  # fmt: skip


def batch_entries(url: str, key: str, before: Position | None, limit: int) -> list[Entry]:
    """Batch scorings of one customer, newest first, as history entries."""
    bound = None if before is None else before.bound(1)
    rows = customer_history_page(open_store(url), key, bound, limit)
    return [
        (Position.of(r["started_at"], 1, r["id"]), history_entry(r) | {"source": "batch"})
        for r in rows
    ]


def history_page(
    settings: Settings, key: str, before: Position | None, limit: int
) -> tuple[list[dict[str, Any]], Position | None]:
    """At most ``limit`` entries older than ``before`` (all: from the newest), newest first,
    and the position the next page starts before (None: this page is the last)."""
    try:
        found = service_entries(settings.audit_url, key, before, limit + 1)
        found += batch_entries(settings.audit_url, key, before, limit + 1)
    except SQLAlchemyError as error:
        log.warning("customer report: cannot read the audit store (%s)", type(error).__name__)
        raise HTTPException(503, "the audit store cannot be read now; retry later") from None
    found.sort(key=lambda entry: entry[0], reverse=True)
    more = found[limit - 1][0] if len(found) > limit else None
    return [entry for _, entry in found[:limit]], more


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


def build_report(service: Service, key: str, before: Position | None, limit: int) -> Any:
    """The report of the customer hashed ``key`` with one page of history; 404 if none."""
    settings, model = service.settings, service.model
    page, more = history_page(settings, key, before, limit)
    newest = page if before is None else history_page(settings, key, None, 1)[0]
    if not newest:
        raise HTTPException(404, "no scoring is recorded for this customer")
    latest = newest[0]
    if latest["model_version"] == model.version:  # a grade is only defined by its own scale
        latest = latest | {"grade": grades_of(model, np.array([latest["pd"]]))[0]}
    report = build_customer_report(
        latest,
        recorded_reasons(model.policy.reasons, latest.get("reason_codes", [])),
        model.policy.strategies.for_tier(latest["tier"]),
        [],
        page[::-1],  # oldest first, as the whole history was before it came in pages
        f"{model.name}/{latest['model_version']}",
    )
    next_page = None if more is None else more.cursor()
    return report | {"history_limit": limit, "history_next": next_page}


@router.get(
    "/v1/customers/{customer_id}/report",
    responses=REPORT_RESPONSES,
    openapi_extra=SECURED,
    summary="The customer's latest recorded score, tier, strategy, risk factors and history",
)
def customer_report(
    customer_id: str,
    call: Scoring,
    format: Literal["json", "html"] = "json",
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="history entries in this page (default and maximum: "
            "RISKGRADE_REPORT_HISTORY_LIMIT, 100 unless set; a larger value is capped)",
        ),
    ] = None,
    before: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="the previous page's `history_next`: this page continues with the "
            "entries before it (older)",
        ),
    ] = None,
) -> Response:
    """The latest recorded scoring (score, tier, strategy, risk factors) and one page of the
    customer's history, oldest first: the newest `limit` entries, or those before `before`.
    `history_next` is the `before` of the next, older page (null on the last one)."""
    service = call.service
    most = service.settings.report_history_limit
    page_size = most if limit is None else min(limit, most)
    key = hash_customer_id(customer_id, service.settings.hash_secret) or ""
    cursor = None if before is None else Position.parse(before)
    report = build_report(service, key, cursor, page_size)
    if format == "html":
        return HTMLResponse(render_html(report))
    return JSONResponse(report)
