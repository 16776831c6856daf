"""Scoring a frame with a registered version, refusing one that does not fit its signature.

MLflow checks a frame against the version's input signature and, when it does not fit, raises
an error that prints the whole frame and schema (hundreds of characters). ``predict_checked``
turns that into one line naming the column, what the data holds and what the version expects.
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel


class SignatureError(ValueError):
    """A frame does not fit a version's input signature; the message names the column."""


INTEGER, NUMBER = {"integer", "long"}, {"integer", "long", "float", "double"}


def column_problem(values: pd.Series, expected: str) -> str | None:
    """What is wrong with one column for a signature type (``long``, ``double``, ``string``,
    ...); ``None`` when it fits."""
    kind = values.dtype.kind
    if expected in INTEGER and kind not in "iu":
        if kind == "f" and values.isna().any():
            return f"has missing values ({values.dtype})"
        return f"holds {values.dtype}"
    if expected in NUMBER and kind not in "iuf":
        return f"holds {pd.api.types.infer_dtype(values, skipna=True)} ({values.dtype})"
    if expected == "string" and pd.api.types.infer_dtype(values, skipna=True) not in (
        "string",
        "empty",
    ):
        return f"holds {pd.api.types.infer_dtype(values, skipna=True)} ({values.dtype})"
    return None


def signature_problem(model: PyFuncModel, frame: pd.DataFrame) -> tuple[str, str, str] | None:
    """``(column, what the data holds, type the signature expects)`` for the first column of
    ``frame`` that does not fit the version's input signature; ``None`` when all fit."""
    schema = model.metadata.get_input_schema()
    for spec in schema.inputs if schema is not None else ():
        expected = getattr(spec.type, "name", str(spec.type))
        if spec.name not in frame.columns:
            if spec.required:
                return str(spec.name), "is missing", expected
            continue
        problem = column_problem(frame[spec.name], expected)
        if problem is not None:
            return str(spec.name), problem, expected
    return None


def predict_checked(
    model: PyFuncModel,
    frame: pd.DataFrame,
    where: tuple[str, str],
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """``model.predict``. ``where`` = (the data's source, the version), e.g.
    ``("data/processed/split/test.parquet", "version 2 of 'riskgrade-credit'")``. A frame
    that does not fit the signature raises ``SignatureError`` in one line: ``<source>: column
    'age_in_years' has missing values (float64), but <version> expects long (its MLflow
    signature)``."""
    source, version = where
    try:
        # the credit-risk contract (models.contract.pyfunc) answers with a frame
        return cast(pd.DataFrame, model.predict(frame, params=params))
    except ValueError as error:  # the contract's own checks (text in a number column)
        raise SignatureError(f"{source}: {error}") from None
    except MlflowException as error:
        if "Failed to enforce schema" not in error.message:
            raise
        found = signature_problem(model, frame)
        if found is None:  # a rule of MLflow's that column_problem does not know: its reason
            reason = error.message.rpartition("Error: ")[2].split(". ")[0]
            raise SignatureError(f"{source} does not fit {version}: {reason}") from None
        column, problem, expected = found
        raise SignatureError(
            f"{source}: column {column!r} {problem}, but {version} expects {expected} "
            "(its MLflow signature)"
        ) from None
