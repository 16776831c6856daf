"""The walkthrough notebooks (``notebooks/*.py``, Jupytext percent scripts), run end to end.

Each script is converted with jupytext and executed by nbclient in a new kernel of this
interpreter -- a kernelspec in a temporary ``JUPYTER_PATH`` names ``sys.executable``, so no
other "python3" kernel installed on the machine answers -- with the notebook's folder as the
working directory, as a user opens it. A failing cell fails the test with that cell's source
and its error. Then the outputs a reader relies on are checked: plots rendered as PNG, the
service's answers, the comparison and the gate decision. Each notebook builds its own
throw-away workspace and MLflow store (under this test's ``tmp_path``, via ``TMPDIR``).
Executed notebooks are never committed: ``notebooks/`` keeps the scripts only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
KERNEL = "riskgrade-notebooks"
CELL_SECONDS = 600  # per cell; the longest took about 100 s on a heavily loaded two-core machine
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

Outputs = list[dict[str, Any]]


def text_of(outputs: Outputs) -> str:
    """Everything a reader sees as text: printed streams, plain and HTML results, errors."""
    parts = []
    for output in outputs:
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return ANSI.sub("", "\n".join(parts))


def has_png(outputs: Outputs) -> bool:
    return any("image/png" in output.get("data", {}) for output in outputs)


def contains(*texts: str) -> Callable[[Outputs], bool]:
    return lambda outputs: all(text in text_of(outputs) for text in texts)


def matches(pattern: str) -> Callable[[Outputs], bool]:
    return lambda outputs: re.search(pattern, text_of(outputs)) is not None


# What each notebook's tagged cells (``# %% tags=[...]``) must show once executed.
EXPECTED: dict[str, dict[str, Callable[[Outputs], bool]]] = {
    "01_data_scientist.py": {
        "profile": contains("personal_status_and_sex", "excluded"),
        "default-rate-plot": has_png,
        "compare": contains("lightgbm", "logistic", "scorecard"),
        "tuning": matches(r"best trial \d+: CV AUC 0\.\d{4}"),
        "calibration-plot": has_png,
        "tiers": contains("low", "medium", "high"),
        "register": matches(r"version 1 \(\w+\) is @challenger"),
    },
    "02_validator.py": {
        "challenger": contains("stored files match the registered digest: True"),
        "report": contains("exit code 0", "sections:"),
        "calibration-plot": has_png,
        "calibration-tests": contains("(same: True)"),
        "fairness": contains("lowest adverse-impact ratio", "(same: True)"),
        "roc-plot": has_png,
        "gate": matches(r"decision: (promoted|refused)"),
        "history": matches(r"@champion is version [12]"),
    },
    "03_engineer.py": {
        "serve": matches(r"GET /v1/model: .+ v1 \(@champion, lightgbm\)"),
        "score-http": contains("POST /v1/score -> HTTP 200"),
        "batch-http": contains("POST /v1/score/batch -> HTTP 200", "-> HTTP 422"),
        "batch-file": matches(
            r"stored run [\w-]+ \(200 customers, 200 scored before.*\): \d+ alert"
        ),
        "alerts": contains("alerts"),
        "customer-report": contains("/report -> HTTP 200"),
        "monitor": matches(r"status act \(exit code 2\)"),
        "psi-plot": has_png,
        "stop": contains("service stopped"),
    },
}


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec running this interpreter (the project's venv), found first on
    ``JUPYTER_PATH``."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "riskgrade (tests)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        yield KERNEL


def kernel_environment(tmp_path: Path) -> dict[str, str]:
    """This environment without MLflow or service settings (each notebook sets its own), the
    venv's ``bin`` first, and temporary files under ``tmp_path``."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RISKGRADE_", "MLFLOW_TRACKING_", "MLFLOW_EXPERIMENT_"))
    }
    bin_dir = str(Path(sys.executable).parent)
    return kept | {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "TMPDIR": str(tmp_path),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # the debugger's note on frozen modules
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def execute(script: Path, kernel: str, tmp_path: Path) -> nbformat.NotebookNode:
    """The notebook executed in its folder; a failing cell fails the test, showing it."""
    notebook = jupytext.read(script)
    client = NotebookClient(
        notebook,
        timeout=CELL_SECONDS,
        startup_timeout=180,
        kernel_name=kernel,
        resources={"metadata": {"path": str(script.parent)}},
    )
    try:
        client.execute(env=kernel_environment(tmp_path))
    except CellExecutionError as error:
        pytest.fail(f"{script.name}: a cell failed\n{ANSI.sub('', str(error))}", pytrace=False)
    return notebook


def tagged(notebook: nbformat.NotebookNode, tag: str) -> Outputs:
    cells = [cell for cell in notebook.cells if tag in cell.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return list(cells[0].get("outputs", []))


def test_every_notebook_has_expectations() -> None:
    assert sorted(EXPECTED) == NAMES, f"notebooks {NAMES}, expectations for {sorted(EXPECTED)}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_end_to_end(name: str, kernel_name: str, tmp_path: Path) -> None:
    notebook = execute(NOTEBOOKS / name, kernel_name, tmp_path)
    unmet = {
        tag: text_of(tagged(notebook, tag))[-2000:]
        for tag, check in EXPECTED[name].items()
        if not check(tagged(notebook, tag))
    }
    assert not unmet, f"{name}: cells without their expected output: {unmet}"
    left = [path.name for path in tmp_path.iterdir() if path.name.startswith("riskgrade-")]
    assert not left, f"{name} left its workspace behind: {left}"


def test_no_executed_notebook_is_committed() -> None:
    """The notebooks live in git as scripts; an ``.ipynb`` (with outputs) is never tracked."""
    listed = subprocess.run(
        ["git", "ls-files", "--", "."], cwd=NOTEBOOKS, capture_output=True, text=True
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    tracked = [name for name in listed.stdout.split() if name.endswith(".ipynb")]
    assert not tracked, f"executed notebooks in git (keep the .py scripts only): {tracked}"
