"""SHAP explanations and reason codes of both model families on German Credit.

Fitted once per module on the pipeline's own stratified split. Checks are about behaviour:
contributions add up to the model's output, live in raw columns, agree with SHAP's own
explainer, and the reasons given for a risky customer are the model's own largest drivers.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from applicants import SAFE
from matplotlib.figure import Figure
from scipy.special import logit
from sklearn.pipeline import Pipeline

from experiments.config import ProjectConfig
from features.splitting import split_dataset
from models.explain.explanation import Explanation, explain, explain_model_inputs, global_importance
from models.explain.plots import plot_beeswarm, plot_dependence, plot_importance
from models.factory import build_model_pipeline
from models.scoring.reason_codes import ReasonCode, reason_codes

with warnings.catch_warnings():  # shap's colour set-up warns about matplotlib deprecations
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    import shap

# Risky on the drivers a validator expects to see named (a subset of applicants.RISKY).
RISKY = SAFE | {
    "duration_in_month": 60,
    "credit_amount": 15000,
    "status_of_existing_checking_account": "... < 0 DM",
    "credit_history": "no credits taken/ all credits paid back duly",
    "savings_account_and_bonds": "... < 100 DM",
}
PLAUSIBLE_DRIVERS = {"status_of_existing_checking_account", "duration_in_month", "credit_history"}
FAMILIES = ["lightgbm", "logistic-woe", "logistic-onehot"]


@pytest.fixture(scope="module")
def splits(project_config: ProjectConfig, german_credit: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return split_dataset(
        german_credit, project_config.data, project_config.split, project_config.seed
    )


def model_config(config: ProjectConfig, family: str) -> Any:
    if family == "lightgbm":
        return config.models.lightgbm
    encoding = family.removeprefix("logistic-")
    return config.models.logistic.model_copy(update={"encoding": encoding})


@pytest.fixture(scope="module")
def fitted(project_config: ProjectConfig, splits: dict[str, pd.DataFrame]) -> dict[str, Pipeline]:
    schema, train = project_config.data, splits["train"]
    return {
        family: build_model_pipeline(
            schema,
            project_config.features,
            model_config(project_config, family),
            project_config.seed,
        ).fit(train[schema.features], train[schema.target])
        for family in FAMILIES
    }


@pytest.fixture(scope="module")
def background(project_config: ProjectConfig, splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return splits["train"][project_config.data.features]


@pytest.fixture(scope="module")
def rows(project_config: ProjectConfig, splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Held-out test rows followed by the safe and the risky applicant."""
    test = splits["test"][project_config.data.features]
    return pd.concat([test, pd.DataFrame([SAFE, RISKY])], ignore_index=True)


@pytest.fixture(scope="module")
def explanations(
    fitted: dict[str, Pipeline], rows: pd.DataFrame, background: pd.DataFrame
) -> dict[str, Explanation]:
    return {family: explain(fitted[family], rows, background) for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_contributions_add_up_to_the_model_margin(
    family: str, fitted: dict[str, Pipeline], explanations: dict[str, Explanation], rows: Any
) -> None:
    explanation = explanations[family]
    total = explanation.base_value + explanation.contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, explanation.margin, rtol=0, atol=1e-6)
    pd_default = fitted[family].predict_proba(rows)[:, 1]
    np.testing.assert_allclose(explanation.margin, logit(pd_default), rtol=0, atol=1e-6)
    if family != "lightgbm":
        np.testing.assert_allclose(explanation.margin, fitted[family].decision_function(rows))


@pytest.mark.parametrize("family", FAMILIES)
def test_contributions_are_per_raw_column_and_row(
    family: str,
    explanations: dict[str, Explanation],
    rows: pd.DataFrame,
    project_config: ProjectConfig,
) -> None:
    contributions = explanations[family].contributions
    assert list(contributions.columns) == list(project_config.data.features)
    assert contributions.index.equals(rows.index)
    assert np.isfinite(contributions.to_numpy()).all()


@pytest.mark.parametrize("family", ["logistic-woe", "logistic-onehot"])
def test_linear_closed_form_equals_shap_linear_explainer(
    family: str, fitted: dict[str, Pipeline], rows: pd.DataFrame, background: pd.DataFrame
) -> None:
    features, model = fitted[family].named_steps["features"], fitted[family].named_steps["model"]
    encoded_background = features.transform(background)
    # shap's default masker subsamples the background to 100 rows; use all of them, as we do.
    masker = shap.maskers.Independent(encoded_background, max_samples=len(encoded_background))
    reference = shap.LinearExplainer(model, masker)
    encoded = explain_model_inputs(fitted[family], rows, background)
    expected = reference.shap_values(features.transform(rows))
    np.testing.assert_allclose(encoded.contributions.to_numpy(), expected, rtol=0, atol=1e-9)
    assert encoded.base_value == pytest.approx(float(reference.expected_value), abs=1e-9)


def test_onehot_columns_sum_back_to_their_source_feature(
    fitted: dict[str, Pipeline],
    explanations: dict[str, Explanation],
    rows: pd.DataFrame,
    background: pd.DataFrame,
    project_config: ProjectConfig,
) -> None:
    pipeline = fitted["logistic-onehot"]
    encoded = explain_model_inputs(pipeline, rows, background).contributions
    onehot = pipeline.named_steps["features"].named_steps["encode"]
    onehot = onehot.named_transformers_["categorical"].named_steps["onehot"]
    raw = explanations["logistic-onehot"].contributions
    categorical = project_config.data.categorical
    for column, categories in zip(categorical, onehot.categories_, strict=True):
        dummies = [f"{column}_{category}" for category in categories]
        np.testing.assert_allclose(raw[column], encoded[dummies].sum(axis=1), atol=1e-12)
    burden = encoded["monthly_burden_dm"]
    for column in ("credit_amount", "duration_in_month"):  # a ratio splits half and half
        np.testing.assert_allclose(raw[column], encoded[column] + burden / 2, atol=1e-12)


def test_lightgbm_ratio_contribution_is_split_between_its_inputs(
    fitted: dict[str, Pipeline], explanations: dict[str, Explanation], rows: pd.DataFrame
) -> None:
    encoded = explain_model_inputs(fitted["lightgbm"], rows).contributions
    raw = explanations["lightgbm"].contributions
    half_burden = encoded["monthly_burden_dm"] / 2
    np.testing.assert_allclose(raw["credit_amount"], encoded["credit_amount"] + half_burden)
    np.testing.assert_allclose(raw["purpose"], encoded["purpose"])


def applicants(fitted: Pipeline, background: pd.DataFrame) -> tuple[Explanation, pd.DataFrame]:
    frame = pd.DataFrame([SAFE, RISKY], index=["safe", "risky"])
    return explain(fitted, frame, background), frame


@pytest.mark.parametrize("family", FAMILIES)
def test_reasons_for_a_risky_applicant_are_its_largest_risk_raising_contributions(
    family: str, fitted: dict[str, Pipeline], background: pd.DataFrame
) -> None:
    explanation, frame = applicants(fitted[family], background)
    reasons = reason_codes(explanation, frame, k=3)[1]
    own = explanation.contributions.iloc[1]  # the risky applicant
    expected = own[own > 0].sort_values(ascending=False).head(3)
    assert [r.feature for r in reasons] == list(expected.index)
    np.testing.assert_allclose([r.contribution for r in reasons], expected.to_numpy())
    assert PLAUSIBLE_DRIVERS & {r.feature for r in reasons}
    for reason in reasons:
        assert reason.contribution > 0
        assert reason.value == RISKY[reason.feature]
        assert reason.sentence.endswith("raises risk")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("k", [1, 2, 5])
def test_reason_codes_respect_k_and_only_report_risk_raising_features(
    family: str, k: int, explanations: dict[str, Explanation], rows: pd.DataFrame
) -> None:
    per_row = reason_codes(explanations[family], rows, k=k)
    assert len(per_row) == len(rows)
    positives = (explanations[family].contributions > 0).sum(axis=1).to_numpy()
    for reasons, n_positive in zip(per_row, positives, strict=True):
        assert len(reasons) == min(k, n_positive)
        assert all(r.contribution > 0 for r in reasons)
        assert [r.contribution for r in reasons] == sorted(
            (r.contribution for r in reasons), reverse=True
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_safe_applicant_gets_smaller_risk_raising_reasons_than_risky_one(
    family: str, fitted: dict[str, Pipeline], background: pd.DataFrame
) -> None:
    explanation, frame = applicants(fitted[family], background)
    safe, risky = reason_codes(explanation, frame, k=5)
    assert sum(r.contribution for r in safe) < sum(r.contribution for r in risky)
    assert explanation.margin[0] < explanation.margin[1]


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_value_and_unseen_category_are_explained_and_shown_as_such(
    family: str, fitted: dict[str, Pipeline], background: pd.DataFrame
) -> None:
    odd = RISKY | {"savings_account_and_bonds": None, "purpose": "crypto mining"}
    odd |= {"age_in_years": np.nan}
    frame = pd.DataFrame([odd])
    explanation = explain(fitted[family], frame, background)
    assert np.isfinite(explanation.contributions.to_numpy()).all()
    shown = {r.feature: r for r in reason_codes(explanation, frame, k=18)[0]}
    for feature in ("savings_account_and_bonds", "age_in_years"):
        if feature in shown:
            assert shown[feature].value is None
            assert "missing raises risk" in shown[feature].sentence
    if "purpose" in shown:
        assert shown["purpose"].sentence == "Purpose 'crypto mining' raises risk"


def test_reason_code_sentences_format_values_and_labels() -> None:
    columns = ["status_of_existing_checking_account", "credit_amount", "savings", "ratio", "x"]
    contributions = pd.DataFrame([[0.9, 0.7, 0.5, 0.3, -0.2]], columns=columns)
    explanation = Explanation(-1.0, contributions, np.array([0.2]))
    frame = pd.DataFrame([["... < 0 DM", 15000, None, 1234.5678, 1.0]], columns=columns)
    reasons = reason_codes(explanation, frame, k=10, labels={"savings": "Savings balance"})[0]
    assert [r.sentence for r in reasons] == [
        "Status of existing checking account '... < 0 DM' raises risk",
        "Credit amount 15,000 raises risk",
        "Savings balance missing raises risk",
        "Ratio 1,234.57 raises risk",
    ]
    assert reasons[1].to_dict() == {
        "feature": "credit_amount",
        "value": 15000,
        "contribution": 0.7,
        "sentence": "Credit amount 15,000 raises risk",
    }
    assert isinstance(reasons[0], ReasonCode)


def test_global_importance_ranks_checking_account_in_lightgbm_top_3(
    explanations: dict[str, Explanation], project_config: ProjectConfig
) -> None:
    importance = global_importance(explanations["lightgbm"])
    assert "status_of_existing_checking_account" in importance.index[:3]
    assert set(importance.index) == set(project_config.data.features)
    assert importance.is_monotonic_decreasing


def test_logistic_without_background_is_refused(
    fitted: dict[str, Pipeline], rows: pd.DataFrame
) -> None:
    with pytest.raises(ValueError, match="needs background rows"):
        explain(fitted["logistic-woe"], rows)


def test_bad_inputs_say_what_was_expected(
    fitted: dict[str, Pipeline], explanations: dict[str, Explanation], rows: pd.DataFrame
) -> None:
    with pytest.raises(TypeError, match="build_model_pipeline"):
        explain(fitted["lightgbm"].named_steps["model"], rows)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be a positive integer"):
        reason_codes(explanations["lightgbm"], rows, k=0)
    with pytest.raises(ValueError, match="same index"):
        reason_codes(explanations["lightgbm"], rows.iloc[::-1], k=3)


def test_plots_return_figures_with_axes(
    explanations: dict[str, Explanation], rows: pd.DataFrame
) -> None:
    explanation = explanations["lightgbm"]
    figures = [
        plot_importance(global_importance(explanation)),
        plot_beeswarm(explanation, rows),
        plot_dependence(explanation, rows, "duration_in_month"),
        plot_dependence(explanation, rows, "status_of_existing_checking_account"),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert figure.axes
        figure.savefig(io.BytesIO(), format="png")  # renders without a GUI backend
