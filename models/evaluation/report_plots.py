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

SPLIT_COLOURS = {"train": "tab:grey", "valid": "tab:orange", "test": "tab:blue"}


def plot_roc_by_split(rocs: Mapping[str, pd.DataFrame], aucs: Mapping[str, float]) -> Figure:
    """ROC curves of several splits on one chart (a gap between train and test = overfit)."""
    figure = Figure(figsize=(5.5, 5.5), layout="constrained")
    ax = figure.subplots()
    for split, roc in rocs.items():
        colour = SPLIT_COLOURS.get(split)
        ax.plot(roc["fpr"], roc["tpr"], color=colour, label=f"{split} (AUC {aucs[split]:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="lightgrey", label="random")
    ax.set(xlabel="false positive rate (goods rejected)", ylabel="true positive rate (bads caught)")
    ax.set_title("ROC by split")
    ax.legend(loc="lower right")
    return figure


def plot_ks(curve: pd.DataFrame, point: Mapping[str, float], title: str) -> Figure:
    """Cumulative shares of defaults and non-defaults, riskiest customers first, with the KS."""
    figure = Figure(figsize=(6, 4.5), layout="constrained")
    ax = figure.subplots()
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
    ax.set(xlabel="share of customers, riskiest first", ylabel="cumulative share of the outcome")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return figure


def plot_gains(gains: pd.DataFrame, title: str) -> Figure:
    """Cumulative share of defaults caught against customers reviewed, by decile."""
    figure = Figure(figsize=(6, 4.5), layout="constrained")
    ax = figure.subplots()
    x = [0.0, *gains["cum_share_customers"]]
    ax.plot(x, [0.0, *gains["cum_share_defaults"]], marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set(xlabel="share of customers, riskiest decile first", ylabel="share of defaults caught")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return figure


def plot_score_distribution(distribution: pd.DataFrame, title: str) -> Figure:
    """Share of non-defaults and of defaults per score band (each outcome sums to 1)."""
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.subplots()
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
    ax.set(xlabel="credit score (higher = safer)", ylabel="share of the outcome's customers")
    ax.set_title(title)
    ax.legend(loc="upper right")
    return figure
