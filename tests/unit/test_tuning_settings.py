"""Tuning settings: budget and storage checks, study naming, budget sharing, tuned params."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from experiments.config import ConfigError, ProjectConfig, parse_config
from experiments.stages.train import with_tuned_params
from experiments.tuning.objective import (
    BoostedFold,
    derive_n_estimators,
    score_at_common_iteration,
)
from experiments.tuning.storage import (
    STORAGE_ENV,
    check_workers,
    mask_password,
    resolve_storage,
)
from experiments.tuning.study import split_budget, study_name
from models.families.lightgbm import predict_at

PARAMS = Path(__file__).parents[2] / "params.yaml"


@pytest.fixture(scope="module")
def params_dict() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    return raw


def with_tune(raw: dict[str, Any], **tune: Any) -> dict[str, Any]:
    changed = copy.deepcopy(raw)
    changed["tune"] = changed.get("tune", {}) | tune
    return changed


@pytest.mark.parametrize(
    ("tune", "expected"),
    [
        ({"n_trials": 0}, "tune.n_trials: Input should be greater than or equal to 1"),
        ({"n_trials": "many"}, "tune.n_trials: Input should be a valid integer"),
        ({"timeout_seconds": -5}, "tune.timeout_seconds: Input should be greater than 0"),
        ({"n_trials": None, "timeout_seconds": None}, "tune.n_trials and tune.timeout_seconds"),
        ({"folds": 1}, "tune.folds: Input should be greater than or equal to 2"),
        ({"storage": "postgres://u:pw@db/optuna"}, "tune.storage: "),
        ({"storage": "studies.txt"}, "tune.storage: "),
        ({"storage": ""}, "tune.storage: "),
        ({"storage": "sqlite://"}, "tune.storage: "),
        ({"n_trail": 5}, "tune.n_trail: unknown key"),
    ],
)
def test_bad_budget_or_storage_fails_naming_the_setting(
    params_dict: dict[str, Any], tune: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(with_tune(params_dict, **tune), "params.yaml")

    assert expected in str(caught.value)
    assert "pw" not in str(caught.value), "a password must never be echoed"


@pytest.mark.parametrize(
    "storage",
    [
        "postgresql://optuna:secret@db.internal:5432/studies",
        "mysql+pymysql://u:p@host/db",
        "sqlite:///data/studies/studies.db",
        "data/studies/other.journal",
        "/shared/optuna.log",
    ],
)
def test_accepted_storages(params_dict: dict[str, Any], storage: str) -> None:
    assert parse_config(with_tune(params_dict, storage=storage)).tune.storage == storage


def test_environment_wins_and_relative_paths_are_project_relative(tmp_path: Path) -> None:
    url = "postgresql://u:pw@db/optuna"

    assert resolve_storage("a.journal", tmp_path, {STORAGE_ENV: url}) == (url, STORAGE_ENV)
    assert resolve_storage("a.journal", tmp_path, {}) == (
        str(tmp_path / "a.journal"),
        "tune.storage",
    )
    default, source = resolve_storage(None, tmp_path, {})
    assert default == str(tmp_path / "data/studies/riskgrade.journal")
    assert source.startswith("tune.storage")
    sqlite, _ = resolve_storage("sqlite:///s.db", tmp_path, {})
    assert sqlite == f"sqlite:///{tmp_path / 's.db'}"


def test_bad_storage_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"^{STORAGE_ENV}: 'postgres://u:\\*\\*\\*@db/x'"):
        resolve_storage(None, tmp_path, {STORAGE_ENV: "postgres://u:pw@db/x"})


def test_sqlite_is_refused_for_parallel_workers_with_a_way_out() -> None:
    check_workers("sqlite:////tmp/s.db", 1, "tune.storage")  # one worker: fine

    with pytest.raises(ValueError) as caught:
        check_workers("sqlite:////tmp/s.db", 2, "tune.storage")

    message = str(caught.value)
    assert message.startswith("tune.storage is an SQLite database")
    assert "database is locked" in message and "journal" in message and "PostgreSQL" in message


def test_passwords_are_masked() -> None:
    assert mask_password("postgresql://me:s3cr3t@h:5432/db") == "postgresql://me:***@h:5432/db"
    assert mask_password("postgresql://me@h/db") == "postgresql://me@h/db"
    assert mask_password("/data/studies/x.journal") == "/data/studies/x.journal"


def test_study_name_follows_the_search_not_the_budget(project_config: ProjectConfig) -> None:
    name = study_name(project_config, "lightgbm", "md5-a")
    bigger_budget = project_config.model_copy(
        update={"tune": project_config.tune.model_copy(update={"n_trials": 500})}
    )
    other_folds = project_config.model_copy(
        update={"tune": project_config.tune.model_copy(update={"folds": 3})}
    )

    assert name.startswith("lightgbm-") and len(name) == len("lightgbm-") + 10
    assert study_name(bigger_budget, "lightgbm", "md5-a") == name
    assert study_name(project_config, "lightgbm", "md5-b") != name  # new data: new study
    assert study_name(other_folds, "lightgbm", "md5-a") != name
    assert study_name(project_config.model_copy(update={"seed": 1}), "lightgbm", "md5-a") != name
    assert study_name(project_config, "logistic", "md5-a").startswith("logistic-")


@pytest.mark.parametrize(
    ("remaining", "workers", "expected"),
    [(10, 1, [10]), (7, 2, [4, 3]), (1, 3, [1]), (0, 2, []), (None, 2, [None, None])],
)
def test_remaining_budget_is_shared_between_workers(
    remaining: int | None, workers: int, expected: list[int | None]
) -> None:
    assert split_budget(remaining, workers) == expected


def test_tree_count_scales_the_common_iteration_to_all_training_rows() -> None:
    assert derive_n_estimators(300, n_folds=5) == 375  # 5/4: the final model sees all rows
    assert derive_n_estimators(1, n_folds=2) == 2
    with pytest.raises(ValueError, match="common_iteration must be >= 1"):
        derive_n_estimators(0, n_folds=5)


def test_train_lays_tuned_values_over_params_yaml(
    project_config: ProjectConfig, tmp_path: Path
) -> None:
    constrained = project_config.models.lightgbm.model_copy(
        update={"monotone_constraints": {"duration_in_month": 1}}
    )
    config = project_config.model_copy(
        update={"models": project_config.models.model_copy(update={"lightgbm": constrained})}
    )
    best = tmp_path / "best_params.json"
    record = {"model_family": "lightgbm", "params": {"learning_rate": 0.1, "n_estimators": 77}}
    best.write_text(json.dumps(record))

    tuned = with_tuned_params(config, "lightgbm", best).models.lightgbm

    assert (tuned.learning_rate, tuned.n_estimators) == (0.1, 77)
    assert tuned.monotone_constraints == {"duration_in_month": 1}
    assert tuned.num_leaves == constrained.num_leaves
    with pytest.raises(ValueError, match="tuned for 'lightgbm', not 'logistic'"):
        with_tuned_params(config, "logistic", best)
    best.write_text(json.dumps(record | {"params": {"learning_rate": -1}}))
    with pytest.raises(ValueError, match="not valid tuned params for lightgbm"):
        with_tuned_params(config, "lightgbm", best)


class TreeCountModel:
    """Stands in for a fitted LGBMClassifier: ranks perfectly only with exactly 20 trees."""

    def predict_proba(self, X: Any, num_iteration: int) -> np.ndarray:
        pd_ = np.array([0.1, 0.2, 0.8, 0.9]) if num_iteration == 20 else np.full(4, 0.5)
        return np.column_stack([1 - pd_, pd_])


def test_lightgbm_folds_are_scored_at_one_common_tree_count() -> None:
    y = np.array([0, 0, 1, 1])
    rows = pd.DataFrame(index=range(4))
    folds = [BoostedFold(TreeCountModel(), rows, y, it, predict_at) for it in (10, 30)]

    aucs, trees = score_at_common_iteration(folds)

    assert trees == 20  # the mean best iteration, not each fold's own
    assert aucs == [1.0, 1.0]
