"""The digest of a model version's stored files: recorded at registration, checked at load.

A registered version is a directory of files (``MLmodel``, the environment files, the input
example, ``artifacts/pipeline``, ``artifacts/policy``, ``artifacts/background_mean``, and the
code it carries: ``code/models/...``, ``code/features/...``, run where riskgrade is not
installed, so covered like the rest). Bytecode counts like any file: a version is logged
without any, and a ``__pycache__`` that Python wrote into a folder loaded in place changes
the digest (the service checks a fresh download, before loading it). Its
digest is one sha256 over every file, in sorted order of its relative path, each file
contributing its path, its length and its bytes (so moving bytes from one file to the next
changes it). The ``register`` stage records it as the version tag ``DIGEST_TAG``; the service
recomputes it from what it downloads and refuses a version whose files no longer match: the
policy and pipeline a validator approved are the ones that score.

Pure: the caller reads the files (``{relative path: bytes}``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

DIGEST_TAG = "artifacts_sha256"
# MLflow writes this file into every download of a registered version (its name and number):
# it is not something that was logged, and differs between two downloads of the same files.
NOT_LOGGED = frozenset({"registered_model_meta"})


def artifacts_digest(files: Mapping[str, bytes]) -> str:
    """Hex sha256 of a model directory given as ``{'/'-separated relative path: bytes}``."""
    digest = hashlib.sha256()
    for path in sorted(files):
        if path in NOT_LOGGED:
            continue
        content = files[path]
        digest.update(f"{path}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()
