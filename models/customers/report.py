"""The customer risk report: one customer's score, tier, strategy, reasons and next steps.

Pure: the caller scores the customer, gathers past scores (keyed by a hashed id, never the
clear one) and writes or serves the result. ``render_html`` gives a self-contained page.
"""

from __future__ import annotations

import html
from typing import Any

from models.scoring.strategy import TierStrategy


def build_customer_report(
    scored: dict[str, Any],
    reasons: list[dict[str, Any]],
    strategy: TierStrategy,
    improvements: list[dict[str, Any]],
    history: list[dict[str, Any]],
    model: str,
) -> dict[str, Any]:
    """JSON-ready report. ``scored``: pd, score, tier (+ grade when the version has a master
    scale); ``history``: past scorings, oldest first."""
    return {
        "model": model,
        "pd": float(scored["pd"]),
        "score": int(scored["score"]),
        "grade": None if scored.get("grade") is None else int(scored["grade"]),
        "tier": str(scored["tier"]),
        "strategy": strategy.model_dump(mode="json"),
        "recommended_actions": list(strategy.actions),
        "risk_factors": [r["sentence"] for r in reasons],
        "reason_codes": reasons,
        "improvements": improvements,
        "history": history,
    }


def describe_improvement(item: dict[str, Any]) -> str:
    move = f", moving to the {item['tier']} tier" if item["better_tier"] else ""
    return (
        f"{item['feature'].replace('_', ' ')}: {item['current_value']!r} -> "
        f"{item['suggested_value']!r} would lower the PD to {item['pd']:.1%}{move}"
    )


def _list(items: list[str]) -> str:
    if not items:
        return "<p>none</p>"
    return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def render_html(report: dict[str, Any]) -> str:
    strategy = report["strategy"]
    terms = [
        f"credit limit x{strategy['credit_limit_multiplier']}"
        + (f" (cap {strategy['credit_limit_cap']:,.0f})" if strategy["credit_limit_cap"] else ""),
        f"payment terms {strategy['payment_terms_days']} days",
        "collateral / guarantee required" if strategy["collateral_required"] else "no collateral",
        f"review every {strategy['review_every_months']} month(s)",
    ]
    history = [
        f"{h.get('time', '')}: score {h['score']}, tier {h['tier']}" for h in report["history"]
    ]
    sections = {
        "summary": f"<p>Score <b>{report['score']}</b>, probability of default "
        f"<b>{report['pd']:.1%}</b>, rating grade <b>{report.get('grade') or '-'}</b>, "
        f"risk tier <b>{html.escape(report['tier'])}</b> "
        f"(model {html.escape(report['model'])})</p>",
        "strategy": _list(terms)
        + "<h3>Recommended actions</h3>"
        + _list(report["recommended_actions"]),
        "risk-factors": _list(report["risk_factors"]),
        "improvements": _list([describe_improvement(i) for i in report["improvements"]]),
        "history": _list(history),
    }
    body = "".join(
        f'<section id="{key}"><h2>{key.replace("-", " ").capitalize()}</h2>{content}</section>'
        for key, content in sections.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Customer risk report</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:50em}</style></head>"
        f"<body><h1>Customer risk report</h1>{body}</body></html>"
    )
