"""LightGBM's single-row C API, for one-customer predictions without per-call set-up.

``Booster.predict`` builds a predictor object on every call (about 0.1 ms, several times the
cost of 300 small trees). ``LGBM_BoosterPredictForMatSingleRowFast`` keeps one prepared
configuration per prediction type, so one row costs only the trees. Results are those of
``Booster.predict`` on the same float64 row (same C++ predictor; tested to 1e-9).
A configuration is not safe for concurrent use, so calls are serialised by a lock.

Both the single-row API and the tabulated TreeSHAP rely on LightGBM internals, so
``LightGBMRunner`` checks them when it is built: on probe rows at every split threshold of the
model (``models.fastpath.probes``) they must equal ``Booster.predict`` (PD and raw score to
1e-12, contributions to 1e-9). A part that differs is dropped, LightGBM's own ``predict`` /
``pred_contrib`` answer instead, and the reason is logged (logger ``riskgrade.fastpath``) and
kept in ``fallback_reason`` and ``shap_method``.

The per-row call goes through ``ctypes.PyDLL`` (the same library, loaded once): it keeps the
GIL for the ~10 microseconds of tree evaluation instead of releasing it, so a busy background
thread (the audit writer) cannot make the request wait for a GIL hand-back (up to 5 ms).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import threading
from typing import Any

import numpy as np
from lightgbm import basic

from models.fastpath.probes import (
    CONTRIBUTION_TOLERANCE,
    MARGIN_TOLERANCE,
    first_difference,
    probe_rows,
)
from models.fastpath.tree_shap import ShapTables

log = logging.getLogger("riskgrade.fastpath")
PREDICT_NORMAL, PREDICT_RAW_SCORE, PREDICT_CONTRIB = 0, 1, 3
FLOAT64 = 1  # C_API_DTYPE_FLOAT64
# The single-row contribution API runs LightGBM's own TreeSHAP (the code behind pred_contrib):
# what could differ is our wrapping (buffer width, iteration count), which a few rows show.
# Every probe would cost two TreeSHAP runs per probe at each load of an untabulated model.
CONTRIB_PROBE_ROWS = 32
TABULATED = "TreeSHAP (path-dependent, as LightGBM pred_contrib; tabulated per tree)"
LIGHTGBM_SHAP = "TreeSHAP (LightGBM pred_contrib)"
SINGLE_ROW_NAMES = {
    PREDICT_NORMAL: "single-row PD",
    PREDICT_RAW_SCORE: "single-row raw score",
    PREDICT_CONTRIB: "single-row pred_contrib",
}


def fast_api_available() -> bool:
    return hasattr(basic._LIB, "LGBM_BoosterPredictForMatSingleRowFastInit")


@functools.cache
def gil_holding_library() -> ctypes.PyDLL:
    """LightGBM's shared library with calls that keep the GIL (same handle, no reload)."""
    return ctypes.PyDLL(basic._LIB._name)


class SingleRowPredictor:
    """One prepared LightGBM configuration: ``predict(row)`` -> output vector."""

    def __init__(self, booster: Any, predict_type: int, num_threads: int) -> None:
        self.booster = booster  # keeps the model alive as long as the configuration
        self.ncol = int(booster.num_feature())
        width = self.ncol + 1 if predict_type == PREDICT_CONTRIB else 1
        self.out = np.zeros(width, dtype="float64")
        self.out_len = ctypes.c_int64(0)
        self.lock = threading.Lock()
        self.handle = ctypes.c_void_p()
        best = int(getattr(booster, "best_iteration", 0) or 0)
        basic._safe_call(
            basic._LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(predict_type),
                ctypes.c_int(0),
                ctypes.c_int(best if best > 0 else -1),
                ctypes.c_int(FLOAT64),
                ctypes.c_int32(self.ncol),
                basic._c_str(f"num_threads={num_threads}"),
                ctypes.byref(self.handle),
            )
        )

    def predict(self, row: np.ndarray) -> np.ndarray:
        """The output for one float64 row of ``ncol`` values (a copy)."""
        data = np.ascontiguousarray(row, dtype="float64")
        if data.shape != (self.ncol,):
            raise ValueError(f"expected one row of {self.ncol} values, got shape {data.shape}")
        with self.lock:
            basic._safe_call(
                gil_holding_library().LGBM_BoosterPredictForMatSingleRowFast(
                    self.handle,
                    data.ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(self.out_len),
                    self.out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
            return self.out[: self.out_len.value].copy()

    def __del__(self) -> None:
        handle = getattr(self, "handle", None)
        if handle is not None and handle.value:
            basic._LIB.LGBM_FastConfigFree(handle)
            self.handle = ctypes.c_void_p()


def sigmoid(margin: float) -> float:
    """LightGBM's binary output transform, with the same C library ``exp``."""
    return 1.0 / (1.0 + math.exp(-margin))


class LightGBMRunner:
    """PD and TreeSHAP contributions of a booster.

    ``predict``: LightGBM's own PD (the single-row API for one row). ``contributions``: PD and
    the TreeSHAP values of ``pred_contrib``, from ``ShapTables`` (7-17x faster, see
    ``models.fastpath.tree_shap``) when the trees are small enough to tabulate, else from LightGBM.
    ``verify`` (run on construction) falls back to LightGBM wherever these differ from it on the
    probe rows; ``fallback_reason`` says why (``None``: nothing differed). ``shap_method`` says
    which TreeSHAP this model uses, and the fallback reason if any.
    """

    def __init__(self, booster: Any, num_threads: int) -> None:
        self.booster = booster
        self.num_threads = num_threads
        best = int(getattr(booster, "best_iteration", 0) or 0)
        self.tables = ShapTables.build(booster, num_iteration=best if best > 0 else None)
        self.single: dict[int, SingleRowPredictor] = {}
        if fast_api_available():
            kinds = [PREDICT_NORMAL, PREDICT_RAW_SCORE]
            self.single = {kind: SingleRowPredictor(booster, kind, num_threads) for kind in kinds}
        self.fallback_reason: str | None = None
        self.verify(probe_rows(booster))

    @property
    def shap_method(self) -> str:
        method = TABULATED if self.tables is not None else LIGHTGBM_SHAP
        if self.fallback_reason is None:
            return method
        return f"{method}; fast path fallback: {self.fallback_reason}"

    def verify(self, rows: np.ndarray) -> None:
        """Compare the tables and single-row predictors with ``Booster.predict`` on ``rows``;
        drop each part that differs (its calls then go to LightGBM) and log why."""
        reasons: list[str] = []
        pd_, raw = self.lightgbm(PREDICT_NORMAL, rows), self.lightgbm(PREDICT_RAW_SCORE, rows)
        if self.tables is not None:
            reason = self.table_difference(rows, pd_, raw)
            if reason is not None:
                self.tables = None
                reasons.append(reason)
        if self.tables is None and fast_api_available() and PREDICT_CONTRIB not in self.single:
            self.single[PREDICT_CONTRIB] = SingleRowPredictor(
                self.booster, PREDICT_CONTRIB, self.num_threads
            )
        for kind in list(self.single):
            probes = rows[:CONTRIB_PROBE_ROWS] if kind == PREDICT_CONTRIB else rows
            expected = {PREDICT_NORMAL: pd_, PREDICT_RAW_SCORE: raw}.get(kind)
            if expected is None:
                expected = self.lightgbm(kind, probes)
            reason = self.single_row_difference(kind, probes, expected)
            if reason is not None:
                del self.single[kind]
                reasons.append(reason)
        if reasons:
            log.warning("fast path falls back to LightGBM: %s", "; ".join(reasons))
            self.fallback_reason = "; ".join([*filter(None, [self.fallback_reason]), *reasons])

    def lightgbm(self, kind: int, rows: np.ndarray) -> np.ndarray:
        """``Booster.predict``'s answer of one prediction type: the reference."""
        options = {PREDICT_RAW_SCORE: {"raw_score": True}, PREDICT_CONTRIB: {"pred_contrib": True}}
        answer = self.booster.predict(rows, num_threads=self.num_threads, **options.get(kind, {}))
        return np.asarray(answer, dtype="float64")

    def table_difference(self, rows: np.ndarray, pd_: np.ndarray, raw: np.ndarray) -> str | None:
        """Why the tables' answers (batch and one row at a time) are not LightGBM's, or None."""
        assert self.tables is not None
        shap = self.lightgbm(PREDICT_CONTRIB, rows)
        try:
            margins, contributions = self.tables.contributions(rows)
            one = [self.tables.row_contributions(row) for row in rows]
        except Exception as error:  # a fast path that cannot answer a probe is not served
            return f"tabulated TreeSHAP fails on the probe rows: {type(error).__name__}: {error}"
        one_margins = np.array([margin for margin, _ in one])
        one_shap = np.vstack([contribution for _, contribution in one])
        one_pd = np.array([sigmoid(margin) for margin in one_margins.tolist()])
        checks = [
            ("tabulated TreeSHAP", contributions, shap, CONTRIBUTION_TOLERANCE),
            ("tabulated TreeSHAP (one row)", one_shap, shap, CONTRIBUTION_TOLERANCE),
            ("tabulated raw score", margins, raw, MARGIN_TOLERANCE),
            ("tabulated raw score (one row)", one_margins, raw, MARGIN_TOLERANCE),
            ("tabulated PD", one_pd, pd_, MARGIN_TOLERANCE),
        ]
        names = list(self.booster.feature_name())
        reasons = (first_difference(*check, rows, names) for check in checks)
        return next((reason for reason in reasons if reason is not None), None)

    def single_row_difference(
        self, kind: int, rows: np.ndarray, expected: np.ndarray
    ) -> str | None:
        """Why the single-row predictor of ``kind`` does not give ``expected``, or None."""
        label = f"LightGBM {SINGLE_ROW_NAMES[kind]}"
        try:
            got = np.array([self.single[kind].predict(row) for row in rows])
        except Exception as error:
            return f"{label} fails on the probe rows: {type(error).__name__}: {error}"
        tolerance = CONTRIBUTION_TOLERANCE if kind == PREDICT_CONTRIB else MARGIN_TOLERANCE
        names = list(self.booster.feature_name())
        return first_difference(label, got, expected, tolerance, rows, names)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probability of the positive class per row."""
        if len(rows) == 1 and PREDICT_NORMAL in self.single:
            return self.single[PREDICT_NORMAL].predict(rows[0])
        return np.asarray(self.booster.predict(rows, num_threads=self.num_threads))

    def contributions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PD per row, rows x (inputs + 1): TreeSHAP per input, the base value last).

        With tables the PD comes from the same lookups (leaf values added in LightGBM's tree
        order, then LightGBM's sigmoid), so the booster itself is not touched: one pass over
        the trees instead of two, and a smaller memory footprint per request.
        """
        if self.tables is not None:
            if len(rows) == 1:
                margin, shap = self.tables.row_contributions(rows[0])
                return np.array([sigmoid(margin)]), shap
            margins, shap = self.tables.contributions(rows)
            return np.array([sigmoid(m) for m in margins.tolist()]), shap
        if len(rows) == 1 and PREDICT_CONTRIB in self.single:
            shap = self.single[PREDICT_CONTRIB].predict(rows[0])[np.newaxis, :]
        else:
            shap = self.booster.predict(rows, pred_contrib=True, num_threads=self.num_threads)
        return self.predict(rows), np.asarray(shap, dtype="float64")

    def margin(self, rows: np.ndarray) -> np.ndarray:
        """The raw score (log-odds) per row, for a calibration map to turn into a PD."""
        if len(rows) == 1 and PREDICT_RAW_SCORE in self.single:
            return self.single[PREDICT_RAW_SCORE].predict(rows[0])
        raw = self.booster.predict(rows, raw_score=True, num_threads=self.num_threads)
        return np.asarray(raw, dtype="float64")

    def margin_contributions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``contributions`` with the raw score (log-odds) in place of LightGBM's PD."""
        if self.tables is not None:
            if len(rows) == 1:
                margin, shap = self.tables.row_contributions(rows[0])
                return np.array([margin]), shap
            margins, shap = self.tables.contributions(rows)
            return np.asarray(margins, dtype="float64"), shap
        _, shap = self.contributions(rows)
        return self.margin(rows), shap
