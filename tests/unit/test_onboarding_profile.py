"""`riskgrade init`'s heuristics, one behaviour per test on small literal frames: each column's
role and the reason given, missing-value tokens, target labels, and the errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from experiments.onboarding.decisions import ColumnDecision, InitError
from experiments.onboarding.options import InitOptions
from experiments.onboarding.profile import DataProfile, profile_table
from experiments.onboarding.reading import RawTable

# 40 applicants, 12 defaults; `amount` and `purpose` carry no perfect signal.
OUTCOME = ["bad" if i % 10 in (0, 3, 7) else "good" for i in range(40)]
AMOUNTS = [str(1000 + (i * 37) % 23 * 150) for i in range(40)]
PURPOSES = ["car", "tv", "education", "business"] * 10


def table(
    columns: dict[str, list[str]], outcome: list[str] = OUTCOME, target: str = "outcome"
) -> RawTable:
    """The file's cells as `riskgrade init` reads a CSV: text, "" for an empty field."""
    frame = pd.DataFrame({"amount": AMOUNTS, "purpose": PURPOSES} | columns | {target: outcome})
    return RawTable(Path("loans.csv"), frame, len(frame), "csv")


def profile(columns: dict[str, list[str]], **options: Any) -> DataProfile:
    return profile_table(table(columns), InitOptions("outcome", **options))


def decision(columns: dict[str, list[str]], column: str, **options: Any) -> ColumnDecision:
    return next(d for d in profile(columns, **options).decisions if d.column == column)


def test_plain_numbers_and_text_are_features() -> None:
    found = profile({})

    assert found.columns("numeric") == ["amount"]
    assert found.columns("categorical") == ["purpose"]
    assert decision({}, "amount").why == "numbers"
    assert decision({}, "purpose").why == "text, 4 levels"
    assert found.na_values == ("",)


def test_a_constant_column_is_excluded() -> None:
    assert decision({"branch": ["main"] * 40}, "branch") == ColumnDecision(
        "branch", "excluded", "constant: 'main' in every row"
    )
    assert decision({"notes": [""] * 40}, "notes").why == "missing in every row"


def test_a_text_column_unique_per_row_is_the_id() -> None:
    ids = [f"L{i:04d}" for i in range(40)]

    found = profile({"loan_ref": ids, "copy_ref": [f"C{i}" for i in range(40)]})

    assert decision({"loan_ref": ids}, "loan_ref").role == "id"
    assert found.single("id") == "loan_ref"
    assert decision({"loan_ref": ids, "copy_ref": ids}, "copy_ref").why == (
        "unique in every row: another id, not a predictor"
    )


def test_whole_numbers_unique_per_row_are_an_id_only_when_they_look_like_one() -> None:
    shuffled = [str(v) for v in np.random.default_rng(1).permutation(np.arange(500, 540) * 7)]

    assert decision({"balance": shuffled}, "balance").role == "numeric"
    assert decision({"customer_no": shuffled}, "customer_no").role == "id"  # named like an id
    assert decision({"serial": [str(3 * i) for i in range(40)]}, "serial").role == "id"  # ascending


def test_the_given_id_column_wins_and_another_unique_column_is_excluded() -> None:
    columns = {"loan_ref": [f"L{i}" for i in range(40)], "account": [f"A{i}" for i in range(40)]}

    found = profile(columns, id_column="account")

    assert found.single("id") == "account"
    assert decision(columns, "loan_ref", id_column="account").role == "excluded"


def test_dates_are_excluded_with_a_hint_and_used_when_given() -> None:
    dates = [f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(40)]

    assert decision({"applied_on": dates}, "applied_on") == ColumnDecision(
        "applied_on",
        "excluded",
        "dates (e.g. '2021-01-01'): not a predictor; for an out-of-time split rerun with "
        "--date-column applied_on",
    )
    given = decision({"applied_on": dates}, "applied_on", date_column="applied_on")
    assert given == ColumnDecision("applied_on", "date", "--date-column: the out-of-time split")


def test_free_text_is_excluded() -> None:
    notes = [f"called about item {i}" for i in range(30)] + ["no answer"] * 10

    assert decision({"notes": notes}, "notes") == ColumnDecision(
        "notes",
        "excluded",
        "free text or a near-id: 31 levels in 40 values; group it into fewer levels to use it",
    )


def test_numbers_with_decimal_commas_are_excluded_with_the_fix() -> None:
    rates = [f"{1 + i % 9},{i % 4}5" for i in range(40)]

    assert decision({"rate": rates}, "rate") == ColumnDecision(
        "rate",
        "excluded",
        "numbers with a decimal comma (e.g. '1,05'): riskgrade reads '.' as the decimal point; "
        "write the file with '.' to use it",
    )


def test_a_column_that_predicts_the_target_perfectly_is_suspected_leakage() -> None:
    recovered = [str(500 + 10 * i) if o == "bad" else "0" for i, o in enumerate(OUTCOME)]
    status = ["charged off" if o == "bad" else "open" for o in OUTCOME]

    for column, values in (("recovered", recovered), ("status", status)):
        found = decision({column: values}, column)
        assert found.role == "excluded"
        assert found.why == (
            "suspected leakage: alone it predicts the target with ROC AUC 1.000 (cross-fitted; "
            "threshold 0.95); known only after the outcome? If it is known when applying, move "
            "it to numeric or categorical"
        )


def test_many_levels_are_not_mistaken_for_leakage() -> None:
    # 40 rows, 20 levels: in-sample level default rates would separate well; cross-fitted not
    levels = [f"branch {i}" for i in np.random.default_rng(3).integers(0, 20, 40)]

    assert decision({"branch": levels}, "branch").role == "categorical"


@pytest.mark.parametrize(
    "column",
    ["sex", "Gender", "MARRIAGE", "marital_status", "personal_status_and_sex", "foreign_worker",
     "ethnicity", "religion", "nationality", "CitizenShip"],
)  # fmt: skip
def test_protected_attributes_are_excluded_by_name(column: str) -> None:
    found = decision({column: ["a", "b"] * 20}, column)

    assert found.role == "excluded"
    assert found.why.startswith("protected attribute (name: ")
    assert found.why.endswith("kept for fairness reporting, never a predictor")
    assert found.protected  # written to data.protected


@pytest.mark.parametrize("column", ["age", "essex_branch", "racetrack_visits", "home"])
def test_other_names_are_not_protected(column: str) -> None:
    assert decision({column: ["a", "b"] * 20}, column).role == "categorical"


def test_text_in_a_number_column_is_a_missing_value_token() -> None:
    income = [("NA" if i % 7 == 0 else "-" if i % 11 == 0 else str(100 + i)) for i in range(40)]

    found = profile({"income": income})

    assert found.na_values == ("", "NA", "-")
    assert found.token_columns == {"NA": ["income"], "-": ["income"]}
    assert decision({"income": income}, "income") == ColumnDecision(
        "income", "numeric", "numbers; 9 missing (22.5%)"
    )


def test_unambiguous_tokens_count_in_text_columns_too() -> None:
    found = profile({"home": ["own", "rent", "?", "NULL"] * 10})

    assert found.na_values == ("", "NULL", "?")
    assert decision({"home": ["own", "rent", "?", "NULL"] * 10}, "home").why == (
        "text, 2 levels; 20 missing (50.0%)"
    )


def test_a_word_that_is_a_category_level_is_not_a_token() -> None:
    found = profile({"guarantor": ["none", "co-applicant", "guarantor", "none"] * 10})

    assert found.na_values == ("",)
    assert found.columns("categorical") == ["purpose", "guarantor"]


def test_a_token_that_also_blanks_a_category_level_is_reported() -> None:
    found = profile({"debt": ["none", "100", "250", "75"] * 10, "cosigner": ["none", "yes"] * 20})

    assert found.na_values == ("", "none")
    assert found.notes == [
        "missing-value token 'none' (from ['debt']) also blanks that text in ['cosigner']"
    ]


@pytest.mark.parametrize(
    ("labels", "positive", "why"),
    [
        (("0", "1"), "1", "'1'/'0' coding: '1' is the event"),
        (("0.0", "1.0"), "1.0", "'1.0'/'0.0' coding: '1.0' is the event"),
        (("no", "yes"), "yes", "'yes'/'no' coding: 'yes' is the event"),
        (("false", "true"), "True", "'True'/'False' coding: 'True' is the event"),
        (("good", "bad"), "bad", "'bad' says default, 'good' says not"),
        (("Fully Paid", "Charged Off"), "Charged Off",
         "'Charged Off' says default, 'Fully Paid' says not"),
    ],
)  # fmt: skip
def test_the_default_label_is_inferred(labels: tuple[str, str], positive: str, why: str) -> None:
    outcome = [labels[1] if o == "bad" else labels[0] for o in OUTCOME]

    found = profile_table(table({}, outcome), InitOptions("outcome"))

    assert (found.labels.positive, found.labels.why) == (positive, why)
    assert found.labels.default_rate == pytest.approx(0.3)


def test_unclear_labels_ask_for_positive_label() -> None:
    outcome = ["A" if o == "bad" else "B" for o in OUTCOME]

    with pytest.raises(InitError) as error:
        profile_table(table({}, outcome), InitOptions("outcome"))

    assert str(error.value) == (
        "cannot tell which label of target 'outcome' means default: 'A' (12 rows) or 'B' "
        "(28 rows); rerun with --positive-label A or --positive-label B"
    )
    chosen = profile_table(table({}, outcome), InitOptions("outcome", positive_label="A"))
    assert (chosen.labels.positive, chosen.labels.negative) == ("A", "B")


@pytest.mark.parametrize(
    ("labels", "given", "positive"),
    [(("0.0", "1.0"), "1", "1.0"), (("false", "true"), "true", "True"), (("0", "1"), "0", "0")],
)
def test_positive_label_names_the_label_as_the_file_writes_it(
    labels: tuple[str, str], given: str, positive: str
) -> None:
    outcome = [labels[1] if o == "bad" else labels[0] for o in OUTCOME]

    found = profile_table(table({}, outcome), InitOptions("outcome", positive_label=given))

    assert (found.labels.positive, found.labels.why) == (positive, "--positive-label")


def test_a_good_outcome_name_makes_a_0_1_coding_unclear() -> None:
    outcome = ["0" if o == "bad" else "1" for o in OUTCOME]

    with pytest.raises(InitError) as error:
        profile_table(table({}, outcome, "creditability"), InitOptions("creditability"))

    assert str(error.value) == (
        "cannot tell which label of target 'creditability' means default: '0' (12 rows) or "
        "'1' (28 rows) (the name 'creditability' suggests a good outcome, so the usual coding "
        "may be reversed); rerun with --positive-label 0 or --positive-label 1"
    )


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (["good", "bad", "unknown", "good"] * 10,
         "target 'outcome' has 3 labels, ['bad', 'good', 'unknown']; riskgrade needs exactly "
         "two (default or not): map the file's outcomes to two labels"),
        (["good"] * 40,
         "target 'outcome' has a single label, ['good']; riskgrade needs exactly two (default "
         "or not): map the file's outcomes to two labels"),
        (["good", "bad", "", "NA"] * 10,
         "target 'outcome' is missing in 20 of 40 rows: a customer without an outcome cannot "
         "train a model; drop those rows from the file"),
    ],
)  # fmt: skip
def test_a_target_that_is_not_two_labels_is_refused(outcome: list[str], message: str) -> None:
    with pytest.raises(InitError) as error:
        profile_table(table({}, outcome), InitOptions("outcome"))

    assert str(error.value) == message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target": "Status"},
         "loans.csv: --target 'Status' is not a column; its columns: ['amount', 'purpose', "
         "'outcome']"),
        ({"target": "outcome", "id_column": "amount"},
         "--id-column 'amount' is not unique: 17 repeated ids, e.g. '1000'"),
        ({"target": "outcome", "date_column": "purpose"},
         "--date-column 'purpose': 40 rows are not dates (e.g. 'car'); the out-of-time split "
         "needs a date in every row"),
        ({"target": "outcome", "positive_label": "yes"},
         "--positive-label 'yes' is not a label of target 'outcome'; its labels: ['bad', "
         "'good']"),
    ],
)  # fmt: skip
def test_options_naming_the_wrong_column_are_refused(options: dict, message: str) -> None:
    with pytest.raises(InitError) as error:
        profile_table(table({}), InitOptions(**options))

    assert str(error.value) == message


def test_a_file_without_rows_is_refused() -> None:
    frame = pd.DataFrame({"amount": [], "outcome": []})

    with pytest.raises(InitError) as error:
        profile_table(RawTable(Path("loans.csv"), frame, 0, "csv"), InitOptions("outcome"))

    assert str(error.value) == "loans.csv: the file has no data rows"


def test_a_file_without_a_feature_is_refused() -> None:
    frame = pd.DataFrame({"loan_ref": [f"L{i}" for i in range(40)], "outcome": OUTCOME})

    with pytest.raises(InitError) as error:
        profile_table(RawTable(Path("loans.csv"), frame, 40, "csv"), InitOptions("outcome"))

    assert str(error.value) == (
        "loans.csv: no column is left as a feature ('loan_ref': id, unique in every row: the "
        "customer id)"
    )
