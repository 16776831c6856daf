"""LightGBM's single-row C API, for one-customer predictions without per-call set-up.

``Booster.predict`` builds a predictor object on every call (about 0.1 ms, several times the
cost of 300 small trees). ``LGBM_BoosterPredictForMatSingleRowFast`` keeps one prepared
configuration per prediction type, so one row costs only the trees. Results are those of
``Booster.predict`` on the same float64 row (same C++ predictor; tested to 1e-9).
A configuration is not safe for concurrent use, so calls are serialised by a lock.

The per-row call goes through ``ctypes.PyDLL`` (the same library, loaded once): it keeps the
GIL for the ~10 microseconds of tree evaluation instead of releasing it, so a busy background
thread (the audit writer) cannot make the request wait for a GIL hand-back (up to 5 ms).
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
from typing import Any

import numpy as np
from lightgbm import basic

from models.fastpath.tree_shap import ShapTables

PREDICT_NORMAL, PREDICT_RAW_SCORE, PREDICT_CONTRIB = 0, 1, 3
FLOAT64 = 1  # C_API_DTYPE_FLOAT64


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
    ``shap_method`` says which one this model uses.
    """

    def __init__(self, booster: Any, num_threads: int) -> None:
        self.booster = booster
        self.num_threads = num_threads
        best = int(getattr(booster, "best_iteration", 0) or 0)
        self.tables = ShapTables.build(booster, num_iteration=best if best > 0 else None)
        self.shap_method = (
            "TreeSHAP (path-dependent, as LightGBM pred_contrib; tabulated per tree)"
            if self.tables is not None
            else "TreeSHAP (LightGBM pred_contrib)"
        )
        kinds = [PREDICT_NORMAL, PREDICT_RAW_SCORE]
        if self.tables is None:
            kinds.append(PREDICT_CONTRIB)
        self.single: dict[int, SingleRowPredictor] = {}
        if fast_api_available():
            self.single = {kind: SingleRowPredictor(booster, kind, num_threads) for kind in kinds}

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probability of the positive class per row."""
        if len(rows) == 1 and self.single:
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
        if len(rows) == 1 and self.single:
            shap = self.single[PREDICT_CONTRIB].predict(rows[0])[np.newaxis, :]
        else:
            shap = self.booster.predict(rows, pred_contrib=True, num_threads=self.num_threads)
        return self.predict(rows), np.asarray(shap, dtype="float64")

    def margin(self, rows: np.ndarray) -> np.ndarray:
        """The raw score (log-odds) per row, for a calibration map to turn into a PD."""
        if len(rows) == 1 and self.single:
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
