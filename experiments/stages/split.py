"""Stage ``split``: train / validation / test parquet files from the validated dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.io import write_parquet
from features.schema import DatasetSchema
from features.splitting import SplitConfig, split_dataset


def run(
    schema: DatasetSchema, config: SplitConfig, seed: int, dataset: Path, out_dir: Path
) -> dict[str, int]:
    parts = split_dataset(pd.read_parquet(dataset), schema, config, seed)
    for name, part in parts.items():
        write_parquet(out_dir / f"{name}.parquet", part)
    return {name: len(part) for name, part in parts.items()}
