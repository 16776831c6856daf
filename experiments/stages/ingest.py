"""Stage ``ingest``: copy the configured source file into ``data/raw/`` after checking it.

``data/raw/`` is DVC-tracked: this stage's output is cached and pushed to the DVC remote, and
its content hash in ``dvc.lock`` is the data version every later run records.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from experiments.io import InputError, file_digest, write_atomic
from features.schema import DatasetSchema


def run(schema: DatasetSchema, output: Path) -> str:
    """Copy ``schema.source`` byte for byte to ``output``; return its sha256.

    When ``data.sha256`` is pinned, a file with other content is refused: the bundled data is
    what published results were measured on.
    """
    source = schema.source
    if not source.is_file():
        raise InputError(
            f"{source}: data source not found; set data.source in params.yaml to your CSV or "
            "Parquet file"
        )
    sha256 = file_digest(source, "sha256")
    if schema.sha256 and sha256 != schema.sha256:
        raise InputError(
            f"{source}: sha256 is {sha256} but params.yaml pins data.sha256 = {schema.sha256}. "
            "If you changed the data on purpose, update data.sha256 (or set it to null)."
        )
    write_atomic(output, lambda tmp: shutil.copyfile(source, tmp))
    return sha256
