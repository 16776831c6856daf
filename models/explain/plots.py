"""Figures of SHAP explanations: global importance, beeswarm summary, dependence.

Built with matplotlib's object-oriented API (``Figure``, no pyplot), so no GUI backend or
global figure state is involved; the caller saves or logs them. All contributions are in
log-odds of default; positive means riskier than the baseline customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from models.explain.additive import Explanation

CONTRIBUTION_LABEL = "contribution to risk (log-odds of default)"


def plot_importance(importance: pd.Series, top: int = 15) -> Figure:
    """Horizontal bars of mean |contribution| (log-odds) for the ``top`` features."""
    shown = importance.head(top).iloc[::-1]
    figure = Figure(figsize=(7, 0.35 * len(shown) + 1.2), layout="constrained")
    ax = figure.subplots()
    ax.barh([str(i) for i in shown.index], shown.to_numpy(), color="tab:blue")
    ax.set(xlabel="mean |contribution| (log-odds of default)")
    figure.suptitle("Global feature importance (mean |SHAP|)")
    return figure


def numeric_colours(values: pd.Series) -> np.ndarray:
    """Percentile rank in [0, 1] of each value (robust to outliers); NaN where missing."""
    numbers = pd.to_numeric(values, errors="coerce")
    return np.asarray(numbers.rank(pct=True).to_numpy(dtype="float64"))


def plot_beeswarm(
    explanation: Explanation, X_raw: pd.DataFrame, top: int = 10, seed: int = 0
) -> Figure:
    """One row of dots per top feature: each customer's contribution (log-odds).

    Numeric features are coloured by value (percentile rank: dark = low, yellow = high);
    categorical and missing values are grey. Vertical jitter is deterministic (``seed``) and
    only spreads the dots; it carries no information.
    """
    contributions = explanation.contributions
    features = contributions.abs().mean(axis=0).sort_values(ascending=False).index[:top]
    rng = np.random.default_rng(seed)
    cmap = colormaps["plasma"]  # no grey in it: grey means categorical or missing
    figure = Figure(figsize=(8, 0.45 * len(features) + 1.5), layout="constrained")
    ax = figure.subplots()
    for row, feature in enumerate(features[::-1]):
        shap_values = contributions[feature].to_numpy()
        jitter = rng.uniform(-0.3, 0.3, size=len(shap_values))
        colour = numeric_colours(X_raw[feature])
        colours = np.where(np.isnan(colour)[:, None], (0.6, 0.6, 0.6, 1.0), cmap(colour))
        ax.scatter(shap_values, row + jitter, c=colours, s=8, alpha=0.7, linewidths=0)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(features)), [str(f) for f in features[::-1]])
    ax.set(xlabel=CONTRIBUTION_LABEL)
    figure.suptitle("Contributions per customer (grey: categorical or missing)")
    colourbar = figure.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, ticks=[0, 1])
    colourbar.ax.set_yticklabels(["low", "high"])
    colourbar.set_label("numeric feature value")
    return figure


def plot_dependence(explanation: Explanation, X_raw: pd.DataFrame, feature: str) -> Figure:
    """Contribution of ``feature`` (log-odds) against its value.

    Numeric: a scatter over the value (missing values cannot be placed and are counted in the
    title). Categorical: dots per category, with missing values as their own ``missing`` group.
    """
    if feature not in explanation.contributions.columns or feature not in X_raw.columns:
        raise ValueError(
            f"plot_dependence: {feature!r} must be an explained column present in X_raw; "
            f"explained columns: {list(explanation.contributions.columns)}"
        )
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.subplots()
    values, shap_values = X_raw[feature], explanation.contributions[feature].to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        detail = draw_numeric_dependence(ax, values.to_numpy(dtype="float64"), shap_values)
    else:
        detail = draw_categorical_dependence(ax, values, shap_values)
    figure.suptitle(f"Dependence: {feature}{detail}")
    return figure


def draw_numeric_dependence(ax: Axes, values: np.ndarray, shap_values: np.ndarray) -> str:
    """Scatter of value against contribution; returns a title suffix counting missing values."""
    ax.scatter(values, shap_values, s=10, alpha=0.6, color="tab:blue", linewidths=0)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(xlabel="value", ylabel=CONTRIBUTION_LABEL)
    return f" (missing, not shown: {int(np.isnan(values).sum())})"


def draw_categorical_dependence(ax: Axes, values: pd.Series, shap_values: np.ndarray) -> str:
    """Jittered dots per category (missing as its own group); returns an empty title suffix."""
    labels = values.astype(object).where(values.notna(), "missing").astype(str)
    groups = sorted(labels.unique())
    positions = labels.map({g: i for i, g in enumerate(groups)}).to_numpy(dtype="float64")
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, size=len(positions))
    ax.scatter(shap_values, positions + jitter, s=10, alpha=0.6, color="tab:blue", linewidths=0)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(groups)), groups)
    ax.set(xlabel=CONTRIBUTION_LABEL)
    return ""
