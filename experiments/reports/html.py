"""Render the validation report as ONE self-contained HTML file.

The page is the Jinja2 template ``experiments/reports/templates/validation_report.html.j2``
(shipped as package data) filled with the report's numbers -- the same dictionary that is
written as JSON -- and its figures as base64 PNG ``data:`` URIs. No scripts, no external
stylesheets, fonts or images: it opens in any browser, offline, and can be archived as is. Each
section has an ``id`` (``SECTION_IDS``); each figure an ``alt`` text; each number taken from the
JSON a ``data-key`` attribute with its dotted path in the JSON (so tests can check one against
the other).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import jinja2
from matplotlib.figure import Figure

from models.templating import template_environment as shared_environment

TEMPLATE = "validation_report.html.j2"
SECTION_IDS = (
    "summary",
    "data",
    "model",
    "metrics",
    "roc",
    "ks",
    "calibration",
    "gains",
    "score-distribution",
    "tiers",
    "stability",
    "explanations",
    "reason-codes",
    "fairness",
    "champion",
    "gate",
)
FIGURE_DPI = 100
MISSING_TEXT = "n/a"


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes (``FIGURE_DPI`` dots per inch)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...``: the image travels inside the HTML file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def format_number(value: Any, kind: str = "float") -> str:
    """Display form of a number: ``float`` 4 decimals, ``pct`` percent with 1 decimal,
    ``int`` with thousands separators, ``points`` 1 decimal; ``None`` (and NaN) as ``n/a``;
    text unchanged."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING_TEXT
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "int":
        return f"{round(value):,}"
    if kind == "points":
        return f"{value:.1f}"
    return f"{value:.4f}"


def template_environment() -> jinja2.Environment:
    """The report templates of ``experiments.reports`` with the ``fmt`` number filter."""
    environment = shared_environment("experiments.reports")
    environment.filters["fmt"] = format_number
    return environment


def render_report(numbers: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """The HTML page: ``numbers`` is the report's JSON, ``images`` name -> PNG bytes."""
    template = template_environment().get_template(TEMPLATE)
    uris = {name: data_uri(png) for name, png in images.items()}
    return template.render(r=numbers, images=uris, section_ids=SECTION_IDS)
