"""``riskgrade report``: the validation report of one registered model version.

Loads the version (``models:/<name>/<version>``, the pyfunc ``CreditRiskModel``), scores the
train / valid / test splits through it, adds the data summary, the run's params and lineage,
the fairness review of the protected groups (``data.protected``, test split), the comparison
with the current champion and the promotion-gate verdict (measured exactly as
``riskgrade promote`` measures it), then writes the HTML and JSON and logs both, with the SHAP
figures, to the version's source run (artifact path ``validation_report``). The version gets
the tag ``validation_report`` = the HTML's ``runs:/`` URI.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.io import InputError
from experiments.registry.refs import parse_model_ref, version_uri
from experiments.registry.versions import (
    CHAMPION,
    load_split,
    measure,
    resolve_version,
    version_by_alias,
)
from experiments.reports.explain import build_explanations
from experiments.reports.fairness import fairness_review, fairness_section, plot_fairness
from experiments.reports.html import figure_png
from experiments.reports.sections import (
    HELD_OUT,
    SPLITS,
    ReportContent,
    build_performance,
    comparison_section,
    metrics_section,
    records,
    score_splits,
)
from experiments.reports.summary import summary_section
from features.schema import DatasetSchema
from models.contract.pyfunc import CreditRiskModel
from models.explain.additive import split_pipeline
from models.families.registry import family_of
from models.governance.gate import evaluate_gate

ARTIFACT_PATH = "validation_report"
HTML_NAME, JSON_NAME = "validation_report.html", "validation_report.json"
LINEAGE_TAGS = ("git_commit", "git_dirty", "dataset_name", "data_md5", "params_hash", "run_id")


class ReportError(ValueError):
    """The report cannot be built; the message says why and what to do."""


def choose_ref(ref: str | None, registered: Path | None) -> str:
    """The version to report: ``ref`` as given, or the one in ``registered.json``."""
    if ref is not None and registered is None:
        return ref
    if ref is None and registered is not None:
        return ref_from_registered(registered)
    raise ReportError(
        "report: give either a version (e.g. riskgrade-credit/3) or --registered "
        "<registered.json>, not both or neither"
    )


def ref_from_registered(path: Path) -> str:
    """``<name>/<version>`` of the version the register stage wrote to ``registered.json``."""
    if not path.is_file():
        raise InputError(f"{path}: not found; run `dvc repro register` first")
    record = json.loads(path.read_text(encoding="utf-8"))
    if not {"model_name", "version"} <= set(record):
        raise InputError(f"{path}: expected the keys model_name and version (register stage)")
    return f"{record['model_name']}/{record['version']}"


def load_contract(uri: str) -> CreditRiskModel:
    """The version's ``CreditRiskModel`` (pipeline, scoring policy, background mean)."""
    model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    if not isinstance(model, CreditRiskModel):
        raise ReportError(f"{uri} is a {type(model).__name__}, not a riskgrade CreditRiskModel")
    return model


def estimator_name(model: CreditRiskModel) -> str:
    """Class name of the pipeline's final estimator, e.g. ``LGBMClassifier``."""
    if model.pipeline is None:
        raise ReportError("report: the model version was not loaded (no pipeline)")
    return type(split_pipeline(model.pipeline)[1]).__name__


def data_section(data_report: Path, schema: DatasetSchema, splits: dict[str, Any]) -> dict:
    """Rows, defaults, default rate and DVC data hash (validate stage) plus the split sizes."""
    if not data_report.is_file():
        raise InputError(f"{data_report}: data summary not found; run `dvc repro validate`")
    summary = json.loads(data_report.read_text(encoding="utf-8"))
    keys = ("dataset", "n_rows", "n_defaults", "default_rate", "data_md5")
    return {key: summary.get(key) for key in keys} | {
        "splits": {
            name: {
                "n_rows": len(frame),
                "n_defaults": int(frame[schema.target].sum()),
                "default_rate": float(frame[schema.target].mean()),
            }
            for name, frame in splits.items()
        }
    }


def model_section(client: MlflowClient, version: ModelVersion, model: CreditRiskModel) -> dict:
    """Family, run params, lineage tags and scoring policy of the version."""
    params = dict(client.get_run(str(version.run_id)).data.params)
    family = version.tags.get("model_family") or params.get("model_family")
    policy = model.policy.model_dump(mode="json") if model.policy is not None else {}
    return {
        "family": family or estimator_name(model),
        "estimator": estimator_name(model),
        "params": dict(sorted(params.items())),
        "lineage": {key: version.tags.get(key, "unknown") for key in LINEAGE_TAGS},
        "scaling": policy.get("scaling", {}),
        "tier_cutoffs": policy.get("tiers", {}),
        "calibration": policy.get("calibration")
        or {"method": "none (registered before calibration)"},
        "master_scale": (
            []
            if model.policy is None or model.policy.grades is None
            else model.policy.grades.bands()
        ),
        "tables": family_tables(model),
    }


def family_tables(model: CreditRiskModel) -> dict[str, list[dict[str, Any]]]:
    """The family's own tables of this version (a scorecard's points per attribute)."""
    if model.pipeline is None or model.policy is None:
        return {}
    tables = family_of(model.pipeline).tables
    found = tables(model.pipeline, model.policy.scaling) if tables is not None else {}
    return {name: records(table) for name, table in found.items()}


def champion_and_gate(
    client: MlflowClient,
    config: ProjectConfig,
    version: ModelVersion,
    splits: dict[str, Any],
    candidate_metrics: dict[str, dict[str, float]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Side-by-side test metrics with the champion (if another version is champion) and the
    promotion gate's verdict, both models measured now on the same test split."""
    name, schema = version.name, config.data
    train, test = splits["train"], splits[HELD_OUT]
    alpha = config.promotion.calibration_alpha
    fairness = config.fairness
    measured = measure(
        version_uri(name, version.version), schema, train, test, alpha, fairness=fairness
    )
    champion = version_by_alias(client, name, CHAMPION)
    section: dict[str, Any] = {"status": "none", "version": None, "split": HELD_OUT}
    measured_champion = None
    if champion is not None and str(champion.version) == str(version.version):
        section |= {"status": "self", "version": str(champion.version)}
    elif champion is not None:
        uri = version_uri(name, champion.version)
        contract = load_contract(uri)
        scored = score_splits(contract, schema, {HELD_OUT: test})
        section |= {
            "status": "compared",
            "version": str(champion.version),
            "model_family": champion.tags.get("model_family") or estimator_name(contract),
            "metrics": comparison_section(candidate_metrics, metrics_section(scored)),
        }
        measured_champion = measure(uri, schema, train, test, alpha, fairness=fairness)
    criteria = evaluate_gate(measured, measured_champion, config.promotion, fairness)
    gate = {
        "passed": all(c.passed for c in criteria),
        "champion_version": section["version"] if measured_champion else None,
        "criteria": [c.to_dict() for c in criteria],
    }
    return section, gate


def build_report(
    config: ProjectConfig, ref: str, split_dir: Path, data_report: Path, n_examples: int
) -> tuple[dict[str, Any], dict[str, bytes], ModelVersion]:
    """Numbers (the JSON), figures (name -> PNG) and the version. MLflow must be set up."""
    client = MlflowClient()
    name, wanted = parse_model_ref(ref)
    version = resolve_version(client, name, wanted)
    model = load_contract(version_uri(name, version.version))
    splits = {split: load_split(split_dir, split) for split in SPLITS}
    data = data_section(data_report, config.data, splits)  # before the slow part: fail fast
    alpha = config.promotion.calibration_alpha
    content, scored = build_performance(model, config.data, splits, alpha, config.monitoring)
    build_explanations(model, scored[HELD_OUT], content, n_examples, config.seed)
    test = scored[HELD_OUT]
    review = fairness_review(
        config.data, splits[HELD_OUT], test.y, test.scored, config.fairness, alpha
    )
    content.numbers["fairness"] = fairness_section(review, config.data, HELD_OUT)
    if review is not None:
        content.figures["fairness"] = plot_fairness(review)
    champion, gate = champion_and_gate(client, config, version, splits, content.numbers["metrics"])
    numbers = header(version) | content.numbers
    numbers |= {
        "data": data,
        "model": model_section(client, version, model),
        "champion": champion,
        "gate": gate,
    }
    numbers["summary"] = summary_section(numbers)
    return numbers, render_figures(content), version


def header(version: ModelVersion) -> dict[str, Any]:
    """Which version, which run, when, by which riskgrade."""
    return {
        "report": {
            "model_name": version.name,
            "version": str(version.version),
            "aliases": sorted(getattr(version, "aliases", []) or []),
            "run_id": version.run_id,
            "model_uri": version_uri(version.name, version.version),
            "mlflow_uri": report_uri(version),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "riskgrade_version": package_version("riskgrade"),
        }
    }


def report_uri(version: ModelVersion) -> str:
    """Where the HTML is logged: the version's source run, under ``validation_report/``."""
    return f"runs:/{version.run_id}/{ARTIFACT_PATH}/{HTML_NAME}"


def render_figures(content: ReportContent) -> dict[str, bytes]:
    """Every figure as PNG bytes (rendered once, embedded in the HTML and logged)."""
    return {name: figure_png(figure) for name, figure in content.figures.items()}
