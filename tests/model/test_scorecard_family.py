"""The optbinning scorecard family on German Credit: optbinning's numbers, points that add up
to the score, reason codes that are points lost, a fast path equal to the pipeline."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from experiments.config import ProjectConfig
from features.binning import OptimalBinningWoE
from features.splitting import split_dataset
from models.calibration import CalibratedPipeline, CalibrationConfig
from models.contract.pyfunc import load_pipeline, save_pipeline
from models.explain.explanation import explain
from models.factory import build_calibrated_model, build_model_pipeline, fit_credit_model
from models.families.scorecard import BinnedScorecardConfig, points_table, suggest_scorecard
from models.families.search_spaces import starting_params
from models.fastpath.compiled import columns_from_records, compile_pipeline
from models.scoring.scorecard import ScoreScaling

WOE = {"metric": "woe", "metric_missing": "empirical", "metric_special": "empirical"}
SPECIAL = -999.0


@pytest.fixture(scope="module")
def parts(project_config: ProjectConfig, german_credit: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Train/test with some missing values and a special code (-999) planted in the numbers,
    and unseen / missing categories in test, so every kind of bin is exercised."""
    split = split_dataset(german_credit, project_config.data, project_config.split, 42)
    train, test = split["train"].copy(), split["test"].copy()
    for frame in (train, test):
        frame["credit_amount"] = frame["credit_amount"].astype("float64")
        frame["age_in_years"] = frame["age_in_years"].astype("float64")
        frame.loc[frame.index[:25], "credit_amount"] = np.nan
        frame.loc[frame.index[25:45], "age_in_years"] = SPECIAL
    test.loc[test.index[:4], "purpose"] = "spaceship"
    test.loc[test.index[4:7], "purpose"] = None
    return {"train": train, "test": test}


def family_config() -> BinnedScorecardConfig:
    return BinnedScorecardConfig(special_codes=(SPECIAL,))


def fitted_model(config: ProjectConfig, train: pd.DataFrame, method: str) -> CalibratedPipeline:
    schema = config.data
    model = build_calibrated_model(
        schema, config.features, family_config(), CalibrationConfig(method=method), config.seed
    )
    fit_credit_model(model, config.scorecard, train[schema.features], train[schema.target])
    return model


@pytest.fixture(scope="module")
def platt(project_config: ProjectConfig, parts: dict[str, pd.DataFrame]) -> CalibratedPipeline:
    return fitted_model(project_config, parts["train"], "platt")


def with_ratios(model: CalibratedPipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """The encoder's input: raw features plus the ratio columns."""
    return model.pipeline_.named_steps["features"].named_steps["ratios"].transform(frame)


def optbinning_process(project_config: ProjectConfig, columns: list[str]) -> BinningProcess:
    config = family_config()
    numeric = [c for c in columns if c not in project_config.data.categorical]
    return BinningProcess(
        columns,
        max_n_bins=config.max_n_bins,
        min_bin_size=config.min_bin_size,
        categorical_variables=list(project_config.data.categorical),
        special_codes=list(config.special_codes),
        binning_fit_params={c: {"monotonic_trend": config.monotonic_trend} for c in numeric},
    )


def test_woe_is_optbinnings_binning_process(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame], platt: CalibratedPipeline
) -> None:
    train = with_ratios(platt, parts["train"][project_config.data.features])
    test = with_ratios(platt, parts["test"][project_config.data.features])
    y = parts["train"][project_config.data.target].to_numpy()
    encoder = platt.pipeline_.named_steps["features"].named_steps["encode"]
    process = optbinning_process(project_config, list(train.columns)).fit(train, y)
    for frame in (train, test):
        expected = process.transform(frame, **WOE)
        assert np.max(np.abs(encoder.transform(frame).to_numpy() - expected.to_numpy())) < 1e-12


def test_pipeline_is_optbinnings_scorecard(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame]
) -> None:
    """Without calibration our pipeline's PD is optbinning's ``Scorecard.predict_proba``."""
    schema = project_config.data
    ours = build_model_pipeline(schema, project_config.features, family_config(), 42)
    ours.fit(parts["train"][schema.features], parts["train"][schema.target])
    train = with_ratios_of(ours, parts["train"][schema.features])
    test = with_ratios_of(ours, parts["test"][schema.features])
    regression = LogisticRegression(C=1.0, max_iter=2000, random_state=42)
    theirs = Scorecard(optbinning_process(project_config, list(train.columns)), regression)
    theirs.fit(train, parts["train"][schema.target], metric_missing="empirical",
               metric_special="empirical")  # fmt: skip
    ours_pd = ours.predict_proba(parts["test"][schema.features])[:, 1]
    assert np.max(np.abs(ours_pd - theirs.predict_proba(test)[:, 1])) < 1e-9


def with_ratios_of(pipeline: object, frame: pd.DataFrame) -> pd.DataFrame:
    return pipeline.named_steps["features"].named_steps["ratios"].transform(frame)  # type: ignore[attr-defined]


def test_points_table_is_optbinnings_pdo_odds_scaling(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame]
) -> None:
    """Uncalibrated, our points per attribute are optbinning's ``pdo_odds`` points."""
    model = fitted_model(project_config, parts["train"], "none")
    scaling = project_config.scorecard.scaling
    table = points_table(model, scaling)["points_table"]
    train = with_ratios(model, parts["train"][project_config.data.features])
    regression = LogisticRegression(C=1.0, max_iter=2000, random_state=project_config.seed)
    params = {
        "pdo": scaling.pdo, "odds": scaling.base_odds, "scorecard_points": scaling.base_points
    }  # fmt: skip
    theirs = Scorecard(
        optbinning_process(project_config, list(train.columns)), regression,
        scaling_method="pdo_odds", scaling_method_params=params,
    )  # fmt: skip
    theirs.fit(train, parts["train"][project_config.data.target], metric_missing="empirical",
               metric_special="empirical")  # fmt: skip
    detailed = theirs.table(style="detailed")
    for column, ours in table.groupby("characteristic", sort=False):
        expected = detailed.loc[detailed["Variable"] == column, "Points"].to_numpy()
        # optbinning lists Special and Missing for every variable; ours lists Special only
        # where special codes apply (numbers)
        got = ours["points"].to_numpy()
        if len(got) == len(expected) - 1:
            expected = np.delete(expected, -2)
        assert got == pytest.approx(expected, abs=1e-9), column


def test_points_add_up_to_the_credit_score(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame], platt: CalibratedPipeline
) -> None:
    scaling: ScoreScaling = project_config.scorecard.scaling
    table = points_table(platt, scaling)["points_table"]
    test = parts["test"][project_config.data.features]
    encoder = platt.pipeline_.named_steps["features"].named_steps["encode"]
    inputs = with_ratios(platt, test)
    total = np.zeros(len(test))
    for column, rows in table.groupby("characteristic", sort=False):
        points = dict(zip(rows["attribute"], rows["points"], strict=True))
        labels = np.asarray(encoder.bin_labels(column), dtype=object)
        index = encoder.bin_index(column, inputs[column])
        total += [points[label] for label in labels[index]]
    pd_ = platt.predict_proba(test)[:, 1]
    unclipped = scaling.offset + scaling.factor * np.log((1 - pd_) / pd_)
    assert np.max(np.abs(total - unclipped)) < 1e-6


def test_reason_codes_are_points_lost(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame], platt: CalibratedPipeline
) -> None:
    """Each contribution x factor is the points the customer's attribute loses against the
    characteristic's best attribute: never negative, and they add up to the margin."""
    scaling = project_config.scorecard.scaling
    test = parts["test"][project_config.data.features].head(60)
    explanation = explain(platt, test)
    assert "points lost" in explanation.method
    encoder = platt.pipeline_.named_steps["features"].named_steps["encode"]
    table = points_table(platt, scaling)["points_table"]
    lost = explanation.contributions * scaling.factor
    assert (lost.to_numpy() >= -1e-9).all()
    inputs = with_ratios(platt, test)
    column = "status_of_existing_checking_account"  # no ratio: its raw column is its input
    rows = table[table["characteristic"] == column]
    by_attribute = dict(zip(rows["attribute"], rows["points_lost"], strict=True))
    labels = np.asarray(encoder.bin_labels(column), dtype=object)
    expected = [by_attribute[label] for label in labels[encoder.bin_index(column, inputs[column])]]
    assert lost[column].to_numpy() == pytest.approx(expected, abs=1e-9)


def test_fast_path_equals_the_pipeline(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame], platt: CalibratedPipeline
) -> None:
    test = parts["test"][project_config.data.features]
    compiled = compile_pipeline(platt)
    records = [dict(row) for row in test.to_dict("records")]
    columns = columns_from_records(records, compiled.raw_columns, compiled.categories)
    fast = compiled.predict(columns, contributions=True)
    explanation = explain(platt, test)
    assert np.max(np.abs(fast.pd - platt.predict_proba(test)[:, 1])) < 1e-9
    assert fast.contributions is not None and fast.base_value is not None
    assert np.max(np.abs(fast.contributions - explanation.contributions.to_numpy())) < 1e-9
    assert fast.base_value == pytest.approx(explanation.base_value, abs=1e-9)
    one = [compiled.predict_record(r, contributions=True).pd[0] for r in records[:50]]
    assert np.max(np.abs(np.asarray(one) - fast.pd[:50])) < 1e-12
    assert compiled.unseen_record(records[0]) == ["purpose"]  # "spaceship"
    assert "points lost" in compiled.method


def test_auc_floor_on_held_out_rows(
    project_config: ProjectConfig, parts: dict[str, pd.DataFrame], platt: CalibratedPipeline
) -> None:
    test = parts["test"]
    pd_ = platt.predict_proba(test[project_config.data.features])[:, 1]
    assert roc_auc_score(test[project_config.data.target], pd_) > 0.72


def test_numeric_bins_follow_one_monotonic_trend(platt: CalibratedPipeline) -> None:
    """auto_asc_desc: each number's default rate only rises or only falls across its bins."""
    encoder: OptimalBinningWoE = platt.pipeline_.named_steps["features"].named_steps["encode"]
    for column in encoder.splits_:
        woe = np.diff(encoder.woe_[column][:-2])
        assert (woe >= -1e-12).all() or (woe <= 1e-12).all(), column


def test_a_stored_scorecard_loads_and_scores_without_optbinning(
    platt: CalibratedPipeline, parts: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """The registered object keeps plain tables: a serving install needs no optbinning."""
    path = tmp_path / "pipeline.skops"
    save_pipeline(platt, path)
    rows = tmp_path / "rows.parquet"
    parts["test"].head(20).to_parquet(rows)
    expected = platt.predict_proba(parts["test"].head(20))[:, 1]
    script = (
        "import sys; sys.modules['optbinning'] = None\n"
        "import pandas as pd\n"
        "from models.contract.pyfunc import load_pipeline\n"
        f"model = load_pipeline(__import__('pathlib').Path({str(path)!r}))\n"
        f"print(list(model.predict_proba(pd.read_parquet({str(rows)!r}))[:, 1]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert np.asarray(eval(done.stdout)) == pytest.approx(expected, abs=1e-12)
    assert load_pipeline(path).predict_proba(parts["test"].head(20))[:, 1] == pytest.approx(
        expected, abs=1e-12
    )


def test_search_space_starts_at_params_yaml_and_samples_valid_scorecards() -> None:
    import optuna

    base = BinnedScorecardConfig(max_n_bins=4, C=0.5, special_codes=(SPECIAL,))
    start = starting_params(suggest_scorecard, base)
    assert suggest_scorecard(optuna.trial.FixedTrial(start), base) == base
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        config = suggest_scorecard(study.ask(), base)
        assert 2 <= config.max_n_bins <= 10 and 0.02 <= config.min_bin_size <= 0.2
        assert config.special_codes == (SPECIAL,)


@pytest.mark.parametrize(
    ("frame", "y", "message"),
    [
        (pd.DataFrame({"amount": ["1", "x", "3", "4"]}), [0, 1, 0, 1], "column 'amount'"),
        (pd.DataFrame({"amount": [1.0, 2.0, 3.0, 4.0]}), [0, 0, 0, 0], "one class only"),
        (pd.DataFrame({"amount": [1.0, 2.0]}), [0, 2], "must be binary 0/1"),
        (pd.DataFrame({"amount": [np.nan, -999.0]}), [0, 1], "column 'amount' holds only"),
    ],
)
def test_bad_fit_input_names_the_problem(frame: pd.DataFrame, y: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OptimalBinningWoE(special_codes=[-999.0]).fit(frame, y)


def test_unscaled_points_formula_matches_a_hand_computed_attribute(
    project_config: ProjectConfig, platt: CalibratedPipeline
) -> None:
    """One attribute by hand: -factor * a * coef * WoE + (offset - factor * (a * b0 + b)) / n."""
    scaling = project_config.scorecard.scaling
    table = points_table(platt, scaling)["points_table"]
    row = table.iloc[0]
    regression = platt.pipeline_.named_steps["model"]
    a, b = platt.calibration_map.slope, platt.calibration_map.intercept
    n = len(regression.coef_.ravel())
    share = (scaling.offset - scaling.factor * (a * regression.intercept_[0] + b)) / n
    expected = share - scaling.factor * a * row["coefficient"] * row["woe"]
    assert row["points"] == pytest.approx(expected, abs=1e-9)
    assert math.isclose(scaling.factor, scaling.pdo / math.log(2))
