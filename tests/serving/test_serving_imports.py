"""The serving package stands alone: no ``experiments``, Optuna, DVC or typer at import."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("experiments", "optuna", "dvc", "typer", "shap", "matplotlib")
PROBE = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {FORBIDDEN!r}:
            raise ImportError("serving must not import " + name)
sys.meta_path.insert(0, Block())
import serving.app, serving.scoring.batch
from serving.settings import Settings
serving.app.create_app(Settings())
print("ok")
"""


def test_serving_imports_without_the_training_stack() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_the_project_configuration_loads_without_fairlearn() -> None:
    """`riskgrade serve` / `score` read params.yaml in a serving-only install (the ``serve``
    extra), which has no fairlearn: the fairness settings must not need it."""
    blocked = PROBE.split("import serving.app")[0].replace(repr(FORBIDDEN), repr(("fairlearn",)))
    probe = blocked + (
        "from pathlib import Path\n"
        "from experiments.config import load_config\n"
        "assert load_config(Path('params.yaml')).data.protected\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
