"""The data contract: every broken rule gives an error naming the file, the column and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.io import InputError, read_table
from features.schema import GENERATED_ID_COLUMN, DatasetSchema
from features.validation import DataValidationError, validate_dataset

SOURCE = "tiny.csv"


def validation_error(raw: pd.DataFrame, schema: DatasetSchema) -> DataValidationError:
    with pytest.raises(DataValidationError) as caught:
        validate_dataset(raw, schema, source=SOURCE)
    error = caught.value
    assert str(error).startswith(f"{SOURCE}: "), "the message must name the file"
    return error


def test_missing_target_column_is_named(tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema) -> None:
    error = validation_error(tiny_raw.drop(columns="outcome"), tiny_schema)

    assert error.problems == [
        "target column 'outcome' is missing; set data.target in params.yaml "
        f"(columns found: {list(tiny_raw.columns[:-1])})"
    ]


@pytest.mark.parametrize(
    ("labels", "found"),
    [
        (["yes", "no"], "['no', 'yes']"),
        (["good", "Bad"], "['Bad', 'good']"),  # labels are case-sensitive
        ([1, 0], "['0', '1']"),
    ],
    ids=["other-words", "wrong-case", "numbers"],
)
def test_target_labels_other_than_configured_are_listed(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema, labels: list[object], found: str
) -> None:
    positive, negative = labels
    tiny_raw["outcome"] = tiny_raw["outcome"].map({"bad": positive, "good": negative})

    error = validation_error(tiny_raw, tiny_schema)

    (problem,) = error.problems
    assert "target 'outcome' must hold only 'bad' (default) and 'good' (no default)" in problem
    assert f"found labels {found}" in problem
    assert "row 1:" in problem  # the first offending row, 1-based


def test_target_with_one_label_only_is_rejected(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    tiny_raw["outcome"] = "good"

    error = validation_error(tiny_raw, tiny_schema)

    assert error.problems == ["target 'outcome' has a single class ['good']; need both"]


def test_missing_target_values_are_located(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    tiny_raw.loc[[2, 9], "outcome"] = None

    error = validation_error(tiny_raw, tiny_schema)

    (problem,) = error.problems
    assert problem.startswith("target 'outcome' has missing values at row 3: ")
    assert "row 10: " in problem


def test_frame_without_rows_is_rejected(tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema) -> None:
    error = validation_error(tiny_raw.iloc[0:0], tiny_schema)

    assert error.problems == ["the file has no data rows"]


def test_header_only_csv_is_rejected_as_no_data_rows(
    tmp_path: Path, tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    path = tmp_path / "tiny.csv"
    tiny_raw.iloc[0:0].to_csv(path, index=False)

    error = validation_error(read_table(path), tiny_schema)

    assert error.problems == ["the file has no data rows"]


def test_empty_file_is_refused_by_read_table(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(InputError, match=r"empty\.csv: the file is empty \(0 bytes\)"):
        read_table(path)


TEXT_IN_NUMBER = "column 'duration_months' must be numeric; found text at row 4"
NA_HINT = "If such text means 'missing' in this file, list it in data.na_values"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("twelve", f"{TEXT_IN_NUMBER}: 'twelve'. {NA_HINT}"),
        ("12 months", f"{TEXT_IN_NUMBER}: '12 months'. {NA_HINT}"),
        (np.inf, "column 'duration_months' has infinite values at row 4: inf"),
        (-np.inf, "column 'duration_months' has infinite values at row 4: -inf"),
    ],
    ids=["word", "number-with-unit", "inf", "minus-inf"],
)
def test_bad_numeric_value_is_named_with_column_and_row(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema, value: object, problem: str
) -> None:
    tiny_raw["duration_months"] = tiny_raw["duration_months"].astype(object)
    tiny_raw.loc[3, "duration_months"] = value

    error = validation_error(tiny_raw, tiny_schema)

    assert error.problems == [problem]


def test_duplicate_ids_are_listed(tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema) -> None:
    tiny_raw.loc[4, "customer_id"] = "c02"

    error = validation_error(tiny_raw, tiny_schema)

    assert error.problems == [
        "id column 'customer_id' has duplicate ids: row 2: 'c02', row 5: 'c02'"
    ]


def test_missing_ids_are_located(tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema) -> None:
    tiny_raw.loc[6, "customer_id"] = None

    error = validation_error(tiny_raw, tiny_schema)

    (problem,) = error.problems
    assert problem.startswith("id column 'customer_id' has missing values at row 7: ")


def test_unknown_columns_are_named_with_the_fix(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    tiny_raw["notes"] = "x"
    tiny_raw["branch"] = "north"

    error = validation_error(tiny_raw, tiny_schema)

    assert error.problems == [
        "unknown column(s) ['notes', 'branch']: give each a role in params.yaml "
        "(data.numeric, data.categorical or data.excluded)"
    ]


@pytest.mark.parametrize("column", ["purpose", "amount_dm", "customer_id"])
def test_declared_column_missing_from_file_is_named(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema, column: str
) -> None:
    error = validation_error(tiny_raw.drop(columns=column), tiny_schema)

    assert error.problems == [f"declared column(s) missing from the file: [{column!r}]"]


def test_all_problems_are_reported_together(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    tiny_raw.loc[4, "customer_id"] = "c02"
    tiny_raw["amount_dm"] = tiny_raw["amount_dm"].astype(object)
    tiny_raw.loc[7, "amount_dm"] = "n/a"

    error = validation_error(tiny_raw, tiny_schema)

    assert len(error.problems) == 2
    assert str(error).startswith(f"{SOURCE}: 2 problem(s) found:\n")
    assert "duplicate ids" in str(error)
    assert "column 'amount_dm' must be numeric; found text at row 8: 'n/a'" in str(error)


def test_valid_frame_is_typed_for_the_model(
    tiny_frame: pd.DataFrame, tiny_raw: pd.DataFrame
) -> None:
    assert list(tiny_frame.columns) == list(tiny_raw.columns)
    assert tiny_frame["duration_months"].dtype == "int64"  # whole numbers, none missing
    assert tiny_frame["amount_dm"].dtype == "float64"  # has missing values
    assert tiny_frame["amount_dm"].isna().tolist() == tiny_raw["amount_dm"].isna().tolist()
    assert tiny_frame["outcome"].dtype == "int64"
    assert tiny_frame["outcome"].tolist() == (tiny_raw["outcome"] == "bad").astype(int).tolist()
    assert tiny_frame["customer_id"].tolist() == tiny_raw["customer_id"].tolist()
    # Categorical values stay text; a missing one stays missing (the pipeline imputes it).
    assert tiny_frame.loc[0, "checking_status"] == "none"
    assert pd.isna(tiny_frame.loc[5, "checking_status"])


def test_whole_numbers_stored_as_floats_become_int64(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    tiny_raw["duration_months"] = tiny_raw["duration_months"].astype("float64")

    frame = validate_dataset(tiny_raw, tiny_schema, source=SOURCE)

    assert frame["duration_months"].dtype == "int64"


def test_row_id_is_generated_when_there_is_no_id_column(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    schema = DatasetSchema.model_validate(tiny_schema.model_dump() | {"id_column": None})

    frame = validate_dataset(tiny_raw.drop(columns="customer_id"), schema, source=SOURCE)

    assert schema.id_name == GENERATED_ID_COLUMN
    ids = frame[GENERATED_ID_COLUMN]
    assert ids.tolist()[:3] == ["0000001", "0000002", "0000003"]
    assert ids.is_unique
    assert len(ids) == len(tiny_raw)


def test_validation_does_not_modify_the_raw_frame(
    tiny_raw: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    before = tiny_raw.copy()

    validate_dataset(tiny_raw, tiny_schema, source=SOURCE)

    pd.testing.assert_frame_equal(tiny_raw, before)
