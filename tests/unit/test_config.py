"""params.yaml: the real file loads, and every mistake fails naming the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from experiments.config import ConfigError, ProjectConfig, load_config, parse_config

PARAMS = Path(__file__).parents[2] / "params.yaml"


@pytest.fixture(scope="module")
def params_dict() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(PARAMS.read_text(encoding="utf-8"))
    return raw


def with_value(raw: dict[str, Any], dotted_key: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``raw`` with ``dotted_key`` set (created if absent)."""
    changed = copy.deepcopy(raw)
    *parents, last = dotted_key.split(".")
    section = changed
    for part in parents:
        section = section[part]
    section[last] = value
    return changed


def config_error(raw: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "params.yaml")
    message = str(caught.value)
    assert message.startswith("params.yaml: "), "the message must name the file"
    return message


def test_bundled_params_yaml_loads(project_config: ProjectConfig) -> None:
    assert project_config.seed == 42
    assert project_config.data.name == "german_credit"
    assert project_config.data.target == "creditability"
    assert project_config.features.ratios[0].name == "monthly_burden_dm"
    assert project_config.train.models == ("lightgbm", "logistic", "scorecard")


def test_config_is_frozen(project_config: ProjectConfig) -> None:
    with pytest.raises(ValueError, match="frozen"):
        project_config.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "dotted_key",
    ["models.lightgbm.lerning_rate", "split.valid_sise", "data.taget_column", "sede"],
)
def test_misspelled_key_is_named(params_dict: dict[str, Any], dotted_key: str) -> None:
    message = config_error(with_value(params_dict, dotted_key, 0.1))

    assert f"  - {dotted_key}: unknown key (check the spelling)" in message


def test_misspelled_key_in_a_file_names_file_and_key(
    tmp_path: Path, params_dict: dict[str, Any]
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(with_value(params_dict, "models.lightgbm.lerning_rate", 0.1)))

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value).startswith(f"{path}: invalid configuration:")
    assert "models.lightgbm.lerning_rate: unknown key" in str(caught.value)


@pytest.mark.parametrize(
    ("dotted_key", "value", "expected"),
    [
        ("seed", -1, "greater than or equal to 0"),
        ("models.lightgbm.learning_rate", 0, "greater than 0"),
        ("models.lightgbm.subsample", 1.5, "less than or equal to 1"),
        ("models.logistic.penalty", "l3", "'l2' or 'l1'"),
        ("split.test_size", 1.0, "less than 1"),
        ("features.woe_bins", 1, "greater than or equal to 2"),
        ("runtime.n_jobs", 0, "greater than or equal to 1"),
        ("data.format", "xlsx", "'csv' or 'parquet'"),
        ("train.models", ["xgboost"], "known families: ['lightgbm', 'logistic', 'scorecard']"),
    ],
)
def test_out_of_range_value_names_its_key(
    params_dict: dict[str, Any], dotted_key: str, value: Any, expected: str
) -> None:
    message = config_error(with_value(params_dict, dotted_key, value))

    line = next(line for line in message.splitlines() if line.startswith(f"  - {dotted_key}"))
    assert expected in line


@pytest.mark.parametrize(
    ("role", "column", "roles"),
    [
        ("id_column", "credit_amount", "id_column and numeric"),
        ("target", "purpose", "target and categorical"),
        ("date_column", "age_in_years", "date_column and numeric"),
    ],
)
def test_id_target_or_date_listed_as_feature_is_a_leak(
    params_dict: dict[str, Any], role: str, column: str, roles: str
) -> None:
    message = config_error(with_value(params_dict, f"data.{role}", column))

    assert f"{column!r} is listed as {roles}" in message
    assert "would leak into the model" in message


def test_column_in_two_feature_roles_is_rejected(params_dict: dict[str, Any]) -> None:
    excluded = [*params_dict["data"]["excluded"], "purpose"]

    message = config_error(with_value(params_dict, "data.excluded", excluded))

    assert "'purpose' is listed as categorical and excluded" in message


@pytest.mark.parametrize(
    ("data_format", "source", "suffix"),
    [("parquet", "data/credit.csv", "'.csv'"), ("csv", "data/credit.parquet", "'.parquet'")],
)
def test_format_must_match_source_suffix(
    params_dict: dict[str, Any], data_format: str, source: str, suffix: str
) -> None:
    raw = with_value(with_value(params_dict, "data.format", data_format), "data.source", source)

    message = config_error(raw)

    assert f"data.format is {data_format!r} but data.source {source!r} has suffix {suffix}" in (
        message
    )


@pytest.mark.parametrize("label", ["bad", 1])
def test_positive_and_negative_labels_must_differ(params_dict: dict[str, Any], label: Any) -> None:
    raw = with_value(params_dict, "data.positive_label", label)
    raw = with_value(raw, "data.negative_label", label)

    message = config_error(raw)

    assert f"positive_label and negative_label are both {label!r}; they must differ" in message


@pytest.mark.parametrize(("valid", "test"), [(0.5, 0.4), (0.45, 0.45), (0.6, 0.35)])
def test_split_must_leave_training_data(
    params_dict: dict[str, Any], valid: float, test: float
) -> None:
    message = config_error(
        with_value(params_dict, "split", {"valid_size": valid, "test_size": test})
    )

    assert f"valid_size + test_size = {valid + test:.2f}" in message
    assert "keep it below 0.9" in message


def test_split_just_below_the_limit_is_accepted(params_dict: dict[str, Any]) -> None:
    config = parse_config(with_value(params_dict, "split", {"valid_size": 0.4, "test_size": 0.45}))

    assert config.split.valid_size + config.split.test_size == pytest.approx(0.85)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "params.yaml"

    with pytest.raises(ConfigError, match="configuration file not found") as caught:
        load_config(path)

    assert str(caught.value).startswith(str(path))


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("seed: 42\ndata:\n  name: [unclosed\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config(path)

    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize("text", ["", "- seed\n- data\n", "just text\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError, match="expected a mapping of sections") as caught:
        load_config(path)

    assert str(caught.value).startswith(str(path))
