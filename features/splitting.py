"""Train / validation / test split: stratified by default, out-of-time when a date is set."""

from __future__ import annotations

import pandas as pd
from pydantic import Field, model_validator
from sklearn.model_selection import train_test_split

from features.schema import DatasetSchema, FrozenModel


class SplitConfig(FrozenModel):
    """Shares of the rows held out for validation and test (the rest trains)."""

    valid_size: float = Field(default=0.2, gt=0, lt=1)
    test_size: float = Field(default=0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _check_total(self) -> SplitConfig:
        if self.valid_size + self.test_size >= 0.9:
            raise ValueError(
                f"split: valid_size + test_size = {self.valid_size + self.test_size:.2f}; "
                "keep it below 0.9 so that training has data"
            )
        return self


def split_stratified(
    frame: pd.DataFrame, target: str, config: SplitConfig, seed: int
) -> dict[str, pd.DataFrame]:
    """Random split preserving the default rate in every part."""
    rest, test = train_test_split(
        frame, test_size=config.test_size, stratify=frame[target], random_state=seed
    )
    valid_share = config.valid_size / (1 - config.test_size)
    train, valid = train_test_split(
        rest, test_size=valid_share, stratify=rest[target], random_state=seed
    )
    return {"train": train, "valid": valid, "test": test}


def split_out_of_time(
    frame: pd.DataFrame, date_column: str, config: SplitConfig
) -> dict[str, pd.DataFrame]:
    """Oldest rows train, the next validate, the newest test: how a model meets the future.

    Rows sharing a date never straddle two parts, so no same-day information leaks forward.
    """
    ordered = frame.sort_values(date_column, kind="stable")
    dates = ordered[date_column]
    n = len(ordered)
    test_start = dates.iloc[int(n * (1 - config.test_size))]
    valid_start = dates.iloc[int(n * (1 - config.test_size - config.valid_size))]
    return {
        "train": ordered[dates < valid_start],
        "valid": ordered[(dates >= valid_start) & (dates < test_start)],
        "test": ordered[dates >= test_start],
    }


def split_dataset(
    frame: pd.DataFrame, schema: DatasetSchema, config: SplitConfig, seed: int
) -> dict[str, pd.DataFrame]:
    """Split the validated frame; raises ``ValueError`` naming the part that lacks a class."""
    if schema.date_column:
        parts = split_out_of_time(frame, schema.date_column, config)
    else:
        parts = split_stratified(frame, schema.target, config, seed)
    for name, part in parts.items():
        if part[schema.target].nunique() < 2:
            raise ValueError(
                f"split: the {name} part has {len(part)} rows and a single outcome class; "
                "use more data or change split.valid_size / split.test_size"
            )
    return {name: part.reset_index(drop=True) for name, part in parts.items()}
