"""MLflow "models from code" entry point for the model contract.

MLflow copies this file into each logged model and runs it at load time, so no pickled Python
object is stored (the pipeline itself is stored with skops). Do not import it elsewhere.

A version also carries the code ``CreditRiskModel`` needs: the ``models`` and ``features``
packages under ``code/`` (MLflow's ``code_paths``), which MLflow puts first on ``sys.path``
before it runs this file. An importable riskgrade (installed, or a work tree on the path) is
used first, so a process holds one copy of each package, the one its service or CLI already
imports: skops' types and ``isinstance`` checks agree. Where riskgrade is absent (an
environment with only the version's ``requirements.txt``, ``mlflow models serve``), or what
imports as ``models`` is something else (a project's own ``models.py``), the version's copy is
used. Only the standard library and MLflow are imported before that choice.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from mlflow.models import set_model

CODE = os.path.realpath(Path(__file__).parent / "code")  # where MLflow put the version's copy
PACKAGES = ("models", "features")  # what the copy holds (experiments/tracking.py logs them)
CONTRACT = "models.contract.pyfunc"


def is_version_copy(entry: str) -> bool:
    return os.path.realpath(entry or os.curdir) == CODE  # "" on sys.path: the current folder


def model_class() -> Any:
    """``CreditRiskModel`` from an importable riskgrade, else from the version's ``code/``."""
    elsewhere = [entry for entry in sys.path if not is_version_copy(entry)]
    before = set(sys.modules)
    sys.path[:] = elsewhere
    try:
        return importlib.import_module(CONTRACT).CreditRiskModel
    except ImportError:
        # Not riskgrade (absent, or another package of that name): forget what this attempt
        # imported under the two names, then import the version's copy.
        for name in set(sys.modules) - before:
            if name.partition(".")[0] in PACKAGES:
                del sys.modules[name]
        sys.path[:] = [CODE, *elsewhere]
        return importlib.import_module(CONTRACT).CreditRiskModel


set_model(model_class()())
