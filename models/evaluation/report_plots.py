"""Figures of the validation report: ROC per split, KS, gains, score distribution by outcome.

Built with matplotlib's object-oriented API (``Figure``, no pyplot), like
``models.evaluation.plots``; the caller saves or embeds them. Inputs are the tables of
``models.evaluation.tables`` and ``models.evaluation.metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.evaluation.plots import ROC_AXES, new_chart, plot_diagonal

SPLIT_COLOURS = {"train": "tab:grey", "valid": "tab:orange", "test": "tab:blue"}


def plot_roc_by_split(rocs: Mapping[str, pd.DataFrame], aucs: Mapping[str, float]) -> Figure:
    """ROC curves of several splits on one chart (a gap between train and test = overfit)."""
    figure, ax = new_chart((5.5, 5.5), ROC_AXES, "ROC by split", "constrained")
    for split, roc in rocs.items():
        colour = SPLIT_COLOURS.get(split)
        ax.plot(roc["fpr"], roc["tpr"], color=colour, label=f"{split} (AUC {aucs[split]:.3f})")
    plot_diagonal(ax, "random", colour="lightgrey")
    ax.legend(loc="lower right")
    return figure


def plot_ks(curve: pd.DataFrame, point: Mapping[str, float], title: str) -> Figure:
    """Cumulative shares of defaults and non-defaults, riskiest customers first, with the KS."""
    axes = ("share of customers, riskiest first", "cumulative share of the outcome")
    figure, ax = new_chart((6, 4.5), axes, title, "constrained")
    x = curve["population_share"]
    ax.plot(x, curve["cum_share_defaults"], color="tab:red", label="defaults (bads)")
    ax.plot(x, curve["cum_share_goods"], color="tab:green", label="non-defaults (goods)")
    best = curve.iloc[int(np.argmax(curve["gap"].to_numpy()))]
    ax.vlines(
        best["population_share"],
        best["cum_share_goods"],
        best["cum_share_defaults"],
        color="black",
        linestyle=":",
        label=f"KS {point['ks']:.3f} at PD {point['threshold_pd']:.3f}",
    )
    ax.legend(loc="lower right")
    return figure


def plot_gains(gains: pd.DataFrame, title: str) -> Figure:
    """Cumulative share of defaults caught against customers reviewed, by decile."""
    axes = ("share of customers, riskiest decile first", "share of defaults caught")
    figure, ax = new_chart((6, 4.5), axes, title, "constrained")
    x = [0.0, *gains["cum_share_customers"]]
    ax.plot(x, [0.0, *gains["cum_share_defaults"]], marker="o", label="model")
    plot_diagonal(ax, "random")
    ax.legend(loc="lower right")
    return figure


def plot_score_distribution(distribution: pd.DataFrame, title: str) -> Figure:
    """Share of non-defaults and of defaults per score band (each outcome sums to 1)."""
    axes = ("credit score (higher = safer)", "share of the outcome's customers")
    figure, ax = new_chart((7, 4.5), axes, title, "constrained")
    width = distribution["score_to"] - distribution["score_from"]
    for column, colour, label in (
        ("share_goods", "tab:green", "non-defaults"),
        ("share_defaults", "tab:red", "defaults"),
    ):
        ax.bar(
            distribution["score_from"],
            distribution[column],
            width=width,
            align="edge",
            alpha=0.5,
            color=colour,
            label=label,
        )
    ax.legend(loc="upper right")
    return figure
