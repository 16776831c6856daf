"""decisions: one index for a customer's decisions, newest first (customer_hash, decided_at, id).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

The customer report pages through a customer's decisions newest first
(``serving.stores.audit.customer_decisions``: ``customer_hash = ?`` ordered by ``decided_at``
and ``id``, keyset paging). With the index on ``customer_hash`` alone, every page read and
sorted all of that customer's decisions; this index returns a page in its order, so a page
deep in a long history costs what the first one does. It replaces that index, of which it is
a prefix: one index less for the writer to maintain on every decision. Building it reads the
whole ``decisions`` table and blocks decision writes meanwhile: upgrade before starting the
service.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_decisions_customer_history", "decisions", ["customer_hash", "decided_at", "id"]
    )
    op.drop_index("ix_decisions_customer_hash", table_name="decisions")


def downgrade() -> None:
    op.create_index("ix_decisions_customer_hash", "decisions", ["customer_hash"])
    op.drop_index("ix_decisions_customer_history", table_name="decisions")
