"""Probe rows that reach every decision a LightGBM booster makes, and how to compare answers.

The fast path answers for LightGBM from its own reading of the model (``ShapTables``) and from
LightGBM's single-row C API driven through ``ctypes``; both rely on LightGBM internals that a
new LightGBM version could change. ``LightGBMRunner`` therefore checks them at load against
``Booster.predict`` on the rows built here: per input, every split threshold and its two
floating-point neighbours (the row on either side of each ``<=``), every category code a split
names (and ``code + 0.5``, which LightGBM truncates), an unknown code, ``-1``, ``-0.5``, and the
values LightGBM treats specially: NaN, +-inf, 0, -0, its zero band (``|v| <= 1e-35`` reads as 0)
and the values just outside it.

Thresholds and categories are read from ``Booster.model_to_string`` (the text LightGBM loads a
model from, full precision), not from ``dump_model`` as ``ShapTables`` reads them, so a
difference between the two readings shows up as a difference on a probe.

One row carries one probe value for every input, each input's values in a fixed shuffled
order (cycled when the input has fewer values than there are rows): the row count is the
largest number of values of any one input, not their sum. 300 eight-leaf trees on German
Credit give about 400 rows. Pure: no I/O, no global random state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.fastpath.tree_shap import ZERO_THRESHOLD

CONTRIBUTION_TOLERANCE = 1e-9  # TreeSHAP: the tables add the same terms in another order
MARGIN_TOLERANCE = 1e-12  # raw score and PD: the same leaf values added in the same order
MAX_PROBE_ROWS = 1024  # 13 special values + 3 per threshold: all of max_bin=255 (254 each)
SPECIAL_VALUES = (
    0.0,
    -0.0,
    1e-35,
    -1e-35,
    ZERO_THRESHOLD,
    -ZERO_THRESHOLD,
    float(np.nextafter(ZERO_THRESHOLD, np.inf)),  # just outside the zero band
    float(np.nextafter(-ZERO_THRESHOLD, -np.inf)),
    float("nan"),
    float("inf"),
    float("-inf"),
    1e300,
    -1e300,
)


def model_splits(model_text: str) -> tuple[dict[int, set[float]], dict[int, set[int]]]:
    """(numerical thresholds per input, category codes per categorical input) of all splits.

    ``model_text`` is ``Booster.model_to_string()``: per tree, ``split_feature``,
    ``threshold`` and ``decision_type`` (bit 0 set = categorical, whose ``threshold`` indexes
    ``cat_boundaries`` into the 32-bit words of ``cat_threshold``: the codes that go left).
    """
    thresholds: dict[int, set[float]] = {}
    categories: dict[int, set[int]] = {}
    for block in model_text.split("end of trees")[0].split("\nTree=")[1:]:
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        features = [int(f) for f in fields.get("split_feature", "").split()]
        kinds = [int(d) for d in fields.get("decision_type", "").split()]
        values = fields.get("threshold", "").split()
        bounds = [int(b) for b in fields.get("cat_boundaries", "").split()]
        words = [int(w) for w in fields.get("cat_threshold", "").split()]
        for feature, kind, value in zip(features, kinds, values, strict=True):
            if kind & 1:
                index = int(float(value))
                bitset = words[bounds[index] : bounds[index + 1]]
                categories.setdefault(feature, set()).update(bitset_codes(bitset))
            else:
                thresholds.setdefault(feature, set()).add(float(value))
    return thresholds, categories


def bitset_codes(words: list[int]) -> set[int]:
    """The category codes set in a LightGBM bitset (32-bit words, lowest bit first)."""
    return {32 * i + bit for i, word in enumerate(words) for bit in range(32) if word >> bit & 1}


def split_values(thresholds: set[float], codes: set[int]) -> list[float]:
    """The values probing one input's splits (without ``SPECIAL_VALUES``)."""
    values = [
        float(v)
        for t in sorted(thresholds)
        for v in (np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf))
    ]
    if codes:
        values += [c + shift for c in sorted(codes) for shift in (0.0, 0.5)]
        values += [float(max(codes) + 1), -1.0, -0.5]  # unknown code, negative codes
    return values


def probe_rows(booster: Any, max_rows: int = MAX_PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """Rows x inputs (float64) probing every split of ``booster`` (see module docstring).

    At most ``max_rows`` rows: an input with more probe values keeps ``SPECIAL_VALUES`` and an
    evenly spaced selection of the rest. Deterministic for a given ``seed``.
    """
    room = max_rows - len(SPECIAL_VALUES)
    if room < 3:
        raise ValueError(f"max_rows must be at least {len(SPECIAL_VALUES) + 3}, got {max_rows}")
    thresholds, categories = model_splits(booster.model_to_string())
    rng = np.random.default_rng(seed)
    columns = []
    for feature in range(int(booster.num_feature())):
        values = split_values(thresholds.get(feature, set()), categories.get(feature, set()))
        if len(values) > room:
            values = [values[i] for i in np.linspace(0, len(values) - 1, room).round().astype(int)]
        columns.append(rng.permutation(np.array([*SPECIAL_VALUES, *values])))
    n_rows = max((len(c) for c in columns), default=len(SPECIAL_VALUES))
    return np.column_stack([np.resize(c, n_rows) for c in columns])


def first_difference(
    label: str,
    got: np.ndarray,
    expected: np.ndarray,
    tolerance: float,
    rows: np.ndarray,
    names: list[str],
) -> str | None:
    """``None`` if ``got`` equals ``expected`` within ``tolerance`` everywhere, else the reason
    (the worst probe row, the input whose value or contribution differs most there, the gap).

    ``got`` and ``expected``: one value per row, or rows x (inputs + 1) contributions. NaN
    anywhere, or a shape mismatch, counts as a difference.
    """
    got, expected = as_columns(got), as_columns(expected)
    if got.shape != expected.shape:
        return f"{label} gives shape {got.shape}, LightGBM gives {expected.shape}"
    gap = np.abs(got - expected)
    gap[np.isnan(gap)] = np.inf
    if not len(gap) or gap.max() <= tolerance:
        return None
    row, column = (int(i) for i in np.unravel_index(int(np.argmax(gap)), gap.shape))
    where = f"probe row {row} of {len(rows)}"
    if got.shape[1] > 1:  # contributions: name the input that differs, and its value
        where += (
            f", contribution of {names[column]} (value {float(rows[row, column])!r})"
            if column < len(names)
            else ", base value"
        )
    value, reference = float(got[row, column]), float(expected[row, column])
    return (
        f"{label} differs from LightGBM on {where}: {value!r} vs {reference!r} "
        f"(gap {gap[row, column]:.3g} > {tolerance:g})"
    )


def as_columns(values: np.ndarray) -> np.ndarray:
    """float64, one row per probe row (one value per row becomes one column)."""
    array = np.asarray(values, dtype="float64")
    return array[:, np.newaxis] if array.ndim == 1 else array
