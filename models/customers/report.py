"""The customer risk report: one customer's score, tier, strategy, reasons and next steps.

Pure: the caller scores the customer, gathers past scores (keyed by a hashed id, never the
clear one) and writes or serves the result. ``render_html`` gives a self-contained page from a
Jinja template shipped with this package.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2

from models.scoring.strategy import TierStrategy
from models.templating import template_environment


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


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained page (Jinja template ``templates/customer_report.html.j2``,
    shipped with this package so that the service and the CLI render the same page)."""
    strategy = report["strategy"]
    cap = strategy["credit_limit_cap"]
    terms = [
        f"credit limit x{strategy['credit_limit_multiplier']}"
        + (f" (cap {cap:,.0f})" if cap else ""),
        f"payment terms {strategy['payment_terms_days']} days",
        "collateral / guarantee required" if strategy["collateral_required"] else "no collateral",
        f"review every {strategy['review_every_months']} month(s)",
    ]
    history = [
        f"{h.get('time', '')}: score {h['score']}, tier {h['tier']}" for h in report["history"]
    ]
    improvements = [describe_improvement(i) for i in report["improvements"]]
    return template().render(r=report, terms=terms, history=history, improvements=improvements)


@functools.cache
def template() -> jinja2.Template:
    return template_environment("models.customers").get_template("customer_report.html.j2")
