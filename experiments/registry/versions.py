"""MLflow Model Registry: register candidates, gate promotions, keep a decision history.

Aliases, not the deprecated stages: ``challenger`` is the latest registered candidate,
``champion`` the version that serves (``models:/<name>@champion``). MLflow keeps no history of
alias moves, so every decision (promotion, refusal, forced promotion, rollback) is recorded
twice: as a tag on the model version and as an immutable run in the experiment
``<name>-decisions`` -- the append-only history that ``riskgrade history`` prints.
"""

from __future__ import annotations

import getpass
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from experiments.registry.signature import predict_checked
from features.schema import DatasetSchema
from models.contract.digest import DIGEST_TAG, artifacts_digest
from models.evaluation.fairness import FairnessConfig, review_fairness
from models.evaluation.metrics import (
    calibration_table,
    compute_metrics,
    expected_calibration_error,
)
from models.governance.gate import (
    Criterion,
    GateConfig,
    Measurements,
    calibration_measurements,
    evaluate_gate,
    fairness_measurements,
    psi_noise_bound,
)
from models.monitoring.stability import score_psi

CHAMPION, CHALLENGER = "champion", "challenger"
PROMOTING_ACTIONS = {"promoted", "forced"}


class RegistryError(ValueError):
    """A registry operation cannot proceed; the message says why and what to do."""


@dataclass(frozen=True)
class Decision:
    action: str  # promoted | refused | forced | rolled_back
    model_name: str
    from_version: str | None
    to_version: str
    user: str
    reason: str
    criteria: list[Criterion]
    time: str

    def summary(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "user": self.user,
            "reason": self.reason,
            "time": self.time,
            "criteria": [c.to_dict() for c in self.criteria],
        }


def current_user() -> str:
    return os.environ.get("RISKGRADE_USER") or getpass.getuser()


def artifacts_digest_tag(model_uri: str) -> dict[str, str]:
    """The version tag recording the sha256 of a logged model's stored files, to register the
    version with: the service recomputes it at every load and refuses files that changed."""
    from serving.scoring.model_store import download_version, read_files

    with tempfile.TemporaryDirectory(prefix="riskgrade-digest-") as tmp:
        files = read_files(download_version(model_uri, Path(tmp)))
    return {DIGEST_TAG: artifacts_digest(files)}


def version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def resolve_version(client: MlflowClient, name: str, ref: str | None) -> ModelVersion:
    """A version number, an alias, or (``None``) the challenger."""
    ref = ref or CHALLENGER
    try:
        if ref.isdigit():
            return client.get_model_version(name, ref)
        return client.get_model_version_by_alias(name, ref)
    except MlflowException:
        raise RegistryError(
            f"model {name!r} has no version or alias {ref!r}; run `dvc repro` (register stage) "
            "or check `riskgrade history`"
        ) from None


def split_file(split_dir: Path | None, part: str) -> str:
    return f"the {part} split" if split_dir is None else str(split_dir / f"{part}.parquet")


def measure(
    model_uri: str,
    schema: DatasetSchema,
    train: pd.DataFrame,
    test: pd.DataFrame,
    calibration_alpha: float = 0.05,
    split_dir: Path | None = None,
    fairness: FairnessConfig | None = None,
) -> Measurements:
    """Gate inputs for one model on the given data: test AUC, KS, calibration (ECE and the
    validator's tests, per grade where the version has grades); score PSI train vs test
    (``models.monitoring.stability.score_psi``) and the PSI that sampling noise alone reaches;
    the fairness review's figures when ``schema`` declares protected attributes.
    A split that does not fit the version's signature is a ``SignatureError`` naming the
    column and the file (in ``split_dir``)."""
    model = mlflow.pyfunc.load_model(model_uri)
    no_reasons = {"reason_codes": 0}  # the gate needs scores only
    name, _, number = model_uri.removeprefix("models:/").rpartition("/")
    version = f"version {number} of {name!r}"
    scored_test, scored_train = (
        predict_checked(model, frame[schema.features], (source, version), no_reasons)
        for source, frame in (
            (split_file(split_dir, "test"), test),
            (split_file(split_dir, "train"), train),
        )
    )
    y = test[schema.target].to_numpy()
    metrics = compute_metrics(y, scored_test["pd"].to_numpy())
    calibration = expected_calibration_error(calibration_table(y, scored_test["pd"].to_numpy()))
    psi = score_psi(scored_train, scored_test)
    noise = psi_noise_bound(len(scored_train), len(scored_test), calibration_alpha)
    pd_ = scored_test["pd"].to_numpy()
    grades = scored_test["grade"].to_numpy() if "grade" in scored_test else None
    tests = calibration_measurements(y, pd_, grades, calibration_alpha)
    if schema.protected:
        missing = [c for c in schema.protected if c not in test.columns]
        if missing:
            raise RegistryError(
                f"{split_file(split_dir, 'test')}: no column {missing} (data.protected); "
                "rerun `dvc repro split`"
            )
        review = review_fairness(
            test[list(schema.protected)], y, pd_, scored_test["tier"], fairness, calibration_alpha
        )
        tests |= fairness_measurements(review)
    return Measurements(
        metrics["roc_auc"], metrics["ks"], calibration, psi, score_psi_noise=noise, **tests
    )


def record_decision(client: MlflowClient, decision: Decision) -> None:
    """Write the decision as a version tag and as an immutable run in the decisions log."""
    summary = decision.summary()
    tag_key = "decision." + "".join(ch for ch in decision.time if ch.isalnum() or ch == ".")
    client.set_model_version_tag(
        decision.model_name, decision.to_version, tag_key, json.dumps(summary)
    )
    client.set_model_version_tag(
        decision.model_name, decision.to_version, "last_decision", decision.action
    )
    experiment = f"{decision.model_name}-decisions"
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    tags = {k: "" if v is None else str(v) for k, v in summary.items() if k != "criteria"}
    tags |= {"model_name": decision.model_name, "criteria": json.dumps(summary["criteria"])}
    run = client.create_run(
        experiment_id, tags=tags, run_name=f"{decision.action} v{decision.to_version}"
    )
    client.set_terminated(run.info.run_id)


def read_history(client: MlflowClient, name: str) -> list[dict[str, Any]]:
    """Every recorded decision for ``name``, oldest first."""
    found = client.get_experiment_by_name(f"{name}-decisions")
    if found is None:
        return []
    runs = client.search_runs(
        [found.experiment_id], order_by=["attributes.start_time ASC"], max_results=10000
    )
    return [dict(run.data.tags) for run in runs]


def champion_stack(history: list[dict[str, Any]]) -> list[str]:
    """Champion versions in order: promotions push, rollbacks pop back to the previous one."""
    stack: list[str] = []
    for entry in history:
        if entry.get("action") in PROMOTING_ACTIONS:
            stack.append(entry["to_version"])
        elif entry.get("action") == "rolled_back" and stack:
            stack.pop()
    return stack


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def promote(
    client: MlflowClient,
    name: str,
    candidate: ModelVersion,
    measured: tuple[Measurements, Measurements | None],
    gate: GateConfig,
    force_reason: str | None,
    fairness: FairnessConfig | None = None,
) -> Decision:
    """Apply the gate (with the fairness thresholds ``fairness`` sets); move ``champion`` when
    it passes (or is forced with a reason)."""
    champion = version_by_alias(client, name, CHAMPION)
    if champion is not None and str(champion.version) == str(candidate.version):
        raise RegistryError(f"version {candidate.version} of {name!r} is already the champion")
    criteria = evaluate_gate(measured[0], measured[1], gate, fairness)
    passed = all(c.passed for c in criteria)
    action = "promoted" if passed else ("forced" if force_reason else "refused")
    reason = force_reason or ("all criteria passed" if passed else "gate refused")
    decision = Decision(
        action,
        name,
        str(champion.version) if champion else None,
        str(candidate.version),
        current_user(),
        reason,
        criteria,
        now(),
    )
    record_decision(client, decision)  # first: an alias never moves without a record
    if action != "refused":
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
    return decision


def rollback(client: MlflowClient, name: str, reason: str) -> Decision:
    """Point ``champion`` back at the version it had before the current one."""
    stack = champion_stack(read_history(client, name))
    if len(stack) < 2:
        raise RegistryError(f"model {name!r} has no previous champion to roll back to")
    current, previous = stack[-1], stack[-2]
    decision = Decision("rolled_back", name, current, previous, current_user(), reason, [], now())
    record_decision(client, decision)
    client.set_registered_model_alias(name, CHAMPION, previous)
    return decision


def load_split(split_dir: Path, name: str) -> pd.DataFrame:
    path = split_dir / f"{name}.parquet"
    if not path.is_file():
        raise RegistryError(f"{path}: split not found; run `dvc repro split` first")
    return pd.read_parquet(path)
