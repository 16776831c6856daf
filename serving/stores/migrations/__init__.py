"""Alembic migrations of riskgrade's database: the audit trail and the portfolio store.

A Python package (so the wheel ships ``env.py`` and ``versions/``); Alembic is configured in
code by ``serving.stores.schema_version`` (no ``alembic.ini``). Revisions are numbered
(``0001``, ``0002``, ...) and record the version in ``riskgrade_schema_version``.

A new revision is a module ``versions/r<NNNN>_<what>.py`` written by hand on the model of
``r0002`` (``revision``, ``down_revision``, ``upgrade``, ``downgrade``; its docstring's first
line is what ``riskgrade db upgrade`` prints), together with the change to the tables in
``serving/stores/audit.py`` or ``portfolio.py``: ``tests/serving/test_migrations.py`` fails,
listing Alembic's differences, until the migrated schema equals those tables.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData

LOCATION = Path(__file__).parent


def target_metadata() -> list[MetaData]:
    """The tables riskgrade's code expects, as its stores declare them (both stores)."""
    from serving.stores import audit, portfolio

    return [audit.metadata, portfolio.metadata]
