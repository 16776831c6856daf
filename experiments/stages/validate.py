"""Stage ``validate``: check the raw file against its schema; write the typed dataset.

On any contract violation it raises before writing, so DVC never caches invalid data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from experiments.io import file_digest, read_table, write_json, write_parquet
from features.schema import DatasetSchema
from features.validation import validate_dataset


def summarise(frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, Any]:
    """Rows, default rate and per-column missing share: the data section of a report."""
    return {
        "dataset": schema.name,
        "n_rows": len(frame),
        "n_defaults": int(frame[schema.target].sum()),
        "default_rate": float(frame[schema.target].mean()),
        "missing_share": {c: float(frame[c].isna().mean()) for c in schema.features},
    }


def run(
    schema: DatasetSchema, raw_path: Path, output: Path, report: Path, warnings: list[str]
) -> dict[str, Any]:
    """Validate ``raw_path``; write the typed dataset and the summary (with ``warnings``:
    settings that name columns the data does not declare, ``stale_column_references``)."""
    raw = read_table(raw_path, schema.table_format)
    frame = validate_dataset(raw, schema, source=str(raw_path))
    summary = summarise(frame, schema) | {"data_md5": file_digest(raw_path), "warnings": warnings}
    write_parquet(output, frame)
    write_json(report, summary)
    return summary
