"""The contract of the bundled German Credit dataset (UCI Statlog), as params.yaml declares it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.config import ProjectConfig
from experiments.io import file_digest, read_table

PROTECTED = {"personal_status_and_sex", "foreign_worker"}


def test_bundled_file_matches_the_pinned_sha256(
    project_config: ProjectConfig, repo_root: Path
) -> None:
    source = repo_root / project_config.data.source

    assert file_digest(source, "sha256") == project_config.data.sha256


def test_raw_file_has_exactly_the_declared_columns(
    project_config: ProjectConfig, repo_root: Path
) -> None:
    raw = read_table(repo_root / project_config.data.source)

    assert sorted(raw.columns) == sorted(project_config.data.declared_columns)


def test_has_1000_rows_and_a_30_percent_default_rate(
    german_credit: pd.DataFrame, project_config: ProjectConfig
) -> None:
    target = german_credit[project_config.data.target]

    assert len(german_credit) == 1000
    assert int(target.sum()) == 300
    assert target.mean() == pytest.approx(0.30)


def test_validated_frame_holds_every_declared_column_plus_the_id(
    german_credit: pd.DataFrame, project_config: ProjectConfig
) -> None:
    schema = project_config.data

    assert set(german_credit.columns) == {*schema.declared_columns, schema.id_name}


def test_target_is_zero_or_one(german_credit: pd.DataFrame, project_config: ProjectConfig) -> None:
    target = german_credit[project_config.data.target]

    assert target.dtype == "int64"
    assert set(target.unique()) == {0, 1}


def test_no_missing_values(german_credit: pd.DataFrame) -> None:
    missing = german_credit.isna().sum()

    assert missing[missing > 0].to_dict() == {}


def test_generated_ids_are_unique(
    german_credit: pd.DataFrame, project_config: ProjectConfig
) -> None:
    ids = german_credit[project_config.data.id_name]

    assert project_config.data.id_column is None  # none in the file: row ids are generated
    assert ids.is_unique
    assert ids.str.fullmatch(r"\d{7}").all()


def test_numeric_columns_are_whole_numbers(
    german_credit: pd.DataFrame, project_config: ProjectConfig
) -> None:
    dtypes = german_credit[list(project_config.data.numeric)].dtypes

    assert (dtypes == "int64").all(), dtypes.to_dict()


@pytest.mark.parametrize(
    ("column", "low", "high"),
    [
        ("age_in_years", 18, 100),
        ("duration_in_month", 1, 100),
        ("credit_amount", 1, 1_000_000),
        ("installment_rate_in_percentage_of_disposable_income", 1, 4),
        ("present_residence_since", 1, 4),
        ("number_of_existing_credits_at_this_bank", 1, 4),
        ("number_of_people_being_liable_to_provide_maintenance_for", 1, 2),
    ],
)
def test_numeric_values_are_plausible(
    german_credit: pd.DataFrame, column: str, low: int, high: int
) -> None:
    values = german_credit[column]

    assert values.between(low, high).all(), values[~values.between(low, high)].head().to_dict()


def test_credit_amount_is_positive(german_credit: pd.DataFrame) -> None:
    assert (german_credit["credit_amount"] > 0).all()


def test_categorical_columns_hold_text_with_few_levels(
    german_credit: pd.DataFrame, project_config: ProjectConfig
) -> None:
    for column in project_config.data.categorical:
        levels = german_credit[column].unique()
        assert all(isinstance(v, str) for v in levels), column
        assert 2 <= len(levels) <= 10, (column, len(levels))


def test_protected_and_excluded_columns_never_reach_the_model(
    project_config: ProjectConfig,
) -> None:
    schema = project_config.data

    assert set(schema.excluded) == PROTECTED
    assert set(schema.excluded).isdisjoint(schema.features)
    assert schema.target not in schema.features
    assert schema.id_name not in schema.features
