"""Fairness review: how one model version's PDs and risk tiers treat protected groups.

Pure: the protected columns, outcomes, PDs and tiers of the same customers in (one row per
customer, normally the held-out test split), tables and numbers out. The protected attributes
are never model inputs (``data.protected`` is a subset of ``data.excluded``); this review asks
whether the model treats their groups differently anyway, through correlated features.

For every protected attribute, and for the intersection of all of them when there are several,
one row per group (fairlearn's ``MetricFrame`` does the disaggregation; its ``by_group`` over
several sensitive features is the intersection):

- ``n``, ``share`` of the book, ``defaults``, ``observed_default_rate``, ``mean_pd``;
- calibration in the large: ``calibration_gap`` = mean PD - observed default rate (negative:
  the model under-predicts the group's risk) and ``citl_p``, the p-value of
  ``calibration_tests.calibration_in_the_large`` on the group;
- ``roc_auc`` within the group: None (undefined, not an error) when the group has only
  defaults or only non-defaults;
- ``tier_share_low`` / ``_medium`` / ``_high``: share of the group in each tier;
- ``adverse_impact_ratio``: the group's share in the favourable ("low") tier divided by that
  of the reference group, the group with the highest such share among groups of at least
  ``min_group_size`` customers (the four-fifths rule of US employment law, applied to credit
  by the CFPB/FTC: below 0.8 is evidence of adverse impact). When every group's low-tier
  share is 0, the shares are equal and every ratio is 1.
- ``small``: fewer than ``min_group_size`` customers. Small groups are shown, never hidden;
  their figures are noise-prone, so the gate's figures (``lowest_adverse_impact_ratio``,
  ``largest_calibration_gap``) count only groups that are not small -- or every group when
  none reaches the size, said in the detail.

Why fairlearn's ``MetricFrame`` and not a groupby: it is the library validators know, it
computes any metric (with per-row parameters such as tier flags) per group and per
intersection of several attributes, and its results can be checked against its own
documentation. Its ``ratio()`` is not used for the adverse-impact ratio: it takes the min/max
over all groups, small ones included, while the four-fifths rule compares with the most
favoured group of a meaningful size.

Public API (stable; the validator notebook calls it): ``review_fairness``,
``FairnessConfig``, ``FairnessReview`` (``.groupings``, ``.to_dict()``,
``.lowest_adverse_impact_ratio()``, ``.largest_calibration_gap()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import Field
from sklearn.metrics import roc_auc_score

from features.schema import FrozenModel
from models.evaluation.calibration_tests import calibration_in_the_large
from models.scoring.scorecard import TIERS

FAVOURABLE_TIER = "low"  # the tier whose customers get the better terms (scorecard.strategies)
MISSING_LEVEL = "(missing)"  # a missing protected value is a group of its own, not dropped
MAX_LEVELS = 50  # more distinct values than this: a number, not groups (band it first)
JOIN = " & "  # joins the levels of an intersectional group and the names of its attributes
TIER_SHARES = tuple(f"tier_share_{tier}" for tier in TIERS)
COLUMNS = (
    "group",
    "levels",
    "n",
    "share",
    "defaults",
    "observed_default_rate",
    "mean_pd",
    "calibration_gap",
    "citl_p",
    "roc_auc",
    *TIER_SHARES,
    "adverse_impact_ratio",
    "small",
)


class FairnessConfig(FrozenModel):
    """The ``fairness`` section of ``params.yaml``.

    The review is always computed and reported; the thresholds are off (null) by default, and
    the promotion gate applies each one only when it is set.
    """

    min_group_size: int = Field(
        default=30, ge=1, description="groups with fewer customers are flagged small"
    )
    min_adverse_impact_ratio: float | None = Field(
        default=None, gt=0, le=1, description="0.8 = the four-fifths rule; null: not gated"
    )
    max_calibration_gap: float | None = Field(
        default=None, gt=0, le=1, description="largest |mean PD - default rate|; null: not gated"
    )

    @property
    def gated(self) -> bool:
        """True when the gate applies at least one threshold."""
        return self.min_adverse_impact_ratio is not None or self.max_calibration_gap is not None


@dataclass(frozen=True)
class GroupingReview:
    """One attribute (or the intersection of several): a row per group, columns ``COLUMNS``;
    ``group`` is the label (levels joined by `` & ``), ``levels`` the tuple of the group's
    level of each attribute, in ``attributes`` order."""

    name: str
    attributes: tuple[str, ...]
    table: pd.DataFrame
    reference_group: str  # highest low-tier share among the groups that are not small


@dataclass(frozen=True)
class Extreme:
    """The worst value of one figure over the groups the gate counts, and where it is."""

    value: float
    grouping: str
    group: str
    detail: str


@dataclass(frozen=True)
class FairnessReview:
    """The review of one version on one set of customers."""

    n: int
    alpha: float
    config: FairnessConfig
    groupings: tuple[GroupingReview, ...]

    def counted(self) -> list[tuple[GroupingReview, pd.Series]]:
        """(grouping, row) of every group the gate counts: those that are not small, or
        every group when none reaches ``min_group_size``."""
        rows = [(g, row) for g in self.groupings for _, row in g.table.iterrows()]
        large = [(g, row) for g, row in rows if not row["small"]]
        return large or rows

    def _everyone_counted_note(self) -> str:
        if any(not row["small"] for _, row in self.counted()):
            return ""
        return f"; no group has {self.config.min_group_size} customers: all groups counted"

    def lowest_adverse_impact_ratio(self) -> Extreme | None:
        """The smallest adverse-impact ratio of the low tier (None: no protected attribute)."""
        rows = self.counted()
        if not rows:
            return None
        grouping, row = min(rows, key=lambda item: float(item[1]["adverse_impact_ratio"]))
        reference = grouping.table.set_index("group").loc[grouping.reference_group]
        detail = (
            f"{grouping.name} {row['group']!r}: {row['tier_share_low']:.4f} in the low tier "
            f"(n={row['n']}) vs {reference['tier_share_low']:.4f} for "
            f"{grouping.reference_group!r} (n={reference['n']})"
        )
        return Extreme(
            float(row["adverse_impact_ratio"]),
            grouping.name,
            str(row["group"]),
            detail + self._everyone_counted_note(),
        )

    def largest_calibration_gap(self) -> Extreme | None:
        """The largest |mean PD - observed default rate| of a group (None: no attribute)."""
        rows = self.counted()
        if not rows:
            return None
        grouping, row = max(rows, key=lambda item: abs(float(item[1]["calibration_gap"])))
        detail = (
            f"{grouping.name} {row['group']!r}: mean PD {row['mean_pd']:.4f} vs observed "
            f"default rate {row['observed_default_rate']:.4f} (n={row['n']}, "
            f"p={row['citl_p']:.4f})"
        )
        return Extreme(
            abs(float(row["calibration_gap"])),
            grouping.name,
            str(row["group"]),
            detail + self._everyone_counted_note(),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, one entry per grouping (rows as plain dictionaries, NaN as
        None) and the two figures the gate reads."""
        air, gap = self.lowest_adverse_impact_ratio(), self.largest_calibration_gap()
        return {
            "n": self.n,
            "alpha": self.alpha,
            "favourable_tier": FAVOURABLE_TIER,
            "config": self.config.model_dump(mode="json"),
            "groupings": [
                {
                    "name": g.name,
                    "attributes": list(g.attributes),
                    "reference_group": g.reference_group,
                    "groups": plain_records(g.table),
                }
                for g in self.groupings
            ],
            "lowest_adverse_impact_ratio": None if air is None else asdict(air),
            "largest_calibration_gap": None if gap is None else asdict(gap),
        }


def plain_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dictionaries of plain Python values (numpy scalars converted, NaN as None)."""
    rows: list[dict[str, Any]] = []
    for record in table.to_dict(orient="records"):
        row = {}
        for key, value in record.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, tuple):  # an intersectional group's levels
                value = list(value)
            row[str(key)] = None if isinstance(value, float) and np.isnan(value) else value
        rows.append(row)
    return rows


def review_fairness(
    protected: pd.DataFrame,
    y: ArrayLike,
    pd_: ArrayLike,
    tiers: ArrayLike,
    config: FairnessConfig | None = None,
    alpha: float = 0.05,
) -> FairnessReview:
    """The fairness review of one version on one set of customers (normally the test split).

    ``protected``: one column per protected attribute (``data.protected``), one row per
    customer; values are read as group labels (text), a missing value is the group
    ``(missing)``. ``y``: 1 = default; ``pd_``: the version's PDs; ``tiers``: its tiers
    (low / medium / high), all in the rows' order. ``alpha``: significance level of the
    per-group calibration-in-the-large test (the gate's ``promotion.calibration_alpha``).
    A grouping per attribute, then (with two or more) their intersection. Groups are sorted
    by label, so the review does not depend on the rows' order.
    """
    config = config or FairnessConfig()
    levels = group_levels(protected)
    y_arr, p_arr, tier_arr = check_inputs(levels, y, pd_, tiers)
    attributes = tuple(levels.columns)
    sets = [(name,) for name in attributes] + ([attributes] if len(attributes) > 1 else [])
    groupings = tuple(
        review_grouping(levels[list(names)], y_arr, p_arr, tier_arr, config, alpha)
        for names in sets
    )
    return FairnessReview(len(y_arr), alpha, config, groupings)


def group_levels(protected: pd.DataFrame) -> pd.DataFrame:
    """Every protected value as text (missing: ``(missing)``), on a fresh 0..n-1 index."""
    if protected.columns.empty:
        return pd.DataFrame(index=pd.RangeIndex(len(protected)))
    duplicated = protected.columns[protected.columns.duplicated()].tolist()
    if duplicated:
        raise ValueError(f"fairness: protected column(s) {duplicated} given twice")
    text = {
        str(column): [MISSING_LEVEL if pd.isna(v) else str(v) for v in protected[column]]
        for column in protected.columns
    }
    levels = pd.DataFrame(text)
    for column in levels.columns:
        found = levels[column].nunique()
        if found > MAX_LEVELS:
            raise ValueError(
                f"fairness: protected column {column!r} has {found} distinct values (at most "
                f"{MAX_LEVELS}); its values are read as groups: band it first (e.g. age bands) "
                "and declare the banded column"
            )
    return levels


def check_inputs(
    levels: pd.DataFrame, y: ArrayLike, pd_: ArrayLike, tiers: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes (int 0/1), PDs (float) and tiers (text) of equal length, or a ValueError."""
    y_arr = np.asarray(y)
    p_arr = np.asarray(pd_, dtype="float64")
    tier_arr = np.asarray(tiers, dtype=object)
    lengths = {len(levels), len(y_arr), len(p_arr), len(tier_arr)}
    if len(lengths) != 1:
        raise ValueError(
            f"fairness: protected columns ({len(levels)} rows), outcomes ({len(y_arr)}), PDs "
            f"({len(p_arr)}) and tiers ({len(tier_arr)}) must describe the same customers"
        )
    if len(y_arr) == 0:
        raise ValueError("fairness: no customers to review")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError("fairness: outcomes must be 1 (default) or 0")
    if np.isnan(p_arr).any() or (p_arr < 0).any() or (p_arr > 1).any():
        raise ValueError("fairness: every PD must be a probability between 0 and 1")
    unknown = sorted({str(t) for t in tier_arr} - set(TIERS))
    if unknown:
        raise ValueError(f"fairness: unknown tier(s) {unknown}; expected {list(TIERS)}")
    return y_arr.astype("int64"), p_arr, tier_arr


def review_grouping(
    levels: pd.DataFrame,
    y: np.ndarray,
    pd_: np.ndarray,
    tiers: np.ndarray,
    config: FairnessConfig,
    alpha: float,
) -> GroupingReview:
    """The per-group table of one attribute or one intersection, with its reference group."""
    table = group_metrics(levels, y, pd_, tiers, alpha)
    attributes = tuple(str(column) for column in levels.columns)
    table.insert(0, "group", [JOIN.join(values) for values in table["levels"]])
    table["share"] = table["n"] / len(y)
    table["calibration_gap"] = table["mean_pd"] - table["observed_default_rate"]
    table["small"] = table["n"] < config.min_group_size
    reference = reference_group(table)
    low = float(table.loc[table["group"] == reference, "tier_share_low"].to_numpy()[0])
    table["adverse_impact_ratio"] = table["tier_share_low"] / low if low > 0 else 1.0
    table = table.sort_values("group", kind="stable").reset_index(drop=True)
    return GroupingReview(JOIN.join(attributes), attributes, table[list(COLUMNS)], reference)


def reference_group(table: pd.DataFrame) -> str:
    """The group with the highest low-tier share among those that are not small (all groups
    when every one is small); ties go to the first label in sorted order."""
    candidates = table[~table["small"]] if (~table["small"]).any() else table
    ordered = candidates.sort_values(["tier_share_low", "group"], ascending=[False, True])
    return str(ordered["group"].iloc[0])


def group_metrics(
    levels: pd.DataFrame, y: np.ndarray, pd_: np.ndarray, tiers: np.ndarray, alpha: float
) -> pd.DataFrame:
    """fairlearn ``MetricFrame.by_group`` of the metrics per group (intersections of
    ``levels``' columns that no customer falls in are dropped), one row per group, the group's
    levels as a tuple in ``levels``. The attributes go to fairlearn under neutral names, so a
    protected column may be called anything (``n``, ``group``, ``y_true``).

    fairlearn is imported here, not with the module: ``FairnessConfig`` is part of every
    project's configuration, and a serving-only install (the ``serve`` extra) has no fairlearn.
    """
    from fairlearn.metrics import MetricFrame, count

    def citl_p(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return calibration_in_the_large(y_true, y_pred, alpha).p_value

    metrics: dict[str, Callable[..., Any]] = {
        "n": count,
        "defaults": lambda y_true, y_pred: int(np.sum(y_true)),
        "observed_default_rate": lambda y_true, y_pred: float(np.mean(y_true)),
        "mean_pd": lambda y_true, y_pred: float(np.mean(y_pred)),
        "citl_p": citl_p,
        "roc_auc": auc_or_nan,
        **{name: share_flagged for name in TIER_SHARES},
    }
    flags = {name: {"flags": tiers == tier} for name, tier in zip(TIER_SHARES, TIERS, strict=True)}
    names = [f"attribute_{i}" for i in range(levels.shape[1])]
    frame = MetricFrame(
        metrics=metrics,
        y_true=y,
        y_pred=pd_,
        sensitive_features=levels.set_axis(names, axis=1),
        sample_params=flags,
    )
    table = frame.by_group.dropna(subset=["n"]).reset_index()
    table["levels"] = list(table[names].itertuples(index=False, name=None))
    table = table.drop(columns=names)
    table["n"] = table["n"].astype("int64")
    table["defaults"] = table["defaults"].astype("int64")
    return table


def auc_or_nan(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """ROC AUC within a group; NaN when the group has one class only (AUC is undefined)."""
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, y_pred))


def share_flagged(y_true: np.ndarray, y_pred: np.ndarray, flags: np.ndarray) -> float:
    """Share of the group's customers whose flag is set (e.g. in the low tier)."""
    return float(np.mean(np.asarray(flags, dtype=bool)))
