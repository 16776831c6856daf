"""The digest of a model version's files (``models.contract.digest``): what changes it and
what does not."""

from __future__ import annotations

import hashlib

import pytest

from models.contract.digest import artifacts_digest

FILES = {
    "MLmodel": b"flavors: {}\n",
    "artifacts/policy": b'{"tiers": {"low_max_pd": 0.15, "medium_max_pd": 0.4}}',
    "artifacts/pipeline": b"\x00skops\x01",
    "requirements.txt": b"riskgrade\n",
}


def test_the_digest_is_a_sha256_independent_of_listing_order() -> None:
    digest = artifacts_digest(FILES)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert artifacts_digest(dict(reversed(FILES.items()))) == digest
    assert digest != hashlib.sha256(b"".join(FILES.values())).hexdigest()


def test_mlflows_download_note_is_not_part_of_the_version() -> None:
    note = {"registered_model_meta": b"model_name: x\nmodel_version: '7'\n"}
    assert artifacts_digest(FILES | note) == artifacts_digest(FILES)


@pytest.mark.parametrize(
    "change",
    [
        {"artifacts/policy": b'{"tiers": {"low_max_pd": 0.95, "medium_max_pd": 0.99}}'},
        {"artifacts/extra": b""},  # a file added, even empty
        {"MLmodel": b"flavors: {}\n", "artifacts/pipeline": b"\x00skops\x01 "},
    ],
    ids=["policy edited", "file added", "one byte more"],
)
def test_any_change_to_the_files_changes_the_digest(change: dict[str, bytes]) -> None:
    assert artifacts_digest(FILES | change) != artifacts_digest(FILES)


def test_removed_renamed_or_shifted_content_changes_the_digest() -> None:
    removed = {k: v for k, v in FILES.items() if k != "requirements.txt"}
    renamed = {k.replace("policy", "policy2"): v for k, v in FILES.items()}
    assert artifacts_digest(removed) != artifacts_digest(FILES)
    assert artifacts_digest(renamed) != artifacts_digest(FILES)
    assert artifacts_digest({"a": b"xy", "b": b"z"}) != artifacts_digest({"a": b"x", "b": b"yz"})
