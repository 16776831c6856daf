"""The audit and portfolio tables as riskgrade 0.1 created them (those a database lacks).

Revision ID: 0001
Revises:
Create Date: 2026-12-01

A frozen copy of the tables that riskgrade 0.1 created with ``MetaData.create_all`` (the
service: ``decisions`` at start-up; the portfolio store: the other three at its first use),
created the same way, so the DDL is exactly that release's. A database made by that release
has no version table and some or all of these tables: each missing one is created, the
others are kept with their rows, and the database is then at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

RELEASE = sa.MetaData()
sa.Table(
    "decisions",
    RELEASE,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("item", sa.Integer, nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("endpoint", sa.String(16), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False, index=True),
    sa.Column("customer_hash", sa.String(64), nullable=True, index=True),
    sa.Column("pd", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("tier", sa.String(16), nullable=False, index=True),
    sa.Column("reason_codes", sa.JSON, nullable=True),
    sa.Column("unseen_categories", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("caller", sa.String(64), nullable=False),
)
sa.Table(
    "scoring_runs",
    RELEASE,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("source", sa.String(500), nullable=False),
    sa.Column("n_customers", sa.Integer, nullable=False),
)
sa.Table(
    "scored_customers",
    RELEASE,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False, index=True),
    sa.Column("customer_hash", sa.String(64), nullable=False, index=True),
    sa.Column("pd", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
)
sa.Table(
    "alerts",
    RELEASE,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False, index=True),
    sa.Column("previous_run_id", sa.String(36), nullable=True),
    sa.Column("customer_hash", sa.String(64), nullable=False, index=True),
    sa.Column("alert", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False, index=True),
    sa.Column("previous_tier", sa.String(16), nullable=True),
    sa.Column("tier", sa.String(16), nullable=False, index=True),
    sa.Column("previous_score", sa.Integer, nullable=True),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("pd", sa.Float, nullable=False),
    sa.Column("detail", sa.String(200), nullable=False),
)


def upgrade() -> None:
    bind = op.get_bind()
    present = set(sa.inspect(bind).get_table_names())
    for table in RELEASE.sorted_tables:
        if table.name not in present:
            table.create(bind)


def downgrade() -> None:
    raise NotImplementedError("revision 0001 is not undone: that would delete the audit trail")
