"""Rating grades (a master scale) and ``auto`` tier cut-offs, fitted to the portfolio.

Both are fitted once, at training time, on the *out-of-fold calibrated PDs of the training
split* (``models.calibration.CalibratedPipeline.fit_out_of_fold``: each PD from a model that
did not see the row), and stored with the model version, so a version always grades the same
way.

- **Grades**: ``count`` PD bands, grade 1 the safest. ``quantile`` puts the band edges at PD
  quantiles of the training book, so every grade holds about the same share of it and none
  is empty on a book like the training one; ``fixed`` takes the edges as given (a bank's
  master scale shared across portfolios). A PD on an edge belongs to the grade above it.
- **Tiers** (``auto``): the cut-offs are the training book's PD quantiles at the target
  shares (default 50% low, 35% medium, 15% high). Every tier is populated on a book like the
  training one, and since the PD is calibrated and monotone in the model's ranking, the
  observed default rate rises from low to high wherever the model ranks at all. ``fixed``
  keeps the configured PD cut-offs (a policy set by the business).
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from features.schema import FrozenModel


class GradeConfig(FrozenModel):
    """``scorecard.grades`` in ``params.yaml``."""

    method: Literal["quantile", "fixed"] = "quantile"
    count: int = Field(default=10, ge=2, le=30, description="grades for method quantile")
    edges: list[float] = Field(
        default_factory=list, description="increasing PD edges between grades, method fixed"
    )

    @model_validator(mode="after")
    def _check_edges(self) -> GradeConfig:
        if self.method == "fixed":
            edges = self.edges
            if not edges or any(not 0 < e < 1 for e in edges):
                raise ValueError(
                    "scorecard.grades.edges: method fixed needs PD edges strictly between 0 "
                    f"and 1, got {edges}"
                )
            if any(b <= a for a, b in itertools.pairwise(edges)):
                raise ValueError(f"scorecard.grades.edges: must be increasing, got {edges}")
        return self


class MasterScale(FrozenModel):
    """Stored grades: ``edges[i]`` is the upper PD bound of grade ``i + 1`` (exclusive)."""

    edges: list[float]
    method: str = "quantile"

    @property
    def count(self) -> int:
        return len(self.edges) + 1

    def bands(self) -> list[dict[str, float | int]]:
        """Grade, lower and upper PD bound per grade (for reports)."""
        bounds = [0.0, *self.edges, 1.0]
        return [
            {"grade": g + 1, "min_pd": bounds[g], "max_pd": bounds[g + 1]}
            for g in range(self.count)
        ]


def assign_grade(pd_: np.ndarray, scale: MasterScale) -> np.ndarray:
    """Grade (1 = lowest PD) of each PD on the master scale."""
    p = np.asarray(pd_, dtype="float64")
    return np.searchsorted(np.asarray(scale.edges), p, side="right").astype("int64") + 1


def distinct_quantiles(book_pd: np.ndarray, levels: list[float]) -> list[float]:
    """PD quantiles at ``levels``, ties dropped (a PD shared by many customers is one edge).

    Each edge is a PD of the book itself (the next one up from the quantile, numpy's
    ``higher``), never a value between two: so the band that starts at an edge holds at least
    the customers with that PD, and no grade or tier is empty on the book it was fitted to.
    """
    p = np.asarray(book_pd, dtype="float64")
    if len(p) == 0 or not np.isfinite(p).all():
        raise ValueError("rating scale: needs finite PDs of the training book, got none or NaN")
    edges = np.unique(np.quantile(p, levels, method="higher"))
    return [float(e) for e in edges if 0 < e < 1 and e > p.min()]


def fit_master_scale(config: GradeConfig, book_pd: np.ndarray) -> MasterScale:
    """The master scale for ``config``, fitted on the training book's out-of-fold PDs."""
    if config.method == "fixed":
        return MasterScale(edges=list(config.edges), method="fixed")
    levels = [i / config.count for i in range(1, config.count)]
    edges = distinct_quantiles(book_pd, levels)
    if not edges:
        raise ValueError("scorecard.grades: every training PD is the same; no grades to fit")
    return MasterScale(edges=edges, method="quantile")


class TierShares(FrozenModel):
    """Target shares of the training book per tier for ``auto`` tiers."""

    low: float = Field(default=0.50, gt=0, lt=1)
    medium: float = Field(default=0.35, gt=0, lt=1)
    high: float = Field(default=0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _check_sum(self) -> TierShares:
        total = self.low + self.medium + self.high
        if abs(total - 1) > 1e-9:
            raise ValueError(f"scorecard.tiers.shares: must add up to 1, got {total:g}")
        return self


def fit_tier_cutoffs(shares: TierShares, book_pd: np.ndarray) -> tuple[float, float]:
    """``(low_max_pd, medium_max_pd)`` at the training book's PD quantiles for ``shares``."""
    edges = distinct_quantiles(book_pd, [shares.low, shares.low + shares.medium])
    if len(edges) < 2:
        raise ValueError(
            "scorecard.tiers: auto needs PDs that differ across the training book to place two "
            f"cut-offs; got {len(np.unique(book_pd))} distinct PDs. Use fixed cut-offs "
            "(method: fixed) or a calibration that keeps more distinct PDs (platt)."
        )
    return edges[0], edges[1]
