"""``riskgrade customer-report``: one customer's score, strategy, reasons, next steps, history.

One HTML + JSON pair per customer, named by the keyed hash of the id (``<hash>.html``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from experiments.config import ProjectConfig
from experiments.io import DEFAULT_TABLE, read_table, write_atomic, write_json
from experiments.registry.refs import parse_model_ref, version_uri
from experiments.registry.versions import resolve_version
from experiments.tracking import setup_mlflow
from features.schema import TableFormat
from models.contract.pyfunc import CreditRiskModel
from models.customers.improvement import known_categories, suggest_improvements
from models.customers.report import build_customer_report, render_html
from serving.stores.audit import hash_customer_id
from serving.stores.portfolio import customer_history, open_store


def find_customer(
    source: Path, id_column: str, customer_id: str, table: TableFormat = DEFAULT_TABLE
) -> pd.Series:
    frame = read_table(source, table)
    if id_column not in frame.columns:
        raise ValueError(f"{source}: id column {id_column!r} not found; pass --id-column")
    matches = frame[frame[id_column].astype(str) == customer_id]
    if matches.empty:
        raise ValueError(f"{source}: no customer with {id_column} = {customer_id!r}")
    return matches.iloc[-1]


def build(
    config: ProjectConfig,
    model_ref: str,
    customer: pd.Series,
    history: list[dict[str, Any]],
    project_dir: Path,
) -> dict[str, Any]:
    setup_mlflow(config.mlflow, project_dir)
    name, ref = parse_model_ref(model_ref, config.registry.model_name)
    version = resolve_version(MlflowClient(), name, ref)
    model: CreditRiskModel = mlflow.pyfunc.load_model(
        version_uri(name, version.version)
    ).unwrap_python_model()
    assert model.pipeline is not None and model.policy is not None
    schema, policy, pipeline = config.data, model.policy, model.pipeline
    row = customer[schema.features].to_frame().T.infer_objects()
    scored = model.score(row, policy.reasons.top_k).iloc[0]
    improvements = suggest_improvements(
        lambda X: pipeline.predict_proba(X)[:, 1],
        customer,
        schema,
        known_categories(pipeline, schema),
        policy,
        config.customer_report.actionable,
    )
    strategy = policy.strategies.for_tier(str(scored["tier"]))
    return build_customer_report(
        {str(k): v for k, v in scored.items()},
        json.loads(scored["reasons"]),
        strategy,
        improvements,
        history,
        f"{name}/{version.version}",
    )


def run(
    config: ProjectConfig,
    model_ref: str,
    source: Path,
    customer_id: tuple[str, str],
    audit_url: str,
    secret: bytes,
    out_dir: Path,
    project_dir: Path,
) -> tuple[dict[str, Any], Path]:
    """Write ``<out_dir>/<key>.html`` and ``.json`` for one customer; return the report and the
    page's path. ``key`` is the keyed hash of the id that the audit trail uses, so one file per
    customer and no clear id is written, not even in a file name."""
    id_column, value = customer_id
    customer = find_customer(source, id_column, value, config.data.table_format)
    key = str(hash_customer_id(value, secret))
    history = customer_history(open_store(audit_url), key)
    report = build(config, model_ref, customer, history, project_dir) | {"customer_hash": key}
    write_json(out_dir / f"{key}.json", report)
    page, html = render_html(report), out_dir / f"{key}.html"
    write_atomic(html, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return report, html
