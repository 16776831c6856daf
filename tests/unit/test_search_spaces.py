"""Search spaces: every sampled trial is a valid, buildable config; bad values are refused."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
import pytest

from features.pipeline import FeatureConfig
from features.schema import DatasetSchema
from models.factory import build_model_pipeline
from models.families.lightgbm import LightGBMConfig, suggest_lightgbm
from models.families.logistic import LogisticConfig, suggest_logistic
from models.families.search_spaces import changed_values, starting_params

N_SAMPLES = 200
LIGHTGBM_BASE = LightGBMConfig(
    n_estimators=1500, cat_smooth=5.0, monotone_constraints={"duration_months": 1}
)
LOGISTIC_BASE = LogisticConfig(max_iter=500)


def sampled_trials(n: int = N_SAMPLES) -> list[optuna.Trial]:
    """``n`` trials of a seeded random search (explores the edges more than TPE would)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    return [study.ask() for _ in range(n)]


def test_lightgbm_trials_are_valid_configs_that_keep_unsearched_settings(
    tiny_schema: DatasetSchema,
) -> None:
    configs = [suggest_lightgbm(trial, LIGHTGBM_BASE) for trial in sampled_trials()]

    for config in configs:
        assert config.monotone_constraints == {"duration_months": 1}
        assert (config.n_estimators, config.cat_smooth) == (1500, 5.0)
        assert config.subsample_freq == 1  # bagging on, so `subsample` acts
        assert 0.005 <= config.learning_rate <= 0.2
        assert 2 <= config.num_leaves <= 128 and 2 <= config.max_depth <= 12
        build_model_pipeline(tiny_schema, FeatureConfig(), config, seed=0)
    assert {c.class_weight for c in configs} == {None, "balanced"}


def test_logistic_trials_are_valid_configs_covering_every_choice(
    tiny_schema: DatasetSchema,
) -> None:
    configs = [suggest_logistic(trial, LOGISTIC_BASE) for trial in sampled_trials()]

    for config in configs:
        assert config.max_iter == 500
        assert 1e-3 <= config.C <= 100
        build_model_pipeline(tiny_schema, FeatureConfig(), config, seed=0)
    assert {c.encoding for c in configs} == {"onehot", "woe"}
    assert {c.penalty for c in configs} == {"l1", "l2"}
    assert {c.class_weight for c in configs} == {None, "balanced"}


@pytest.mark.parametrize(
    ("suggest", "config_type"),
    [(suggest_lightgbm, LightGBMConfig), (suggest_logistic, LogisticConfig)],
)
def test_trial_parameters_are_named_after_config_fields(suggest: Any, config_type: Any) -> None:
    trial = sampled_trials(1)[0]
    suggest(trial)

    assert set(trial.params) <= set(config_type.model_fields)


@pytest.mark.parametrize(
    ("suggest", "params", "message"),
    [
        # numbers Optuna lets through (with a warning) and the config refuses, naming the field
        (suggest_lightgbm, {"learning_rate": 2.0}, "learning_rate"),
        (suggest_lightgbm, {"num_leaves": 1}, "num_leaves"),
        (suggest_lightgbm, {"subsample": 1.5}, "subsample"),
        # values Optuna refuses itself: a non-positive C on a log scale, unknown choices
        (suggest_logistic, {"C": -1.0}, "-1.0"),
        (suggest_lightgbm, {"class_weight": "heavy"}, "heavy"),
        (suggest_logistic, {"penalty": "elasticnet"}, "elasticnet"),
        (suggest_logistic, {"encoding": "target"}, "target"),
    ],
)
def test_values_outside_the_space_are_rejected(
    suggest: Any, params: dict[str, Any], message: str
) -> None:
    trial = sampled_trials(1)[0]
    suggest(trial)
    fixed = optuna.trial.FixedTrial(trial.params | params)

    with pytest.raises(ValueError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FixedTrial warns about values outside the space
        suggest(fixed)


def test_changed_values_are_the_searched_and_the_altered_fields() -> None:
    fixed = optuna.trial.FixedTrial(
        {
            "learning_rate": 0.05,
            "num_leaves": 16,
            "max_depth": 6,
            "min_child_samples": 20,  # the base value: still written, it was searched
            "subsample": 0.9,
            "colsample_bytree": 0.5,
            "reg_alpha": 1e-3,
            "reg_lambda": 1.0,
            "class_weight": None,
        }
    )
    base = LIGHTGBM_BASE.model_copy(update={"subsample_freq": 0})
    tuned = suggest_lightgbm(fixed, base)

    values = changed_values(tuned, base, set(fixed.params))

    assert set(values) == set(fixed.params) | {"subsample_freq"}
    assert values["min_child_samples"] == 20
    assert "monotone_constraints" not in values and "n_estimators" not in values


def test_the_configured_model_is_the_starting_point_moved_into_the_space() -> None:
    base = LightGBMConfig(max_depth=-1, reg_alpha=0.0, learning_rate=0.5, num_leaves=8)

    start = starting_params(suggest_lightgbm, base)

    assert start["max_depth"] == 12  # -1 = no limit -> the loosest limit searched
    assert start["reg_alpha"] == 1e-8 and start["learning_rate"] == 0.2  # clipped into range
    assert start["num_leaves"] == 8 and start["class_weight"] is None  # inside: unchanged
    assert suggest_lightgbm(optuna.trial.FixedTrial(start), base).num_leaves == 8
    assert starting_params(suggest_logistic, LOGISTIC_BASE) == {
        "encoding": "woe",
        "C": 1.0,
        "penalty": "l2",
        "class_weight": None,
    }
