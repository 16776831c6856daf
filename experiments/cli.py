"""``riskgrade``: the command line. One subcommand per pipeline stage, plus helpers.

Heavy libraries are imported inside commands so ``--help`` is instant, and the process
environment is prepared in ``main`` before any of them loads (telemetry off, OpenMP threads
that wait passively instead of spinning).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from experiments.config import ConfigError, ProjectConfig, load_config

PROJECT_ENV = {
    # MLflow and DVC report usage to outside hosts by default; customer-risk work must not.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "ITERATIVE_DO_NOT_TRACK": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # LightGBM's OpenMP threads otherwise busy-wait and starve other work on small machines.
    "OMP_WAIT_POLICY": "PASSIVE",
}

# Each module adds its commands to ``app`` with ``@app.command`` when imported.
COMMAND_MODULES = (
    "experiments.commands.pipeline",
    "experiments.commands.tuning",
    "experiments.commands.registry",
    "experiments.commands.monitoring",
    "experiments.commands.report",
    "experiments.commands.serving",
    "experiments.commands.portfolio",
    "experiments.commands.onboarding",
    "experiments.commands.database",
)

app = typer.Typer(
    name="riskgrade",
    help="Credit default prediction: versioned data, features, models, MLflow tracking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOption = Annotated[Path, typer.Option("--params", help="Project configuration (YAML).")]
ProjectOption = Annotated[
    Path, typer.Option("--project-dir", help="Project root: MLflow's default store lives here.")
]
RegisteredOption = Annotated[
    Path,
    typer.Option(
        "--registered",
        help="registered.json of the register stage (DVC): an @challenger that names another "
        "version is refused.",
    ),
]
REGISTERED_RECORD = Path("data/artifacts/registered.json")  # the register stage's out (dvc.yaml)


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def check_family(model: str) -> str:
    """``--model``: a registered model family, or exit 1 naming the known ones."""
    from models.families.registry import FAMILIES

    if model not in FAMILIES:
        fail(f"--model must be one of {sorted(FAMILIES)} (models.families), got {model!r}")
    return model


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures (bad config, bad data, missing files) into a message + exit 1."""
    from mlflow.exceptions import MlflowException

    from experiments.io import InputError
    from features.validation import DataValidationError

    try:
        yield
    except (ConfigError, InputError, DataValidationError, ValueError, FileNotFoundError) as error:
        fail(str(error))
    except MlflowException as error:
        fail(f"MLflow: {error.message}")


def load(params: Path) -> ProjectConfig:
    with user_errors():
        return load_config(params)
    raise AssertionError("unreachable")  # pragma: no cover


def run_stage(action: Callable[[], Any]) -> Any:
    with user_errors():
        return action()


def main() -> None:
    """Console entry point: prepare the environment, register commands, run the app."""
    for key, value in PROJECT_ENV.items():
        os.environ.setdefault(key, value)
    register_commands()
    sys.exit(app())


def register_commands() -> None:
    """Import the command modules; each adds its commands to ``app`` with ``@app.command``."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    for command in app.registered_commands:
        if command.callback is not None:
            show_every_default(command.callback)


DEFAULT_NOTE = re.compile(r"\s*[\[(]default: ([^\])]+)[\])]")


def show_every_default(command: Callable[..., Any]) -> None:
    """Make ``--help`` show the default of each option and argument of ``command``.

    typer shows none for a default of ``None``, and its rich markup swallows a "[default: …]"
    written into the help text. Such a note becomes the shown default; any other ``None``
    default is shown as "none" (a command gives ``show_default="…"`` to say more).
    """
    hints = typing.get_type_hints(command, include_extras=True)
    # Annotations are text (``from __future__ import annotations``): every evaluation makes new
    # OptionInfo objects, so keep the evaluated ones, which typer then reads.
    command.__annotations__.update(hints)
    for name, parameter in inspect.signature(command).parameters.items():
        for info in getattr(hints.get(name), "__metadata__", ()):
            if not isinstance(info, typer.models.ParameterInfo):
                continue
            if parameter.default is not None or info.show_default is not True:
                continue
            note = DEFAULT_NOTE.search(info.help or "")
            if note is not None:
                info.help = DEFAULT_NOTE.sub("", info.help or "").rstrip(" .") + "."
            info.show_default = note.group(1).strip() if note else "none"
