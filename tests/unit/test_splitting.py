"""Train / validation / test splits: stratified by default, out-of-time when a date is set."""

from __future__ import annotations

import pandas as pd
import pytest

from features.schema import DatasetSchema
from features.splitting import SplitConfig, split_dataset

SPLIT = SplitConfig(valid_size=0.2, test_size=0.2)
# 50 applicants, 15 defaults (30 %).
OUTCOMES_50 = [1, 0, 0, 1, 0, 0, 0, 1, 0, 0] * 5
# 20 applications in date order. Rows 11 and 12 share a date, as do rows 15 and 16: the
# nominal cut points (rows 12 and 16), so a same-day pair must not straddle two parts.
DATES_20 = [
    "2021-01-04", "2021-01-19", "2021-02-02", "2021-02-15", "2021-03-01",
    "2021-03-22", "2021-04-06", "2021-04-20", "2021-05-03", "2021-05-17",
    "2021-06-01", "2021-06-14", "2021-06-14", "2021-07-05", "2021-07-19",
    "2021-08-02", "2021-08-02", "2021-08-16", "2021-09-06", "2021-09-20",
]  # fmt: skip
OUTCOMES_20 = [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1]
EXPECTED_SIZES = {"train": 11, "valid": 4, "test": 5}


@pytest.fixture
def frame_50() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(50)],
            "duration_months": [6 + i for i in range(50)],
            "outcome": OUTCOMES_50,
        }
    )


@pytest.fixture
def dated_schema(tiny_schema: DatasetSchema) -> DatasetSchema:
    return DatasetSchema.model_validate(tiny_schema.model_dump() | {"date_column": "applied_on"})


def dated_frame(outcomes: list[int]) -> pd.DataFrame:
    """20 dated rows, shuffled so that the split has to sort them itself."""
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:02d}" for i in range(20)],
            "applied_on": pd.to_datetime(DATES_20),
            "outcome": outcomes,
        }
    )
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True)


def ids(part: pd.DataFrame) -> list[str]:
    return sorted(part["customer_id"])


def test_stratified_split_keeps_the_default_rate_in_every_part(
    frame_50: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    parts = split_dataset(frame_50, tiny_schema, SPLIT, seed=7)

    assert {name: len(part) for name, part in parts.items()} == {
        "train": 30,
        "valid": 10,
        "test": 10,
    }
    for name, part in parts.items():
        assert part["outcome"].mean() == pytest.approx(0.30, abs=0.05), name


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_stratified_parts_are_disjoint_and_cover_every_row(
    frame_50: pd.DataFrame, tiny_schema: DatasetSchema, seed: int
) -> None:
    parts = split_dataset(frame_50, tiny_schema, SPLIT, seed=seed)

    all_ids = [i for part in parts.values() for i in part["customer_id"]]
    assert len(all_ids) == len(set(all_ids)) == len(frame_50)
    assert set(all_ids) == set(frame_50["customer_id"])
    for part in parts.values():
        assert part.index.equals(pd.RangeIndex(len(part)))


def test_same_seed_gives_the_same_split(frame_50: pd.DataFrame, tiny_schema: DatasetSchema) -> None:
    first = split_dataset(frame_50, tiny_schema, SPLIT, seed=7)
    again = split_dataset(frame_50, tiny_schema, SPLIT, seed=7)

    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])


def test_different_seed_gives_a_different_split(
    frame_50: pd.DataFrame, tiny_schema: DatasetSchema
) -> None:
    first = split_dataset(frame_50, tiny_schema, SPLIT, seed=7)
    other = split_dataset(frame_50, tiny_schema, SPLIT, seed=8)

    assert ids(first["test"]) != ids(other["test"])
    assert ids(first["train"]) != ids(other["train"])


def test_out_of_time_split_orders_train_before_valid_before_test(
    dated_schema: DatasetSchema,
) -> None:
    parts = split_dataset(dated_frame(OUTCOMES_20), dated_schema, SPLIT, seed=0)
    train, valid, test = parts["train"], parts["valid"], parts["test"]

    assert train["applied_on"].max() < valid["applied_on"].min()
    assert valid["applied_on"].max() < test["applied_on"].min()
    # Same-day pairs at both cut points move together to the later part.
    assert {name: len(part) for name, part in parts.items()} == EXPECTED_SIZES
    assert sorted([*ids(train), *ids(valid), *ids(test)]) == [f"c{i:02d}" for i in range(20)]


def test_out_of_time_split_does_not_depend_on_the_seed(dated_schema: DatasetSchema) -> None:
    first = split_dataset(dated_frame(OUTCOMES_20), dated_schema, SPLIT, seed=1)
    other = split_dataset(dated_frame(OUTCOMES_20), dated_schema, SPLIT, seed=2)

    for name in first:
        assert ids(first[name]) == ids(other[name])


@pytest.mark.parametrize(
    ("part", "rows"),
    [("train", range(0, 11)), ("valid", range(11, 15)), ("test", range(15, 20))],
)
def test_part_with_a_single_class_is_named(
    dated_schema: DatasetSchema, part: str, rows: range
) -> None:
    outcomes = [0 if i in rows else y for i, y in enumerate(OUTCOMES_20)]

    with pytest.raises(ValueError) as caught:
        split_dataset(dated_frame(outcomes), dated_schema, SPLIT, seed=0)

    assert str(caught.value) == (
        f"split: the {part} part has {EXPECTED_SIZES[part]} rows and a single outcome class; "
        "use more data or change split.valid_size / split.test_size"
    )


def test_split_config_rejects_sizes_leaving_too_little_to_train() -> None:
    with pytest.raises(ValueError, match=r"valid_size \+ test_size = 0\.90; keep it below 0\.9"):
        SplitConfig(valid_size=0.45, test_size=0.45)
