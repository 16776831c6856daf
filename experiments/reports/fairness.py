"""The validation report's fairness section: ``models.evaluation.fairness`` on the test split.

No files and no MLflow here. The review reads the protected columns (``data.protected``) of the
test split -- kept in the processed data, never model inputs -- beside the version's PDs and
tiers of the same rows. The section's JSON is the review's ``to_dict()`` plus the split and the
attributes; with no protected attribute declared it says so and has no groupings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.schema import DatasetSchema
from models.evaluation.fairness import FairnessConfig, FairnessReview, review_fairness

FOUR_FIFTHS = 0.8  # adverse-impact ratio below which the summary warns, unless configured


def fairness_review(
    schema: DatasetSchema,
    frame: pd.DataFrame,
    y: np.ndarray,
    scored: pd.DataFrame,
    config: FairnessConfig,
    alpha: float,
) -> FairnessReview | None:
    """The review of ``frame``'s customers (their protected columns) with the version's
    ``scored`` pd and tier of the same rows; None when ``data.protected`` is empty."""
    if not schema.protected:
        return None
    missing = [c for c in schema.protected if c not in frame.columns]
    if missing:
        raise ValueError(
            f"report: the test split has no column {missing} (data.protected); rerun "
            "`dvc repro split`"
        )
    return review_fairness(
        frame[list(schema.protected)], y, scored["pd"], scored["tier"], config, alpha
    )


def fairness_section(
    review: FairnessReview | None, schema: DatasetSchema, split: str
) -> dict[str, Any]:
    """The JSON block: the review, the split it was measured on and the attributes."""
    head = {"split": split, "protected": list(schema.protected)}
    if review is None:
        return head | {"groupings": []}
    return head | review.to_dict()


def fairness_warnings(section: dict[str, Any]) -> list[str]:
    """Groups (not small) whose low-tier adverse-impact ratio is below the configured minimum
    (or four fifths), or whose calibration in the large is rejected; facts, not a verdict."""
    if not section.get("groupings"):
        return []
    floor = section["config"]["min_adverse_impact_ratio"] or FOUR_FIFTHS
    alpha, warnings = section["alpha"], []
    for grouping in section["groupings"]:
        for row in grouping["groups"]:
            if row["small"]:
                continue
            where = f"fairness: {grouping['name']} {row['group']!r}"
            if row["adverse_impact_ratio"] < floor:
                warnings.append(
                    f"{where}: adverse-impact ratio of the low tier "
                    f"{row['adverse_impact_ratio']:.4f} (< {floor}; reference "
                    f"{grouping['reference_group']!r})"
                )
            if row["citl_p"] < alpha:
                warnings.append(
                    f"{where}: mean PD {row['mean_pd']:.4f} vs observed default rate "
                    f"{row['observed_default_rate']:.4f} (calibration in the large rejected, "
                    f"p={row['citl_p']:.4f})"
                )
    return warnings


def plot_fairness(review: FairnessReview) -> Figure:
    """Per group of each single attribute: observed default rate and mean PD (left), share in
    the low tier with four fifths of the reference group's share (right). Small groups are
    labelled with their size."""
    singles = [g for g in review.groupings if len(g.attributes) == 1]
    figure = Figure(figsize=(10, 1.2 + 0.45 * sum(len(g.table) + 2 for g in singles)))
    heights = [len(g.table) + 1 for g in singles]
    axes = figure.subplots(len(singles), 2, squeeze=False, gridspec_kw={"height_ratios": heights})
    for (left, right), grouping in zip(axes, singles, strict=True):
        table = grouping.table
        labels = [
            f"{g} (n={n}, small)" if small else f"{g} (n={n})"
            for g, n, small in zip(table["group"], table["n"], table["small"], strict=True)
        ]
        rows = np.arange(len(table))
        left.barh(rows - 0.2, table["observed_default_rate"], 0.4, label="observed default rate")
        left.barh(rows + 0.2, table["mean_pd"], 0.4, label="mean PD")
        left.set(yticks=rows, yticklabels=labels, title=grouping.name, xlabel="rate")
        right.barh(rows, table["tier_share_low"], 0.6, color="tab:green")
        chosen = table["group"] == grouping.reference_group
        reference = float(table.loc[chosen, "tier_share_low"].to_numpy()[0])
        right.axvline(
            FOUR_FIFTHS * reference,
            color="black",
            linestyle=":",
            label="4/5 of the reference group's share",
        )
        right.set(yticks=rows, yticklabels=[], xlabel="share in the low tier", xlim=(0, 1))
        left.invert_yaxis()
        right.invert_yaxis()
    figure.set_layout_engine("constrained")
    handles, names = axes[0][0].get_legend_handles_labels()
    line, line_name = axes[0][1].get_legend_handles_labels()
    figure.legend(handles + line, names + line_name, loc="outside upper center", ncols=3)
    return figure
