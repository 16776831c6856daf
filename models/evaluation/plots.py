"""Figures a validator would rather look at than read: ROC and calibration.

Functions return matplotlib ``Figure`` objects built without pyplot, so no GUI backend or
global figure state is involved; the caller saves or logs them.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def plot_roc(roc: pd.DataFrame, auc: float, title: str) -> Figure:
    figure = Figure(figsize=(5, 5))
    ax = figure.subplots()
    ax.plot(roc["fpr"], roc["tpr"], label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set(xlabel="false positive rate (goods rejected)", ylabel="true positive rate (bads caught)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return figure


def plot_calibration(table: pd.DataFrame, title: str) -> Figure:
    figure = Figure(figsize=(5, 5))
    ax = figure.subplots()
    top = float(max(table["mean_pd"].max(), table["observed_default_rate"].max())) * 1.05
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect calibration")
    ax.plot(table["mean_pd"], table["observed_default_rate"], marker="o", label="PD deciles")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return figure
