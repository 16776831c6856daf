"""Batch scoring runs as portfolio history: store each run with the early-warning alerts raised
against each customer's last scored state (``riskgrade score``), and map alerts back to the
user's own ids in memory (``riskgrade alerts --ids-from``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.io import DEFAULT_TABLE
from features.schema import TableFormat
from models.monitoring.early_warning import AlertConfig, compare_runs
from serving.stores.audit import hash_customer_id
from serving.stores.portfolio import last_states, open_store, record_run


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    n_customers: int
    n_known: int  # customers with an earlier scored state
    alerts: pd.DataFrame


def read_ids(source: Path, id_column: str, table: TableFormat = DEFAULT_TABLE) -> pd.Series:
    """The input's id column, in file order; CSV cells as text (``007`` stays ``007``), read
    with the file's delimiter and encoding (``data.delimiter`` / ``data.encoding``)."""
    if source.suffix.lower() in {".parquet", ".pq"}:
        return pq.read_table(source, columns=[id_column]).column(0).to_pandas()
    options = table.csv_options | {"na_values": [""]}  # an id is missing only when empty
    ids = pd.read_csv(source, usecols=[id_column], dtype={id_column: str}, **options)
    return ids[id_column]


def hashed_ids(
    source: Path, id_column: str, secret: bytes, table: TableFormat = DEFAULT_TABLE
) -> pd.Series:
    """Keyed hashes of the input's ids, in file order (row number = position + 1)."""
    ids = read_ids(source, id_column, table)
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
    table: TableFormat = DEFAULT_TABLE,
) -> RunRecord:
    """Store the run in ``files = (input, scored output)`` with its alerts against each
    customer's last scored state (on the first run: the current state's alerts)."""
    source = files[0]
    scored = scored_with_hashes(files, hashed_ids(source, id_column, secret, table))
    return store_run(audit_url, model, str(source), scored, alert_config)


def record_scored_partitions(
    audit_url: str,
    model: tuple[str, str],
    parts: Sequence[tuple[Path, Path]],
    source: str,
    id_column: str,
    secret: bytes,
    alert_config: AlertConfig,
    table: TableFormat = DEFAULT_TABLE,
) -> RunRecord:
    """Store the partitions ``parts = [(input partition, its scored part), ...]`` as one run
    of ``source`` (the folder or glob): ids must be unique across all partitions."""
    hashes = [hashed_ids(path, id_column, secret, table) for path, _ in parts]
    if pd.concat(hashes, ignore_index=True).duplicated().any():
        raise ValueError(
            f"{source}: id column {id_column!r} must be unique across the partitions to "
            "record a run (the same id is in two of them)"
        )
    scored = pd.concat(
        [scored_with_hashes(files, h) for files, h in zip(parts, hashes, strict=True)],
        ignore_index=True,
    )
    return store_run(audit_url, model, source, scored, alert_config)


def scored_with_hashes(files: tuple[Path, Path], hashes: pd.Series) -> pd.DataFrame:
    """The scored rows of ``files = (input, scored output)`` with their customer's hash (the
    output's ``row_number`` is the record's position in the input)."""
    scored = pd.read_parquet(files[1], columns=["row_number", "pd", "score", "tier"])
    scored["customer_hash"] = hashes.to_numpy()[scored["row_number"].to_numpy() - 1]
    return scored


def store_run(
    audit_url: str,
    model: tuple[str, str],
    source: str,
    scored: pd.DataFrame,
    alert_config: AlertConfig,
) -> RunRecord:
    """Store scored rows with their alerts against each customer's last scored state."""
    engine = open_store(audit_url)
    key = {"customer_hash": "customer_key"}
    current = scored[["customer_hash", "pd", "score", "tier"]].rename(columns=key)
    before = last_states(engine).rename(columns=key)
    found = compare_runs(before, current, alert_config)
    run_id = record_run(engine, model, source, scored, found)
    known = int(current["customer_key"].isin(before["customer_key"]).sum())
    return RunRecord(run_id, len(scored), known, found)


def ids_by_hash(
    source: Path, id_column: str, secret: bytes, table: TableFormat = DEFAULT_TABLE
) -> dict[str, str]:
    """The clear ids of ``source`` by keyed hash, in memory only: read and hashed exactly as a
    recorded run's ids, so each id finds its alerts (``riskgrade alerts --ids-from``)."""
    if not source.is_file():
        raise ValueError(f"{source}: file not found")
    try:
        id_column_of(source, id_column, table)
        ids = read_ids(source, id_column, table).dropna()
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
            pa.ArrowException) as error:  # fmt: skip
        raise ValueError(f"{source}: cannot be read as CSV or Parquet: {error}") from None
    return {hash_customer_id(str(v), secret) or "": str(v) for v in ids}


def id_column_of(source: Path, configured: str | None, table: TableFormat = DEFAULT_TABLE) -> str:
    """The id column to key a run by: the configured one, which must be in the file."""
    if configured is None:
        raise ValueError(
            "recording a scoring run needs customer ids: pass --id-column (or set data.id_column)"
        )
    if source.suffix.lower() == ".csv":
        header = list(
            pd.read_csv(source, nrows=0, sep=table.delimiter, encoding=table.encoding).columns
        )
    else:
        header = pq.read_schema(source).names
    if configured not in header:
        raise ValueError(
            f"{source}: id column {configured!r} not found (columns: {list(header)[:10]})"
        )
    return configured
