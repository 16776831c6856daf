"""The data contract: which column plays which role, declared in ``params.yaml``.

A dataset is described once (``DatasetSchema``) and every later step -- validation,
splitting, feature pipelines, serving -- reads the column roles from it, so a user's own CSV
or Parquet file plugs in by editing ``params.yaml`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GENERATED_ID_COLUMN = "row_id"
"""Name of the id column the validate step adds when the dataset has none (row position)."""


class FrozenModel(BaseModel):
    """Base for every configuration section: immutable, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetSchema(FrozenModel):
    """Column roles of one dataset. Every column of the file must have exactly one role.

    ``excluded`` columns are validated and kept in the processed data (for reporting) but are
    never given to a model: use it for protected attributes (sex, marital status, nationality)
    that credit regulation forbids as predictors, and for anything known only after the
    decision (leakage).
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
        clashes = {column: r for column, r in roles.items() if len(r) > 1}
        if clashes:
            detail = "; ".join(f"{c!r} is listed as {' and '.join(r)}" for c, r in clashes.items())
            raise ValueError(
                f"data: a column must have exactly one role ({detail}). An id, target or date "
                "column listed as a feature would leak into the model."
            )
        return self

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
