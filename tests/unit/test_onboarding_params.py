"""`riskgrade init`'s params.yaml: loads as every stage loads it, reads the file it profiled,
quotes what YAML would misread, and does not drift from the bundled params.yaml."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from experiments.cli import app, register_commands
from experiments.config import load_config, stale_column_references
from experiments.io import read_table
from experiments.onboarding.params_file import yaml_text
from features.validation import validate_dataset

register_commands()

TIERS = ("low", "medium", "high")
GERMAN_CREDIT = Path("data/external/german_credit/germancredit.csv")
# The settings that name the bundled data's columns or its currency, and their neutral values.
NEUTRAL: dict[tuple[str, ...], Any] = {
    ("features", "ratios"): [],
    ("models", "lightgbm", "monotone_constraints"): {},
    ("scorecard", "reasons", "labels"): {},
    ("customer_report", "actionable"): {},
    **{("scorecard", "strategies", tier, "credit_limit_cap"): None for tier in TIERS},
}


def init(tmp_path: Path, *args: str, output: Path | None = None) -> Any:
    output = output or tmp_path / "params.yaml"
    return CliRunner().invoke(app, ["init", *args, "--output", str(output)])


def neutral(bundled: dict[str, Any]) -> dict[str, Any]:
    """The bundled params.yaml with its dataset-specific settings at their neutral values."""
    out = copy.deepcopy(bundled)
    for (*path, key), value in NEUTRAL.items():
        section = out
        for name in path:
            section = section[name]
        section[key] = value
    return out


@pytest.fixture(scope="module")
def german_params(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("init")
    source = repo_root / GERMAN_CREDIT
    result = init(root, "--data", str(source), "--target", "creditability")
    assert result.exit_code == 0, result.output
    return yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))


def test_every_setting_but_the_data_s_equals_the_bundled_params(
    german_params: dict[str, Any], repo_root: Path
) -> None:
    """The template must follow the bundled params.yaml: a setting changed there fails here
    until templates/params.yaml.j2 has it too (or NEUTRAL says why it differs)."""
    bundled = neutral(yaml.safe_load((repo_root / "params.yaml").read_text(encoding="utf-8")))

    assert set(german_params) == set(bundled)
    for section in set(bundled) - {"data"}:
        assert german_params[section] == bundled[section], section


def test_german_credit_roles_are_the_bundled_ones(
    german_params: dict[str, Any], repo_root: Path
) -> None:
    bundled = yaml.safe_load((repo_root / "params.yaml").read_text(encoding="utf-8"))["data"]
    data = german_params["data"]

    for role in ("numeric", "categorical", "excluded", "protected"):
        assert sorted(data[role]) == sorted(bundled[role]), role
    assert data["excluded"] == ["personal_status_and_sex", "foreign_worker"]
    for key in ("target", "positive_label", "negative_label", "id_column", "date_column", "sha256"):
        assert data[key] == bundled[key], key
    assert Path(data["source"]) == repo_root / bundled["source"]  # absolute: outside tmp project
    assert (data["delimiter"], data["encoding"], data["na_values"]) == (",", "utf-8", [""])
    assert data["ranges"] == {}  # the bundled ranges are German Credit's: left to the user


def test_the_output_loads_and_names_no_unknown_column(tmp_path: Path, repo_root: Path) -> None:
    assert init(tmp_path, "--data", str(repo_root / GERMAN_CREDIT), "--target", "creditability")

    config = load_config(tmp_path / "params.yaml")

    assert stale_column_references(config) == []


def test_a_file_inside_the_project_is_named_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    source = tmp_path / "data" / "loans.csv"
    pd.DataFrame({"amount": [5, 1, 4, 2, 3] * 6, "default": [0, 1, 0] * 10}).to_csv(
        source, index=False
    )

    result = init(tmp_path, "--data", str(source), "--target", "default")

    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "params.yaml").read_text())["data"]
    assert (data["source"], data["name"]) == ("data/loans.csv", "loans")
    assert "source: data/loans.csv\n" in (tmp_path / "params.yaml").read_text()


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("income", "income"),
        ("data/external/loans.csv", "data/external/loans.csv"),
        ("yes", '"yes"'),
        ("Off", '"Off"'),
        ("null", '"null"'),
        ("1.0", '"1.0"'),
        ("2020-01-31", '"2020-01-31"'),
        ("debt: total", '"debt: total"'),
        ("# of cards", '"# of cards"'),
        ("Année", '"Année"'),
    ],
)
def test_yaml_text_reads_back_as_the_same_text(text: str, written: str) -> None:
    assert yaml_text(text) == written
    assert yaml.safe_load(f"key: {written}") == {"key": text}


def test_labels_and_awkward_column_names_are_quoted(tmp_path: Path) -> None:
    """YAML would read yes/no/on as booleans and `a: b` as a mapping; all come back as text."""
    source = tmp_path / "loans.csv"
    frame = pd.DataFrame(
        {
            "on": ["x", "y"] * 20,
            "debt: total": [(i * 13) % 17 for i in range(40)],
            "# of cards": [1, 2, 3] * 13 + [1],
            "defaulted": ["yes", "no", "no", "no"] * 10,
        }
    )
    frame.to_csv(source, index=False)

    assert init(tmp_path, "--data", str(source), "--target", "defaulted").exit_code == 0

    text = (tmp_path / "params.yaml").read_text()
    assert 'positive_label: "yes"' in text and 'negative_label: "no"' in text
    data = load_config(tmp_path / "params.yaml").data
    assert (data.positive_label, data.negative_label) == ("yes", "no")
    assert (data.numeric, data.categorical) == (("debt: total", "# of cards"), ("on",))


def test_the_written_file_reads_and_validates_its_data(tmp_path: Path) -> None:
    """Semicolons, cp1252 and R's NA: the table format init writes is the one validate reads."""
    source = tmp_path / "prêts.csv"
    lines = ["client;montant;ville;revenu;statut"] + [
        f"c{i};{1000 + 50 * (i % 9)};{'Lyon' if i % 3 else 'Nîmes'};"
        f"{'NA' if i % 5 == 0 else str(1200 + i)};{'bad' if i % 4 == 0 else 'good'}"
        for i in range(40)
    ]
    source.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))

    result = init(tmp_path, "--data", str(source), "--target", "statut")

    assert result.exit_code == 0, result.output
    schema = load_config(tmp_path / "params.yaml").data
    assert (schema.delimiter, schema.encoding, schema.na_values) == (";", "cp1252", ("", "NA"))
    assert (schema.id_column, schema.numeric, schema.categorical) == (
        "client",
        ("montant", "revenu"),
        ("ville",),
    )
    frame = validate_dataset(read_table(source, schema.table_format), schema, str(source))
    assert frame["revenu"].isna().sum() == 8
    assert set(frame["ville"]) == {"Lyon", "Nîmes"}
    assert frame["statut"].sum() == 10


def test_a_parquet_file_keeps_its_types(tmp_path: Path) -> None:
    source = tmp_path / "loans.parquet"
    rng = np.random.default_rng(7)
    pd.DataFrame(
        {
            "loan_id": np.arange(1000, 1060),
            "opened": pd.date_range("2020-01-01", periods=60, freq="W"),
            "income": np.where(np.arange(60) % 6 == 0, np.nan, rng.normal(3000, 500, 60)),
            "region": [None if i % 9 == 0 else "north" if i % 2 else "south" for i in range(60)],
            "defaulted": np.arange(60) % 4 == 0,  # booleans
        }
    ).to_parquet(source)

    result = init(tmp_path, "--data", str(source), "--target", "defaulted")

    assert result.exit_code == 0, result.output
    schema = load_config(tmp_path / "params.yaml").data
    assert (schema.format, schema.id_column, schema.positive_label) == (
        "parquet",
        "loan_id",
        "True",
    )
    assert (schema.numeric, schema.categorical, schema.excluded) == (
        ("income",),
        ("region",),
        ("opened",),
    )
    frame = validate_dataset(read_table(source, schema.table_format), schema, str(source))
    assert frame["defaulted"].sum() == 15


def test_it_prints_each_decision_and_the_next_step(tmp_path: Path, repo_root: Path) -> None:
    result = init(tmp_path, "--data", str(repo_root / GERMAN_CREDIT), "--target", "creditability")

    lines = result.output.splitlines()
    assert (
        lines[0]
        == f"{repo_root / GERMAN_CREDIT}: 1,000 rows, 21 columns (csv, delimiter ',', utf-8)"
    )
    assert lines[1].split() == ["column", "role", "why"]
    assert lines[2].split()[:3] == ["status_of_existing_checking_account", "categorical", "text,"]
    assert "foreign_worker" in lines[21] and "protected attribute (name: 'foreign')" in lines[21]
    assert lines[-1] == (
        f"wrote {tmp_path / 'params.yaml'}. Next: check the roles (comments in "
        f"{tmp_path / 'params.yaml'}), then `dvc repro`, `riskgrade promote` and "
        "`riskgrade score --input <file> --output scored.parquet`"
    )


def test_an_existing_file_is_kept_without_force(tmp_path: Path, repo_root: Path) -> None:
    output = tmp_path / "params.yaml"
    output.write_text("seed: 1\n")
    args = ("--data", str(repo_root / GERMAN_CREDIT), "--target", "creditability")

    refused = init(tmp_path, *args)
    forced = init(tmp_path, *args, "--force")

    assert (refused.exit_code, refused.output) == (
        1, f"error: {output} exists; rerun with --force to overwrite it\n"
    )  # fmt: skip
    assert forced.exit_code == 0
    assert load_config(output).data.target == "creditability"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--data", "{tmp}/missing.csv", "--target", "y"), "{tmp}/missing.csv: file not found"),
        (("--data", "{german}", "--target", "Status"),
         "{german}: --target 'Status' is not a column; its columns: "),
        (("--data", "{german}", "--target", "creditability", "--positive-label", "1"),
         "--positive-label '1' is not a label of target 'creditability'; its labels: "
         "['bad', 'good']"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_exit_1(
    tmp_path: Path, repo_root: Path, args: tuple[str, ...], message: str
) -> None:
    paths = {"tmp": tmp_path, "german": repo_root / GERMAN_CREDIT}

    result = init(tmp_path, *(arg.format(**paths) for arg in args))

    assert result.exit_code == 1
    assert result.output.startswith(f"error: {message.format(**paths)}")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "params.yaml").exists()
