"""Batch scoring runs as portfolio history: store each run, compare it with the previous one,
store the early-warning alerts (``riskgrade score``, ``riskgrade alerts``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from models.monitoring.early_warning import AlertConfig, compare_runs
from serving.stores.audit import hash_customer_id
from serving.stores.portfolio import load_run, open_store, previous_run_id, record_run, store_alerts


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    previous_run_id: str | None
    n_customers: int
    alerts: pd.DataFrame


def hashed_ids(source: Path, id_column: str, secret: bytes) -> pd.Series:
    """Keyed hashes of the input's ids, in file order (row number = position + 1)."""
    if source.suffix.lower() in {".parquet", ".pq"}:
        ids = pq.read_table(source, columns=[id_column]).column(0).to_pandas()
    else:
        ids = pd.read_csv(source, usecols=[id_column], dtype={id_column: str})[id_column]
    if ids.isna().any() or ids.duplicated().any():
        raise ValueError(
            f"{source}: id column {id_column!r} must be unique and never empty to record a run"
        )
    return pd.Series([hash_customer_id(str(v), secret) for v in ids], dtype=object)


def record_scored_file(
    audit_url: str,
    model: tuple[str, str],
    files: tuple[Path, Path],
    id_column: str,
    secret: bytes,
    alert_config: AlertConfig,
) -> RunRecord:
    """Store the run in ``files = (input, scored output)`` and its alerts against the last run."""
    source, output = files
    scored = pd.read_parquet(output, columns=["row_number", "pd", "score", "tier"])
    hashes = hashed_ids(source, id_column, secret)
    scored["customer_hash"] = hashes.to_numpy()[scored["row_number"].to_numpy() - 1]
    engine = open_store(audit_url)
    run_id = record_run(engine, model, str(source), scored)
    previous = previous_run_id(engine, run_id)
    found = pd.DataFrame()
    if previous is not None:
        current = scored.rename(columns={"customer_hash": "customer_key"})
        before = load_run(engine, previous).rename(columns={"customer_hash": "customer_key"})
        found = compare_runs(before, current[["customer_key", "pd", "score", "tier"]], alert_config)
        store_alerts(engine, run_id, previous, found)
    return RunRecord(run_id, previous, len(scored), found)


def id_column_of(source: Path, configured: str | None) -> str:
    """The id column to key a run by: the configured one, which must be in the file."""
    if configured is None:
        raise ValueError(
            "recording a scoring run needs customer ids: pass --id-column (or set data.id_column)"
        )
    if source.suffix.lower() == ".csv":
        header = list(pd.read_csv(source, nrows=0).columns)
    else:
        header = pq.read_schema(source).names
    if configured not in header:
        raise ValueError(
            f"{source}: id column {configured!r} not found (columns: {list(header)[:10]})"
        )
    return configured
