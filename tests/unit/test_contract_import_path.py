"""Versions registered before the subpackages still load: their entry file's import works."""

from __future__ import annotations

import runpy
from pathlib import Path

import models.contract.pyfunc


def test_the_old_entry_file_sets_the_current_model_contract(tmp_path: Path) -> None:
    old_entry = tmp_path / "pyfunc_entry.py"  # as logged inside versions registered before
    old_entry.write_text(
        "from mlflow.models import set_model\n"
        "from models.pyfunc import CreditRiskModel\n"
        "set_model(CreditRiskModel())\n"
    )
    namespace = runpy.run_path(str(old_entry))
    assert namespace["CreditRiskModel"] is models.contract.pyfunc.CreditRiskModel
