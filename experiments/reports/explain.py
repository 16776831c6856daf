"""The validation report's explanation sections: SHAP importance and plots, example reasons.

Contributions are the version's own (``models.explain.explanation.explain``, with the background
stored in the version for linear models), in log-odds of default, on the test split. The
example customers are identified only by their rank (riskiest first): no ids are reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.reports.sections import HELD_OUT, ReportContent, ScoredSplit
from models.contract.pyfunc import CreditRiskModel
from models.explain.explanation import Explanation, explain, global_importance
from models.explain.plots import plot_beeswarm, plot_dependence, plot_importance
from models.scoring.reason_codes import reason_codes

N_DEPENDENCE = 3  # dependence plots for this many top features
FALLBACK_REASONS = 4  # reasons per example when the version's policy returns none (top_k 0)


def explanation_section(
    model: CreditRiskModel, test: ScoredSplit, content: ReportContent, seed: int
) -> Explanation:
    """Global importance (mean |SHAP|), beeswarm and top-feature dependence plots."""
    if model.pipeline is None:
        raise RuntimeError("report: the model version was not loaded (no pipeline)")
    explanation = explain(model.pipeline, test.X, model.background_mean)
    importance = global_importance(explanation)
    top = [str(feature) for feature in importance.index[:N_DEPENDENCE]]
    content.numbers["explanations"] = {
        "split": HELD_OUT,
        "method": explanation.method,
        "base_value_log_odds": explanation.base_value,
        "importance": [
            {"feature": str(feature), "mean_abs_contribution_log_odds": float(value)}
            for feature, value in importance.items()
        ],
        "dependence_features": top,
    }
    content.figures |= {
        "shap_importance": plot_importance(importance),
        "shap_beeswarm": plot_beeswarm(explanation, test.X, seed=seed),
    }
    for feature in top:
        content.figures[f"shap_dependence_{feature}"] = plot_dependence(
            explanation, test.X, feature
        )
    return explanation


def reason_section(
    model: CreditRiskModel, test: ScoredSplit, explanation: Explanation, n_examples: int
) -> dict[str, Any]:
    """Reason codes of the ``n_examples`` riskiest test customers (highest PD first).

    Each example: rank, pd, score, tier, whether the customer defaulted, and the reasons (the
    features that raised the risk most, with the customer's value and the sentence serving
    returns). No identifiers.
    """
    if model.policy is None:
        raise RuntimeError("report: the model version was not loaded (no scoring policy)")
    settings = model.policy.reasons
    k = settings.top_k or FALLBACK_REASONS
    codes = reason_codes(explanation, test.X, k, settings.labels, settings.template)
    pd_ = test.scored["pd"].to_numpy()
    riskiest = np.argsort(-pd_, kind="stable")[:n_examples]
    customers = [
        {
            "rank": rank,
            "pd": float(pd_[row]),
            "score": int(test.scored["score"].iloc[row]),
            "tier": str(test.scored["tier"].iloc[row]),
            "defaulted": bool(test.y[row]),
            "reasons": [code.to_dict() for code in codes[row]],
        }
        for rank, row in enumerate(riskiest, start=1)
    ]
    return {"split": HELD_OUT, "reasons_per_customer": k, "customers": customers}


def build_explanations(
    model: CreditRiskModel, test: ScoredSplit, content: ReportContent, n_examples: int, seed: int
) -> None:
    """Add the explanation and reason-code sections (numbers and figures) to ``content``."""
    explanation = explanation_section(model, test, content, seed)
    content.numbers["reason_codes"] = reason_section(model, test, explanation, n_examples)
