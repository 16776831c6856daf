"""The data contract: which column plays which role, declared in ``params.yaml``.

A dataset is described once (``DatasetSchema``) and every later step -- validation,
splitting, feature pipelines, serving -- reads the column roles from it, so a user's own CSV
or Parquet file plugs in by editing ``params.yaml`` only.
"""

from __future__ import annotations

import codecs
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GENERATED_ID_COLUMN = "row_id"
"""Name of the id column the validate step adds when the dataset has none (row position)."""

DEFAULT_NA_VALUES = ("",)
"""Text that means "missing" unless ``data.na_values`` says otherwise: the empty field only."""


class ValueRange(BaseModel):
    """The valid values of a number column (``data.ranges.<column>``), both ends included.

    A value outside is impossible for the domain (a negative amount, an age of -1): refused
    by validation, batch scoring (rejects), the service (422) and the registered model. A
    value inside but beyond what training saw is plausible: it is scored and counted by
    monitoring (``out_of_range_rate``), not refused.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check_order(self) -> ValueRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high), infinite where open."""
        low = -math.inf if self.min is None else self.min
        return low, math.inf if self.max is None else self.max

    @property
    def words(self) -> str:
        """``from 18 to 120``, ``at least 0``, ``at most 100``."""
        if self.min is not None and self.max is not None:
            return f"from {self.min:g} to {self.max:g}"
        return f"at least {self.min:g}" if self.min is not None else f"at most {self.max:g}"


class TableFormat(BaseModel):
    """How a raw file is read: CSV delimiter and encoding, and the text that means missing.

    ``na_values`` applies everywhere a customer record enters riskgrade (ingest/validate, batch
    scoring, the service, the registered pyfunc): a text cell equal to one of them is missing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES

    @property
    def csv_options(self) -> dict[str, Any]:
        """``pandas.read_csv`` keywords that read a CSV this way (pandas' own NA list off)."""
        return {
            "sep": self.delimiter,
            "encoding": self.encoding,
            "keep_default_na": False,
            "na_values": list(self.na_values),
        }


class FrozenModel(BaseModel):
    """Base for every configuration section: immutable, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetSchema(FrozenModel):
    """Column roles of one dataset. Every column of the file must have exactly one role.

    ``excluded`` columns are validated and kept in the processed data (for reporting) but are
    never given to a model: use it for protected attributes (sex, marital status, nationality)
    that credit regulation forbids as predictors, and for anything known only after the
    decision (leakage). ``protected`` names the excluded columns that are protected
    attributes: the validation report reviews the model's fairness across their groups
    (``models.evaluation.fairness``). It is a subset of ``excluded``, not a role of its own, so
    that listing a column as protected can never make it a model input.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    source: Path
    format: Literal["csv", "parquet"]
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    target: str
    positive_label: str | int
    negative_label: str | int
    id_column: str | None = None
    date_column: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()  # excluded columns reviewed for fairness (report, gate)
    delimiter: str = Field(default=",", min_length=1, max_length=1)  # CSV only
    encoding: str = "utf-8"  # CSV only
    na_values: tuple[str, ...] = DEFAULT_NA_VALUES  # text cells that mean "missing"
    ranges: dict[str, ValueRange] = Field(default_factory=dict)  # valid values of numbers

    @field_validator("positive_label", "negative_label", mode="before")
    @classmethod
    def _refuse_yaml_booleans(cls, value: object) -> object:
        # YAML reads unquoted yes/no/true/false/on/off as booleans: the file's text is lost.
        if isinstance(value, bool):
            raise ValueError(
                f"YAML read an unquoted label as the boolean {value}; quote the label exactly "
                'as the file writes it, e.g. positive_label: "yes"'
            )
        return value

    @field_validator("na_values")
    @classmethod
    def _check_na_values(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for token in value:
            try:
                number = float(token)
            except ValueError:
                continue
            if not math.isnan(number):
                raise ValueError(
                    f"{token!r} is a number: a numeric code is a value, not a missing-value "
                    "token (JSON and Parquet carry it as a number). Declare it in "
                    "models.scorecard.special_codes, or blank it in the file"
                )
        return value

    @field_validator("encoding")
    @classmethod
    def _check_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown text encoding {value!r}; use e.g. utf-8, latin-1 or cp1252"
            ) from None
        return value

    @model_validator(mode="after")
    def _check_roles(self) -> DatasetSchema:
        if not self.numeric and not self.categorical:
            raise ValueError("data: declare at least one feature under 'numeric' or 'categorical'")
        if str(self.positive_label) == str(self.negative_label):
            raise ValueError(
                f"data: positive_label and negative_label are both {self.positive_label!r}; "
                "they must differ"
            )
        if self.source.suffix.lower().lstrip(".") != self.format:
            raise ValueError(
                f"data.format is {self.format!r} but data.source {str(self.source)!r} "
                f"has suffix {self.source.suffix!r}"
            )
        roles: dict[str, list[str]] = {}
        for role, columns in self._role_columns().items():
            for column in columns:
                roles.setdefault(column, []).append(role)
        not_numbers = [c for c in self.ranges if c not in self.numeric]
        if not_numbers:
            raise ValueError(
                f"data.ranges: {not_numbers} are not numeric columns (data.numeric); a range "
                "bounds a number"
            )
        self._check_protected()
        clashes = {column: r for column, r in roles.items() if len(r) > 1}
        if clashes:
            detail = "; ".join(f"{c!r} is listed as {' and '.join(r)}" for c, r in clashes.items())
            raise ValueError(
                f"data: a column must have exactly one role ({detail}). An id, target or date "
                "column listed as a feature would leak into the model."
            )
        return self

    def _check_protected(self) -> None:
        twice = sorted({c for c in self.protected if self.protected.count(c) > 1})
        if twice:
            raise ValueError(f"data.protected: {twice} listed twice")
        outside = [c for c in self.protected if c not in self.excluded]
        if outside:
            raise ValueError(
                f"data.protected: {outside} not in data.excluded; a protected attribute is "
                "never given to a model: list it under data.excluded too"
            )

    def _role_columns(self) -> dict[str, tuple[str, ...]]:
        singles = {
            "target": self.target,
            "id_column": self.id_column,
            "date_column": self.date_column,
        }
        roles = {role: (col,) for role, col in singles.items() if col is not None}
        return roles | {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "excluded": self.excluded,
        }

    @property
    def table_format(self) -> TableFormat:
        """How the raw file is read."""
        return TableFormat(
            delimiter=self.delimiter, encoding=self.encoding, na_values=self.na_values
        )

    @property
    def features(self) -> list[str]:
        """Model input columns, in a fixed order: numeric first, then categorical."""
        return [*self.numeric, *self.categorical]

    @property
    def declared_columns(self) -> list[str]:
        """Every column the raw file must contain."""
        return [c for cols in self._role_columns().values() for c in cols]

    @property
    def id_name(self) -> str:
        """The id column of the processed data (generated when the raw file has none)."""
        return self.id_column or GENERATED_ID_COLUMN
