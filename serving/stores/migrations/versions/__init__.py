"""Alembic revisions of riskgrade's database, one module each, oldest first (``r0001_...``)."""
