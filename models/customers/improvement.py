"""What would move a customer to a better tier? Single changes the customer can make, scored
by the model.

For each feature declared in ``customer_report.actionable``, every move it allows
(``models.customers.actionable``) is tried with everything else held fixed. The best change
per feature is kept and the largest PD reductions are reported, with whether they cross into
a better tier. These are model sensitivities, not promises: the PD is the model's, the change
the customer's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from features.binning import OptimalBinningWoE
from features.schema import DatasetSchema
from features.transformers import MISSING, CategoryEncoder, WoEEncoder
from models.customers.actionable import (
    ActionableChange,
    category_moves,
    check_actionable,
    number_moves,
)
from models.explain.additive import split_pipeline
from models.scoring.scorecard import TIERS, ScoringPolicy, score_customers

ScoreFn = Callable[[pd.DataFrame], np.ndarray]


def known_categories(pipeline: Pipeline, schema: DatasetSchema) -> dict[str, list[str]]:
    """Training categories of each categorical feature, read from the fitted encoder."""
    encoder = split_pipeline(pipeline)[0].named_steps["encode"]
    if isinstance(encoder, CategoryEncoder):
        return {c: list(v) for c, v in encoder.categories_.items()}
    if isinstance(encoder, WoEEncoder):
        return {c: [k for k in encoder.woe_[c] if k != MISSING] for c in schema.categorical}
    if isinstance(encoder, OptimalBinningWoE):
        return {c: [v for group in encoder.groups_[c] for v in group] for c in encoder.groups_}
    if isinstance(encoder, ColumnTransformer):
        onehot = encoder.named_transformers_["categorical"].named_steps["onehot"]
        return {
            c: [str(v) for v in values if v != MISSING]
            for c, values in zip(schema.categorical, onehot.categories_, strict=True)
        }
    raise TypeError(f"known_categories: unsupported encoder {type(encoder).__name__}")


def candidate_rows(
    customer: pd.Series,
    actionable: Mapping[str, ActionableChange],
    schema: DatasetSchema,
    categories: dict[str, list[str]],
) -> pd.DataFrame:
    rows = []
    for column, change in actionable.items():
        value = customer[column]
        if column in schema.categorical:
            options: list[Any] = category_moves(value, change, categories.get(column, []))
        else:
            options = number_moves(value, change.direction)
        for option in options:
            rows.append(
                {**customer.to_dict(), column: option, "_feature": column, "_value": option}
            )
    return pd.DataFrame(rows)


def suggest_improvements(
    score_fn: ScoreFn,
    customer: pd.Series,
    schema: DatasetSchema,
    categories: dict[str, list[str]],
    policy: ScoringPolicy,
    actionable: Mapping[str, ActionableChange],
    top: int = 3,
) -> list[dict[str, Any]]:
    """Up to ``top`` changes the customer can make (one feature each, declared in
    ``actionable``) that lower the PD most, best first. ``categories``: the model's levels
    (``known_categories``); a declaration that does not fit them raises ``ValueError``."""
    check_actionable(actionable, schema, categories)
    current = score_customers(score_fn(customer[schema.features].to_frame().T), policy).iloc[0]
    candidates = candidate_rows(customer[schema.features], actionable, schema, categories)
    if candidates.empty:
        return []
    scored = score_customers(score_fn(candidates[schema.features]), policy)
    candidates = candidates.assign(
        pd=scored["pd"].to_numpy(), score=scored["score"].to_numpy(), tier=scored["tier"].to_numpy()
    )
    best = candidates.sort_values("pd", kind="stable").groupby("_feature", sort=False).head(1)
    best = best[best["pd"] < current["pd"]].head(top)
    rank: dict[str, int] = {t: i for i, t in enumerate(TIERS)}
    return [
        {
            "feature": row["_feature"],
            "current_value": _plain(customer[row["_feature"]]),
            "suggested_value": _plain(row["_value"]),
            "pd": float(row["pd"]),
            "pd_change": float(row["pd"] - current["pd"]),
            "score": int(row["score"]),
            "tier": str(row["tier"]),
            "better_tier": rank[str(row["tier"])] < rank[str(current["tier"])],
        }
        for _, row in best.iterrows()
    ]


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
