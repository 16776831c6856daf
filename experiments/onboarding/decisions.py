"""What ``riskgrade init`` decides and says: a role and a reason per column, and its error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["target", "id", "date", "numeric", "categorical", "excluded"]


class InitError(ValueError):
    """The file cannot be described without the user's help; the message says what to pass."""


@dataclass(frozen=True)
class ColumnDecision:
    """One column's role and why, in words written to ``params.yaml`` and printed.

    ``protected``: an excluded column that is a protected attribute (``data.protected``: the
    validation report reviews the model's fairness across its groups)."""

    column: str
    role: Role
    why: str
    protected: bool = False
