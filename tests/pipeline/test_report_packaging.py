"""The report's HTML template ships with the package, not only in the work tree.

setuptools' ``build_py`` (the step that fills a wheel with the packages and their package
data) builds a copy of the sources into a temporary folder; a fresh Python that imports
``experiments`` from there, not from the editable install, must find the template.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = ("features", "models", "experiments", "serving")
FIND_TEMPLATE = """
import experiments
from experiments.reports.html import TEMPLATE, template_environment
print(experiments.__file__)
print(template_environment().get_template(TEMPLATE).filename)
"""


def test_built_package_contains_and_finds_the_report_template(
    repo_root: Path, tmp_path: Path
) -> None:
    source, build = tmp_path / "source", tmp_path / "build"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(repo_root / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            repo_root / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    setup = [sys.executable, "-c", "import setuptools; setuptools.setup()"]
    built = subprocess.run(
        [*setup, "-q", "build_py", "--build-lib", str(build)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "Package would be ignored" not in built.stderr
    assert (build / "experiments/reports/templates/validation_report.html.j2").is_file()
    env = os.environ | {"PYTHONPATH": str(build)}
    found = subprocess.run(
        [sys.executable, "-c", FIND_TEMPLATE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    package_file, template_file = found.stdout.split()
    assert Path(package_file).is_relative_to(build)  # not the editable work tree
    assert Path(template_file) == build / "experiments/reports/templates/validation_report.html.j2"
