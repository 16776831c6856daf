"""Stage ``register``: put the best trained candidate in the Model Registry as ``challenger``.

The candidate is the family with the best validation ROC AUC (the test split is never used
to choose), unless ``registry.candidate`` names one. Its version carries the lineage needed to
rebuild it: git commit, DVC data hash, params hash, run id, and its metrics; and the sha256 of
its stored files (``artifacts_sha256``), which the service checks before it serves them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.io import write_json
from experiments.registry.versions import CHALLENGER, RegistryError, artifacts_digest_tag
from experiments.tracking import setup_mlflow


def params_hash(config: ProjectConfig) -> str:
    """sha256 of the validated configuration (canonical JSON): same hash, same settings."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def choose_candidate(config: ProjectConfig, reports: dict[str, dict[str, Any]]) -> str:
    wanted = config.registry.candidate
    if wanted != "auto":
        if wanted not in reports:
            raise RegistryError(
                f"registry.candidate is {wanted!r} but only {sorted(reports)} were trained "
                "(train.models)"
            )
        return wanted
    return max(reports, key=lambda family: reports[family]["metrics"]["valid"]["roc_auc"])


def version_tags(
    config: ProjectConfig, record: dict[str, Any], run_tags: dict[str, str]
) -> dict[str, str]:
    metrics = record["metrics"]
    tags = {
        key: run_tags.get(key, "unknown")
        for key in ("git_commit", "git_dirty", "data_md5", "dataset_name")
    }
    tags |= {
        "params_hash": params_hash(config),
        "model_family": record["model_family"],
        "run_id": record["run_id"],
    }
    for split in ("valid", "test"):
        for name in ("roc_auc", "gini", "ks", "brier", "log_loss", "pr_auc"):
            tags[f"{split}_{name}"] = f"{metrics[split][name]:.6f}"
    tags["test_calibration_error"] = f"{metrics['test']['calibration_error']:.6f}"
    return tags


def run(
    config: ProjectConfig, artifacts_dir: Path, reports_dir: Path, output: Path, project_dir: Path
) -> dict[str, str]:
    reports: dict[str, dict[str, Any]] = {
        family: json.loads((artifacts_dir / family / "run.json").read_text(encoding="utf-8"))
        | {
            "metrics": json.loads(
                (reports_dir / family / "metrics.json").read_text(encoding="utf-8")
            )
        }
        for family in config.train.models
    }
    family = choose_candidate(config, reports)
    record = reports[family]
    setup_mlflow(config.mlflow, project_dir)
    client = MlflowClient()
    name = config.registry.model_name
    tags = version_tags(config, record, mlflow.get_run(record["run_id"]).data.tags)
    tags |= artifacts_digest_tag(record["model_uri"])  # checked by the service at every load
    version = mlflow.register_model(record["model_uri"], name, tags=tags)
    test = record["metrics"]["test"]
    client.update_model_version(
        name,
        version.version,
        description=(
            f"{family} default model on {tags['dataset_name']} (data md5 {tags['data_md5']}, "
            f"commit {tags['git_commit'][:12]}). Test ROC AUC {test['roc_auc']:.4f}, "
            f"KS {test['ks']:.4f}. Chosen by validation ROC AUC among {sorted(reports)}."
        ),
    )
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    result = {
        "model_name": name,
        "version": str(version.version),
        "model_family": family,
        "run_id": record["run_id"],
    }
    write_json(output, result)
    return result
