"""Figures a validator would rather look at than read: ROC and calibration.

Functions return matplotlib ``Figure`` objects built without pyplot, so no GUI backend or
global figure state is involved; the caller saves or logs them. ``new_chart`` and
``plot_diagonal`` are the parts every chart of ``models.evaluation`` shares.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

ROC_AXES = ("false positive rate (goods rejected)", "true positive rate (bads caught)")


def new_chart(
    size: tuple[float, float],
    axis_labels: tuple[str, str],
    title: str,
    layout: Literal["constrained"] | None = None,
) -> tuple[Figure, Axes]:
    """A figure of ``size`` inches with one set of axes, labelled (x, y) and titled."""
    figure = Figure(figsize=size, layout=layout)
    ax = figure.subplots()
    ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1])
    ax.set_title(title)
    return figure, ax


def plot_diagonal(ax: Axes, label: str, top: float = 1, colour: str = "grey") -> None:
    """The dashed line y = x from 0 to ``top``: a random ranking, or perfect calibration."""
    ax.plot([0, top], [0, top], linestyle="--", color=colour, label=label)


def plot_roc(roc: pd.DataFrame, auc: float, title: str) -> Figure:
    figure, ax = new_chart((5, 5), ROC_AXES, title)
    ax.plot(roc["fpr"], roc["tpr"], label=f"model (AUC {auc:.3f})")
    plot_diagonal(ax, "random")
    ax.legend(loc="lower right")
    return figure


def plot_calibration(table: pd.DataFrame, title: str) -> Figure:
    figure, ax = new_chart((5, 5), ("mean predicted PD", "observed default rate"), title)
    top = float(max(table["mean_pd"].max(), table["observed_default_rate"].max())) * 1.05
    plot_diagonal(ax, "perfect calibration", top)
    ax.plot(table["mean_pd"], table["observed_default_rate"], marker="o", label="PD deciles")
    ax.legend(loc="upper left")
    return figure
