"""A frame that does not fit a version: one line naming the column, what the data holds and
the type the version's signature expects (MLflow's own message prints the whole frame)."""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from experiments.registry.signature import SignatureError, predict_checked

WHERE = ("current.csv", "version 2 of 'credit'")


class Echo(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        if (model_input["amount"] < 0).any():
            raise ValueError("column 'amount': expected a number >= 0, found -1 in row 1")
        return model_input[["amount"]]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> mlflow.pyfunc.PyFuncModel:
    """Typed like versions registered before inputs became nullable: ``long`` numbers."""
    path = tmp_path_factory.mktemp("signature") / "model"
    inputs = Schema([ColSpec("long", "months"), ColSpec("string", "purpose"),
                     ColSpec("double", "amount")])  # fmt: skip
    mlflow.pyfunc.save_model(path, python_model=Echo(), signature=ModelSignature(inputs))
    return mlflow.pyfunc.load_model(str(path))


def frame(**changes: Any) -> pd.DataFrame:
    rows = pd.DataFrame({"months": [6, 12], "purpose": ["car", "tv"], "amount": [1.0, 2.5]})
    return rows.assign(**changes)


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (frame(months=[6.0, np.nan]),
         "column 'months' has missing values (float64), but version 2 of 'credit' expects long"),
        (frame(months=[6.5, 7.0]),
         "column 'months' holds float64, but version 2 of 'credit' expects long"),
        (frame(purpose=[1, 2]),
         "column 'purpose' holds integer (int64), but version 2 of 'credit' expects string"),
        (frame(amount=["a", "b"]),
         "column 'amount' holds string (str), but version 2 of 'credit' expects double"),
        (frame().drop(columns="purpose"),
         "column 'purpose' is missing, but version 2 of 'credit' expects string"),
    ],
    ids=["missing in an integer", "fraction", "number for text", "text for a number", "absent"],
)  # fmt: skip
def test_misfit_is_one_line(model: mlflow.pyfunc.PyFuncModel, rows: Any, problem: str) -> None:
    with pytest.raises(SignatureError) as error:
        predict_checked(model, rows, WHERE)
    assert str(error.value) == f"current.csv: {problem} (its MLflow signature)"


def test_the_models_own_refusal_names_the_file(model: mlflow.pyfunc.PyFuncModel) -> None:
    with pytest.raises(SignatureError) as error:
        predict_checked(model, frame(amount=[-1.0, 2.0]), WHERE)
    assert str(error.value) == (
        "current.csv: column 'amount': expected a number >= 0, found -1 in row 1"
    )


def test_a_fitting_frame_is_predicted(model: mlflow.pyfunc.PyFuncModel) -> None:
    assert predict_checked(model, frame(), WHERE)["amount"].tolist() == [1.0, 2.5]
