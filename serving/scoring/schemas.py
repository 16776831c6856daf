"""Request and response models.

Request models are BUILT FROM THE LOADED MODEL at start-up (and on every reload):
``pydantic.create_model`` turns each column of the MLflow signature into a strict field -- an
integer for ``long`` (within int64; JSON Schema's integers, so ``71295.0`` too but not
``71295.5``, ``"71295"`` or ``true``), a finite number for ``double`` and ``Any`` (how numbers
are typed since missing values are scored), text for ``string`` -- and lists the training
categories of every categorical column (from the fitted encoder) in its description and
examples, so ``/docs`` shows the real customer fields.
Unknown fields are refused and every field must be present; ``null`` (a missing value) is
accepted where the signature marks a column optional -- every column of versions registered
since missing values are scored everywhere -- and so is text equal to one of the version's
``na_values``. A text value outside the training categories is accepted, scored the way the
pipeline handles it and flagged in ``unseen_categories``. Response models are static.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, create_model

from features.schema import ValueRange
from models.scoring.strategy import TierStrategy

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NUMBER_TYPES = ("long", "integer", "double", "float")
MAX_TEXT = 200
MAX_LISTED_CATEGORIES = 50
CustomerId = Annotated[
    str | None,
    Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Your customer identifier: stored only as a keyed hash, never in clear.",
    ),
]


@dataclass(frozen=True)
class InputColumn:
    """One raw input column of the model signature."""

    name: str
    type: str  # MLflow data type: long, integer, double, float, string, boolean
    required: bool = True
    categories: tuple[str, ...] = ()
    valid: ValueRange | None = None  # a number's valid values (data.ranges of the version)

    @property
    def expected(self) -> str:
        """What a valid value looks like, in words."""
        kind = {"long": "an integer", "integer": "an integer", "boolean": "true or false"}.get(
            self.type, "text" if self.type == "string" else "a finite number"
        )
        if self.valid is not None and self.type in NUMBER_TYPES:
            kind += f" {self.valid.words}"
        return kind if self.required else f"{kind} or null"


def integral_to_int(value: Any) -> Any:
    """A float with no fractional part as an int: the published schema says ``integer``, and
    JSON Schema counts ``71295.0`` as one (versions registered with ``long`` columns)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def column_annotation(column: InputColumn) -> Any:
    """The strict pydantic type of a column's value."""
    low, high = column.valid.bounds if column.valid is not None else (-math.inf, math.inf)
    if column.type in ("long", "integer"):
        base: Any = Annotated[
            int,
            Strict(),
            Field(ge=max(INT64_MIN, low), le=min(INT64_MAX, high)),
            BeforeValidator(integral_to_int),
        ]
    elif column.type in ("double", "float"):
        ge = low if low > -math.inf else None
        le = high if high < math.inf else None
        base = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=ge, le=le)]
    elif column.type == "boolean":
        base = Annotated[bool, Strict()]
    else:
        base = Annotated[str, Strict(), Field(max_length=MAX_TEXT)]
    return base if column.required else base | None


def column_field(column: InputColumn) -> Any:
    """``Field`` with alias (the raw column name), description and examples."""
    description = (
        f"{column.type}, required"
        if column.required
        else f"{column.type} or null (missing: scored the way the model learnt in training)"
    )
    extra: dict[str, Any] = {}
    if column.categories:
        listed = ", ".join(repr(c) for c in column.categories[:MAX_LISTED_CATEGORIES])
        description += (
            f". Training categories: {listed}. Any other text is scored as an unseen category "
            "and flagged in the response."
        )
        extra = {"examples": [column.categories[0]], "x-categories": list(column.categories)}
    # Present in every request, even when null: a field left out by mistake is refused, not
    # silently scored as missing.
    return Field(..., alias=column.name, description=description, json_schema_extra=extra)


def python_name(column: str, taken: set[str]) -> str:
    """A valid, unique Python identifier for a column (the column stays the alias)."""
    name = re.sub(r"\W", "_", column)
    if not name or name[0].isdigit() or name.startswith("_"):
        name = f"f_{name}"
    while name in taken or name in ("model_config", "model_fields"):
        name += "_"
    taken.add(name)
    return name


@dataclass(frozen=True)
class RequestModels:
    """The request bodies of one loaded model version."""

    customer: type[BaseModel]
    score: type[BaseModel]
    batch: type[BaseModel]
    explain: type[BaseModel]
    expected: dict[str, str]  # field path ("customer.age_in_years") -> expected value

    @property
    def components(self) -> list[type[BaseModel]]:
        return [self.score, self.batch, self.explain]


def build_request_models(
    columns: list[InputColumn], batch_limit: int, example: dict[str, Any] | None = None
) -> RequestModels:
    """Request bodies for a model whose signature is ``columns``. ``example``: one customer
    (the version's input example, ``example_customer``); each body's schema then carries a
    complete request built from it, shown by ``/docs``."""
    taken: set[str] = set()
    fields: dict[str, Any] = {
        python_name(c.name, taken): (column_annotation(c), column_field(c)) for c in columns
    }
    bodies = example_bodies(example)
    customer = create_model("Customer", __config__=strict_config(bodies, "customer"), **fields)
    reasons = Annotated[bool, Strict(), Field(description="Return the top reason codes.")]
    score = create_model(
        "ScoreRequest",
        __config__=strict_config(bodies, "score"),
        customer_id=(CustomerId, None),
        reason_codes=(reasons, True),
        customer=(customer, ...),
    )
    item = create_model(
        "BatchItem",
        __config__=strict_config(bodies, "item"),
        customer_id=(CustomerId, None),
        customer=(customer, ...),
    )
    items = Annotated[list[item], Field(min_length=1, max_length=batch_limit)]  # type: ignore[valid-type]
    batch = create_model(
        "BatchScoreRequest",
        __config__=strict_config(bodies, "batch"),
        reason_codes=(reasons, True),
        items=(items, ...),
    )
    explain = create_model(
        "ExplainRequest",
        __config__=strict_config(bodies, "explain"),
        customer_id=(CustomerId, None),
        customer=(customer, ...),
    )
    expected = {f"customer.{c.name}": c.expected for c in columns}
    expected |= {"items": f"a list of 1 to {batch_limit} customers"}
    return RequestModels(customer, score, batch, explain, expected)


def example_customer(rows: Any) -> dict[str, Any] | None:
    """The first row of a version's input example as JSON values (a missing value: null)."""
    if rows is None or len(rows) == 0:
        return None
    row = rows.iloc[0].to_dict()
    return {str(k): json_value(v) for k, v in row.items()}


def json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def example_bodies(customer: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Complete request bodies for one example customer, by request model."""
    if customer is None:
        return {}
    item = {"customer_id": "C-000001", "customer": customer}
    return {
        "customer": customer,
        "score": {"customer_id": "C-000001", "reason_codes": True, "customer": customer},
        "item": item,
        "batch": {"reason_codes": True, "items": [item]},
        "explain": item,
    }


def strict_config(bodies: dict[str, dict[str, Any]], kind: str) -> ConfigDict:
    """Unknown fields refused, aliases only; the example body of ``kind``, if any."""
    config = ConfigDict(extra="forbid", populate_by_name=False)
    if kind in bodies:
        config["json_schema_extra"] = {"examples": [bodies[kind]]}
    return config


class ModelRef(BaseModel):
    name: str
    version: str


class Reason(BaseModel):
    feature: str
    value: str | int | float | None
    contribution: float = Field(description="log-odds of default added by this feature (> 0)")
    sentence: str


class ScoreResult(BaseModel):
    pd: float = Field(description="probability of default, 0..1")
    score: int = Field(description="credit score: higher is safer")
    grade: int | None = Field(
        description="rating grade on the version's master scale, 1 = lowest PD (null for "
        "versions registered without one)"
    )
    tier: str = Field(description="risk tier: low, medium or high")
    reasons: list[Reason] | None = Field(description="top risk-raising factors; null if off")
    unseen_categories: list[str] = Field(description="fields whose category is new to the model")
    strategy: TierStrategy = Field(
        description="the tier's credit strategy (limit policy, terms, collateral, review, actions)"
    )


class ScoreResponse(ScoreResult):
    request_id: str
    model: ModelRef


class BatchScoreResponse(BaseModel):
    request_id: str
    model: ModelRef
    results: list[ScoreResult] = Field(description="one per item, in request order")


class Contribution(BaseModel):
    feature: str
    label: str
    value: str | int | float | bool | None
    contribution: float = Field(description="log-odds of default; > 0 raises the risk")


class ExplainResponse(BaseModel):
    request_id: str
    model: ModelRef
    pd: float
    score: int
    grade: int | None
    tier: str
    base_value: float = Field(description="log-odds of the baseline customer")
    margin: float = Field(
        description="base_value + sum of contributions = logit(pd) (with isotonic "
        "calibration: the model's log-odds before calibration; see method)"
    )
    contributions: list[Contribution] = Field(description="every raw feature, largest |c| first")
    unseen_categories: list[str]
    method: str


class InputColumnInfo(BaseModel):
    name: str
    type: str
    required: bool
    categories: list[str]


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str
    run_id: str | None
    model_family: str | None
    loaded_at: datetime
    metrics: dict[str, float]
    data_md5: str | None
    tags: dict[str, str]
    input_schema: list[InputColumnInfo]
    artifacts_verified: bool = Field(
        description="the version's files matched the digest recorded at registration (false: "
        "registered before digests were recorded, served unverified)"
    )
    worker: int = Field(description="process id of the worker that answered")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    model_version: str | None
    audit: str


class ReloadResult(BaseModel):
    status: str = Field(description="reloaded | unchanged | failed")
    previous_version: str
    version: str
    error: str | None = None
    worker: int | None = Field(default=None, description="process id of the worker reloaded")
    polling_seconds: float | None = Field(
        default=None,
        description="every worker looks at the alias this often and follows it (none: no "
        "polling; other workers, if any, keep their version)",
    )


class ErrorItem(BaseModel):
    field: str
    message: str
    expected: str | None = None


class ErrorResponse(BaseModel):
    message: str
    errors: list[ErrorItem] = []
