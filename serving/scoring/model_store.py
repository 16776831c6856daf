"""Load the version an alias points to from the MLflow registry, check it, swap it in.

Loading resolves the alias to a version number first and loads that exact version, so a
concurrent promotion cannot mix two versions. Compiling a LightGBM model checks its fast path
(tabulated TreeSHAP, single-row predictor) against ``Booster.predict`` on probe rows at every
split threshold (``models.fastpath.probes``); a part that differs is replaced by LightGBM's own
predictor and the version is served with a logged warning. A family without a compiler
(``models.families``) is served through its registered pipeline, also with a logged warning.
Every load ends with a smoke
prediction: the compiled fast path must reproduce the registered pipeline
(``CreditRiskModel.score``) on the model's own input example to 1e-9, or the version is refused.

Before anything is unpickled or parsed, the downloaded files are checked against the digest
recorded at registration (``models.contract.digest``, version tag ``artifacts_sha256``): a
version whose stored files changed since (an edited policy, a swapped pipeline) is refused. A
version registered before digests were recorded has no tag: it is served, with a logged
warning, as unverified.

``ModelHolder.current`` is swapped by one reference assignment: a request reads it once and
finishes on the model it started with; a failed reload leaves it untouched. A reload request
reaches one worker process: with several (``uvicorn --workers``), each polls the alias by
default (``polling_interval``), so all follow it within the interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.schema import ValueRange
from models.contract.digest import DIGEST_TAG, artifacts_digest
from models.fastpath.compiled import CompiledPipeline, NotCompiledError, compile_pipeline
from models.fastpath.uncompiled import PipelineScorer
from serving.scoring.predictor import LoadedModel, decide
from serving.scoring.schemas import InputColumn, build_request_models, example_customer
from serving.settings import Settings, hide_secrets, shown_url

log = logging.getLogger("riskgrade.serving")
SMOKE_TOLERANCE = 1e-9
SHARED_RELOAD_INTERVAL_SECONDS = 5.0  # polling by default when several workers serve


class ModelLoadError(RuntimeError):
    """The model cannot be served; the message says why and what to do."""


def registry_client(settings: Settings) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


# What a registry answers for a model or alias it does not have (the SQL store and, over
# HTTP, a tracking server alike); any other failure is the registry's, not the alias's.
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})


def resolve_alias(settings: Settings) -> str:
    """The version number the alias points to now; ``ModelLoadError`` if there is none, or if
    the registry cannot be asked (a tracking server down, refusing, or not answering)."""
    from mlflow.exceptions import MlflowException

    where = shown_url(settings.tracking_uri) if settings.tracking_uri else "MLFLOW_TRACKING_URI"
    try:
        version = registry_client(settings).get_model_version_by_alias(
            settings.model_name, settings.model_alias
        )
    except MlflowException as error:
        if error.error_code not in NOT_FOUND_CODES:
            reason = hide_secrets(str(error.message).splitlines()[0][:600], settings)
            raise ModelLoadError(
                f"cannot ask the MLflow registry at {where} for @{settings.model_alias} of "
                f"{settings.model_name!r}: {reason}. Check that the tracking server is running "
                "and reachable, and RISKGRADE_TRACKING_URI (or MLFLOW_TRACKING_URI)"
            ) from None
        raise ModelLoadError(
            f"no @{settings.model_alias} version of model {settings.model_name!r} in the MLflow "
            f"registry at {where}. Ways out: "
            "`riskgrade promote` (the @challenger through the promotion gate); "
            '`riskgrade promote --force --reason "..."` (a recorded override of the gate); '
            "or serve another alias, e.g. RISKGRADE_MODEL_ALIAS=challenger riskgrade serve"
        ) from None
    return str(version.version)


def input_columns(
    pyfunc: Any,
    categories: dict[str, tuple[str, ...]],
    ranges: Mapping[str, ValueRange] | None = None,
) -> list[InputColumn]:
    """The signature's input columns with the fitted encoder's categories and the valid
    ranges of numbers stored with the version (``ScoringPolicy.ranges``)."""
    schema = pyfunc.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise ModelLoadError("the model has no named input signature; log it with one")
    ranges = ranges or {}
    return [
        InputColumn(
            spec.name,
            type_name(spec),
            spec.required,
            categories.get(spec.name, ()),
            ranges.get(spec.name),
        )
        for spec in schema.inputs
    ]


def type_name(spec: Any) -> str:
    """The MLflow type of a signature column; ``Any`` is how riskgrade types a number column
    that may be missing (``experiments.tracking.nullable_inputs``), so it reads as ``double``."""
    return getattr(spec.type, "name", "double")


def smoke_test(model: LoadedModel, python_model: Any, example: pd.DataFrame) -> None:
    """Fast path vs the registered pipeline on the input example; raise on any difference."""
    rows = example[list(model.compiled.raw_columns)].reset_index(drop=True)
    k = model.policy.reasons.top_k
    expected = python_model.score(rows, k)
    records = [{str(k): v for k, v in row.items()} for row in rows.to_dict("records")]
    got = decide(model, records, reasons=True)
    gap = float(np.max(np.abs(expected["pd"].to_numpy() - [d.pd for d in got])))
    reasons_equal = all(
        [r["feature"] for r in json.loads(e)] == [r["feature"] for r in (d.reasons or [])]
        for e, d in zip(expected["reasons"], got, strict=True)
    )
    tiers_equal = list(expected["tier"]) == [d.tier for d in got]
    if "grade" in expected:
        tiers_equal = tiers_equal and list(expected["grade"]) == [d.grade for d in got]
    if not (gap <= SMOKE_TOLERANCE and reasons_equal and tiers_equal):
        raise ModelLoadError(
            f"smoke prediction failed: the fast path differs from the registered pipeline "
            f"(max PD gap {gap:.3g}, reasons equal {reasons_equal}, tiers equal {tiers_equal})"
        )


def compile_or_wrap(
    pyfunc: Any, python_model: Any, threads: int
) -> CompiledPipeline | PipelineScorer:
    """The compiled fast path, or the pipeline itself when its family has no compiler."""
    try:
        return compile_pipeline(python_model.pipeline, python_model.background_mean, threads)
    except NotCompiledError as reason:
        schema = pyfunc.metadata.get_input_schema()
        text = [s.name for s in schema.inputs if type_name(s) == "string"] if schema else []
        return PipelineScorer(
            python_model.pipeline, python_model.background_mean, text, str(reason)
        )


def download_version(uri: str, into: Path) -> Path:
    """Download a model (``models:/...``, ``runs:/...`` or a store path) into ``into``."""
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into)))


def read_files(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by its ``/``-separated relative path."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def verify_artifacts(uri: str, files: Mapping[str, bytes], tags: Mapping[str, str]) -> bool:
    """True if ``files`` match the digest recorded at registration; False (and a logged
    warning) if the version has none; ``ModelLoadError`` if they differ."""
    recorded = tags.get(DIGEST_TAG)
    if recorded is None:
        log.warning(
            "%s: no %s tag (registered before digests were recorded): its files are served "
            "unverified; register the model again to have them checked at every load",
            uri,
            DIGEST_TAG,
        )
        return False
    found = artifacts_digest(files)
    if found != recorded:
        raise ModelLoadError(
            f"{uri}: its stored artifacts changed since registration (sha256 {found[:16]}... "
            f"now, {recorded[:16]}... recorded in tag {DIGEST_TAG}); refusing to serve files "
            "that are not the ones registered. Restore them from a backup of the artifact "
            "store, or register the model again (`dvc repro register`) and promote that version"
        )
    return True


def load_verified(uri: str, tags: Mapping[str, str], threads: int) -> tuple[Any, Any, Any]:
    """The pyfunc, its ``CreditRiskModel`` and its fast path, from checked files."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="riskgrade-model-") as tmp:
        try:
            local = download_version(uri, Path(tmp))
        except Exception as error:
            raise ModelLoadError(
                f"cannot download {uri}: {type(error).__name__}: {error}"
            ) from error
        verify_artifacts(uri, read_files(local), tags)
        try:  # everything is read here: the pyfunc keeps no handle on the downloaded files
            pyfunc = mlflow.pyfunc.load_model(str(local))
            python_model = pyfunc.unwrap_python_model()
            compiled = compile_or_wrap(pyfunc, python_model, threads)
        except ModelLoadError:
            raise
        except Exception as error:  # any failure to load is reported, never half-served
            raise ModelLoadError(f"cannot load {uri}: {type(error).__name__}: {error}") from error
    return pyfunc, python_model, compiled


def version_details(settings: Settings, version: str) -> Any:
    """The registry's record of ``version`` of the configured model (its tags: lineage, the
    artifacts digest); ``ModelLoadError`` naming the version if the registry has none."""
    from mlflow.exceptions import MlflowException

    try:
        return registry_client(settings).get_model_version(settings.model_name, version)
    except MlflowException as error:
        uri = f"models:/{settings.model_name}/{version}"
        raise ModelLoadError(f"cannot load {uri}: {error.message}") from None


def load_version(settings: Settings, version: str) -> LoadedModel:
    """Load, verify, compile and smoke-test one version of the configured model."""
    uri = f"models:/{settings.model_name}/{version}"
    details = version_details(settings, version)
    pyfunc, python_model, compiled = load_verified(
        uri, dict(details.tags), settings.lightgbm_threads
    )
    if isinstance(compiled, PipelineScorer):
        log.warning("%s: served through its pipeline (slower): %s", uri, compiled.reason)
    elif compiled.booster is not None and compiled.booster.fallback_reason is not None:
        reason = compiled.booster.fallback_reason
        log.warning(
            "%s: LightGBM's own predictor answers where the fast path differed: %s", uri, reason
        )
    columns = input_columns(pyfunc, compiled.categories, python_model.policy.ranges)
    example = pyfunc.input_example
    if not isinstance(example, pd.DataFrame) or example.empty:
        raise ModelLoadError(f"{uri} has no input example to smoke-test the fast path on")
    model = LoadedModel(
        name=settings.model_name,
        version=str(version),
        alias=settings.model_alias,
        compiled=compiled,
        policy=python_model.policy,
        columns=columns,
        requests=build_request_models(
            columns, settings.batch_limit, example_customer(example[[c.name for c in columns]])
        ),
        tags=dict(details.tags),
        run_id=details.run_id,
    )
    smoke_test(model, python_model, example)
    return model


def one_of_several_workers(settings: Settings) -> bool:
    """Whether other worker processes serve the alias beside this one: as configured
    (``RISKGRADE_WORKERS``) or, unset, whether a supervisor spawned this process (``uvicorn
    --workers N`` starts each worker with ``multiprocessing``; one worker serves in its own)."""
    if settings.workers is not None:
        return settings.workers > 1
    return multiprocessing.parent_process() is not None


def polling_interval(settings: Settings) -> float | None:
    """Seconds between two looks at the alias: as configured; else, when several workers
    serve (a reload request reaches one of them), ``SHARED_RELOAD_INTERVAL_SECONDS``."""
    if settings.reload_interval_seconds is not None:
        return settings.reload_interval_seconds
    return SHARED_RELOAD_INTERVAL_SECONDS if one_of_several_workers(settings) else None


@dataclass
class ReloadOutcome:
    status: str  # reloaded | unchanged | failed | skipped (polling: failed a moment ago)
    previous_version: str
    version: str
    error: str | None = None


class ModelHolder:
    """The model being served, swapped atomically by ``reload``."""

    def __init__(self, settings: Settings, model: LoadedModel) -> None:
        self.settings = settings
        self.current = model
        self.lock = asyncio.Lock()
        self.last_error: str | None = None
        self.failed: tuple[str, float] | None = None  # version that failed to load, when

    def failed_lately(self, version: str, within: float) -> bool:
        return (
            self.failed is not None
            and self.failed[0] == version
            and (time.monotonic() - self.failed[1] < within)
        )

    async def reload(self, force: bool = False, retry_after: float = 0.0) -> ReloadOutcome:
        """Load what the alias points to now; keep the old model if anything fails.

        ``retry_after``: seconds during which a version that failed to load is not tried
        again (polling: a refused version is not downloaded and checked every few seconds).
        """
        async with self.lock:
            previous = self.current.version
            version = None
            try:
                version = await asyncio.to_thread(resolve_alias, self.settings)
                if version == previous and not force:
                    return ReloadOutcome("unchanged", previous, previous)
                if self.failed_lately(version, retry_after):
                    return ReloadOutcome("skipped", previous, previous, self.last_error)
                model = await asyncio.to_thread(load_version, self.settings, version)
            except ModelLoadError as error:
                self.last_error = str(error)
                self.failed = (version or "", time.monotonic())
                log.error("reload failed, still serving version %s: %s", previous, error)
                return ReloadOutcome("failed", previous, previous, str(error))
            self.current = model  # the swap: one reference assignment
            self.last_error, self.failed = None, None
            log.info("now serving %s version %s (was %s)", model.name, model.version, previous)
            return ReloadOutcome("reloaded", previous, model.version)
