"""DVC's record of the registered version (``registered.json``) against ``@challenger``.

The ``register`` stage does two things: it moves the registry's ``@challenger`` alias and it
writes ``registered.json``, a DVC output. DVC can later put back an older ``registered.json``
from its cache without running the stage (``dvc repro`` after data or params went back to an
earlier state, ``dvc checkout``), while the alias stays where the last run put it: the two then
name different versions, and ``@challenger`` may be a model trained on data the workspace no
longer has. Every command that acts on ``@challenger`` resolves it through
``resolve_checked``, which refuses a disagreement in one line saying what to do;
``riskgrade sync-challenger`` points the alias at the recorded version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from experiments.registry.versions import CHALLENGER, RegistryError, resolve_version


@dataclass(frozen=True)
class RegisteredRecord:
    """What ``registered.json`` says the register stage registered."""

    path: Path
    model_name: str
    version: str
    run_id: str | None


def read_record(path: Path) -> RegisteredRecord | None:
    """The record at ``path``; ``None`` when there is none (no ``dvc repro`` here yet)."""
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RegistryError(
            f"{path}: not JSON ({error.msg}, line {error.lineno}); run `dvc repro register`"
        ) from None
    if not isinstance(raw, dict) or not {"model_name", "version"} <= set(raw):
        raise RegistryError(f"{path}: expected the keys model_name and version (register stage)")
    run_id = raw.get("run_id")
    return RegisteredRecord(path, str(raw["model_name"]), str(raw["version"]), run_id)


def disagreement(record: RegisteredRecord, challenger: ModelVersion) -> str | None:
    """Why ``@challenger`` and the record disagree, with what to do; ``None`` if they agree."""
    name, alias_version = record.model_name, str(challenger.version)
    if alias_version != record.version:
        return (
            f"@challenger of {name!r} is version {alias_version}, but {record.path} (the register "
            f"stage's output, as DVC left it) names version {record.version}: run `riskgrade "
            f"sync-challenger` to point @challenger at version {record.version}, or name the "
            f"version to use it anyway ({name}/{alias_version})"
        )
    if record.run_id and challenger.run_id and record.run_id != challenger.run_id:
        return (
            f"{record.path} names version {record.version} of {name!r} from run "
            f"{record.run_id[:12]}, but version {alias_version} in this MLflow store comes from "
            f"run {challenger.run_id[:12]}: the record belongs to another store; point "
            "MLFLOW_TRACKING_URI at that store, or rebuild here with `dvc repro --force`"
        )
    return None


def acts_on_challenger(ref: str | None) -> bool:
    """Does this version reference (``None``: the default) resolve through ``@challenger``?"""
    return (ref or CHALLENGER).lstrip("@") == CHALLENGER


def resolve_checked(
    client: MlflowClient, name: str, ref: str | None, record_path: Path | None
) -> ModelVersion:
    """``resolve_version``, refusing a ``@challenger`` that the DVC record contradicts.

    A record of another model name (another project's store) is not compared."""
    version = resolve_version(client, name, ref)
    if record_path is None or not acts_on_challenger(ref):
        return version
    record = read_record(record_path)
    if record is not None and record.model_name == name:
        problem = disagreement(record, version)
        if problem is not None:
            raise RegistryError(problem)
    return version


def sync_challenger(client: MlflowClient, record_path: Path) -> tuple[str, str | None, str]:
    """Point ``@challenger`` at the recorded version; ``(model name, previous version or None,
    version)``. The recorded version must exist in this store, from the recorded run."""
    record = read_record(record_path)
    if record is None:
        raise RegistryError(f"{record_path}: not found; run `dvc repro register` first")
    name = record.model_name
    try:
        recorded = client.get_model_version(name, record.version)
    except MlflowException:
        raise RegistryError(
            f"{record_path} names version {record.version} of {name!r}, which this MLflow store "
            "does not have: point MLFLOW_TRACKING_URI at the store that registered it, or "
            "rebuild here with `dvc repro --force`"
        ) from None
    if record.run_id and recorded.run_id and record.run_id != recorded.run_id:
        problem = disagreement(record, recorded)
        raise RegistryError(problem or f"{record_path}: run ids differ")
    try:
        previous: str | None = str(client.get_model_version_by_alias(name, CHALLENGER).version)
    except MlflowException:
        previous = None
    client.set_registered_model_alias(name, CHALLENGER, record.version)
    return name, previous, record.version
