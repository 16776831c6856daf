"""How a user's file is read: delimiter, encoding, missing-value tokens and label quoting;
and the warnings for settings that name columns the data does not have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import ConfigError, ProjectConfig, parse_config, stale_column_references
from experiments.io import InputError, read_table
from features.schema import TableFormat, ValueRange
from features.validation import DataValidationError, mark_missing, validate_dataset

HEADER = "customer_id,duration_months,amount_dm,checking_status,purpose,outcome"


def params(source: Path, **data: Any) -> dict[str, Any]:
    """A minimal params.yaml for a tiny file; ``data`` overrides keys of its data section."""
    return {
        "seed": 1,
        "data": {
            "name": "tiny",
            "source": str(source),
            "format": source.suffix.lstrip("."),
            "target": "outcome",
            "positive_label": "bad",
            "negative_label": "good",
            "id_column": "customer_id",
            "numeric": ["duration_months", "amount_dm"],
            "categorical": ["checking_status", "purpose"],
        }
        | data,
    }


def write_csv(path: Path, rows: list[str], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    lines = [HEADER, *rows]
    text = "\n".join(line.replace(",", delimiter) for line in lines) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


ROWS = [
    "c1,12,1000,none,car,good",
    "c2,24,,low,tv,bad",  # empty field: missing by default
    "c3,36,NA,NA,car,bad",  # NA: text unless declared
    "c4,6,n/a,n/a,tv,good",
]


def config_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return str(caught.value)


def test_an_unquoted_yes_label_is_refused_with_the_fix(tmp_path: Path) -> None:
    text = yaml.safe_dump(params(tmp_path / "f.csv")).replace(
        "positive_label: bad", "positive_label: yes"
    )
    raw = yaml.safe_load(text)
    assert raw["data"]["positive_label"] is True  # what YAML does to it

    message = config_error(raw)

    assert (
        "  - data.positive_label: Value error, YAML read an unquoted label as the boolean True; "
        'quote the label exactly as the file writes it, e.g. positive_label: "yes"'
    ) in message


def test_a_numeric_missing_value_token_is_refused(tmp_path: Path) -> None:
    message = config_error(params(tmp_path / "f.csv", na_values=["", "-999"]))

    assert (
        "data.na_values: Value error, '-999' is a number: a numeric code is a value, not a "
        "missing-value token (JSON and Parquet carry it as a number). Declare it in "
        "models.scorecard.special_codes, or blank it in the file"
    ) in message


def test_an_unknown_encoding_is_refused(tmp_path: Path) -> None:
    message = config_error(params(tmp_path / "f.csv", encoding="latin-9"))

    assert "data.encoding: Value error, unknown text encoding 'latin-9'" in message


def test_only_the_empty_field_is_missing_by_default(tmp_path: Path) -> None:
    frame = read_table(write_csv(tmp_path / "f.csv", ROWS))

    assert frame["amount_dm"].isna().tolist() == [False, True, False, False]
    assert frame["checking_status"].tolist() == ["none", "low", "NA", "n/a"]


def test_validate_names_an_undeclared_token_in_a_number_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", ROWS)
    schema = parse_config(params(path)).data

    with pytest.raises(DataValidationError) as caught:
        validate_dataset(read_table(path, schema.table_format), schema, str(path))

    assert caught.value.problems == [
        "column 'amount_dm' must be numeric; found text at row 3: 'NA', row 4: 'n/a'. If such "
        "text means 'missing' in this file, list it in data.na_values"
    ]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_declared_tokens_are_missing_in_csv_and_parquet_alike(tmp_path: Path, suffix: str) -> None:
    csv = write_csv(tmp_path / "f.csv", ROWS)
    path = csv
    if suffix == ".parquet":  # the same cells, as text, in a Parquet file
        path = tmp_path / "f.parquet"
        pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(path)
    schema = parse_config(params(path, na_values=["", "NA", "n/a"])).data

    frame = validate_dataset(read_table(path, schema.table_format), schema, str(path))

    assert frame["amount_dm"].isna().tolist() == [False, True, True, True]
    assert frame["checking_status"].tolist() == ["none", "low", None, None]


def test_a_semicolon_file_read_with_commas_says_so(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", ROWS, delimiter=";")

    with pytest.raises(InputError) as caught:
        read_table(path)

    assert str(caught.value) == (
        f"{path}: the header has one column, "
        "'customer_id;duration_months;amount_dm;checking_status;purpose;outcome', which "
        "contains ';': the file looks ';'-separated; set data.delimiter: ';' in params.yaml"
    )


def test_a_declared_delimiter_and_encoding_read_the_file(tmp_path: Path) -> None:
    rows = [*ROWS[:2], "c3,36,500,niño,car,bad"]
    path = write_csv(tmp_path / "f.csv", rows, delimiter=";", encoding="cp1252")

    frame = read_table(path, TableFormat(delimiter=";", encoding="cp1252"))

    assert frame["checking_status"].tolist() == ["none", "low", "niño"]


def test_a_file_in_another_encoding_names_the_setting(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", [*ROWS[:2], "c3,36,500,niño,car,bad"], encoding="cp1252")

    with pytest.raises(InputError) as caught:
        read_table(path)

    assert str(caught.value) == (
        f"{path}: is not utf-8 text (invalid continuation byte); declare the "
        "file's encoding in data.encoding, e.g. latin-1 or cp1252"
    )


def test_mark_missing_touches_only_text_equal_to_a_token() -> None:
    frame = pd.DataFrame({"a": ["NA", "NAB", None], "b": [1.0, 2.0, 3.0]})

    marked = mark_missing(frame, ("NA",))

    assert marked["a"].isna().tolist() == [True, False, True]
    assert marked["a"][1] == "NAB"
    assert marked["b"].tolist() == [1.0, 2.0, 3.0]
    assert frame["a"][0] == "NA"  # the input is left alone


def bundled_settings_on(source: Path, project_config: ProjectConfig) -> ProjectConfig:
    """The bundled params.yaml (German Credit settings) with only the data section replaced."""
    raw = project_config.model_dump(mode="json")
    raw["data"] = params(source)["data"]
    raw["models"]["lightgbm"]["monotone_constraints"] = {"duration_in_month": 1, "amount_dm": 1}
    return ProjectConfig.model_validate(raw)


def test_settings_naming_absent_columns_are_listed_by_key(
    tmp_path: Path, project_config: ProjectConfig
) -> None:
    config = bundled_settings_on(tmp_path / "f.csv", project_config)

    lines = stale_column_references(config)

    assert lines[0] == (
        "params.yaml features.ratios['monthly_burden_dm'] names ['credit_amount', "
        "'duration_in_month'], not among the dataset's numeric columns (data section): "
        "update or remove it"
    )
    assert lines[1] == (
        "params.yaml models.lightgbm.monotone_constraints names ['duration_in_month'], not "
        "among the dataset's features (data section): update or remove it"
    )
    assert lines[2].startswith(
        "params.yaml scorecard.reasons.labels names ['status_of_existing_checking_account', "
    )
    assert lines[3].startswith(
        "params.yaml customer_report.actionable names ['duration_in_month', 'credit_amount'"
    )
    assert len(lines) == 4


def test_the_bundled_params_name_no_absent_column(project_config: ProjectConfig) -> None:
    assert stale_column_references(project_config) == []


def test_validate_warns_naming_the_key(tmp_path: Path, project_config: ProjectConfig) -> None:
    path = write_csv(tmp_path / "f.csv", [*ROWS[:2], "c3,36,500,low,car,good"])
    raw = bundled_settings_on(path, project_config).model_dump(mode="json")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    register_commands()

    result = CliRunner().invoke(
        app,
        ["validate", "--input", str(path), "--output", str(tmp_path / "v.parquet"),
         "--report", str(tmp_path / "v.json"), "--params", str(tmp_path / "params.yaml")],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert warnings[0] == (
        "warning: params.yaml features.ratios['monthly_burden_dm'] names ['credit_amount', "
        "'duration_in_month'], not among the dataset's numeric columns (data section): "
        "update or remove it"
    )
    assert len(warnings) == 4


def test_customer_ids_are_read_with_the_declared_format(tmp_path: Path) -> None:
    """Recording a scoring run and ``alerts --ids-from`` read ids as the data section says."""
    from experiments.portfolio.runs import id_column_of, read_ids

    path = write_csv(tmp_path / "f.csv", ["007,12,1000,niño,car,good"], ";", "cp1252")
    table = TableFormat(delimiter=";", encoding="cp1252")

    assert id_column_of(path, "customer_id", table) == "customer_id"
    assert read_ids(path, "customer_id", table).tolist() == ["007"]


def test_a_value_outside_its_declared_range_is_refused_with_its_rows(tmp_path: Path) -> None:
    rows = [*ROWS[:2], "c3,-5,500,low,car,bad", "c4,0,700,low,car,good"]
    path = write_csv(tmp_path / "f.csv", rows)
    schema = parse_config(params(path, ranges={"duration_months": {"min": 1, "max": 480}})).data

    with pytest.raises(DataValidationError) as caught:
        validate_dataset(read_table(path, schema.table_format), schema, str(path))

    assert caught.value.problems == [
        "column 'duration_months' must be from 1 to 480 (data.ranges); found row 3: -5, row 4: 0"
    ]


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        (
            {"purpose": {"min": 0}},
            "data.ranges: ['purpose'] are not numeric columns (data.numeric); a range bounds a "
            "number",
        ),
        ({"amount_dm": {"min": 5, "max": 1}}, "min (5.0) is above max (1.0)"),
        ({"amount_dm": {}}, "give min, max or both"),
    ],
    ids=["category", "reversed", "empty"],
)
def test_a_bad_range_is_refused(tmp_path: Path, ranges: dict, message: str) -> None:
    assert message in config_error(params(tmp_path / "f.csv", ranges=ranges))


def test_the_model_refuses_a_number_outside_its_range_naming_the_column() -> None:
    from models.contract.pyfunc import numbers_checked
    from models.scoring.scorecard import ScoringPolicy

    policy = ScoringPolicy(
        numeric_inputs=("age", "amount"), ranges={"age": ValueRange(min=18, max=120)}
    )
    fine = pd.DataFrame({"age": [30, None], "amount": ["1000", None]})

    checked = numbers_checked(fine, policy)

    assert checked["amount"].tolist()[0] == 1000.0
    with pytest.raises(ValueError) as caught:
        numbers_checked(pd.DataFrame({"age": [30, -1], "amount": [1.0, 2.0]}), policy)
    assert str(caught.value) == (
        "column 'age': expected a number from 18 to 120 or a missing value, found -1 in row 2"
    )
