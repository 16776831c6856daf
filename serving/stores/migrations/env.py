"""Alembic's environment for riskgrade's database (the audit trail and the portfolio store).

``serving.stores.schema_version`` runs it with the connection it holds, inside its transaction
that holds the schema lock (``config.attributes["connection"]``), and with a callback that
hears of each revision applied (``config.attributes["on_version_apply"]``). Run any other way
(Alembic's own commands, from a checkout), it connects with riskgrade's engine factory to
``RISKGRADE_AUDIT_URL``. Both stores' metadata is the target, and the
version is kept in ``riskgrade_schema_version``, not in ``alembic_version``: MLflow's and
Optuna's stores use that name and may live in the same database.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from serving.stores.engine import VARIABLE, make_engine
from serving.stores.migrations import target_metadata
from serving.stores.schema_version import VERSION_TABLE

DEFAULT_URL = "sqlite:///riskgrade-audit.db"  # the service's default (serving.settings)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        version_table=VERSION_TABLE,
        on_version_apply=context.config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        run_migrations(given)
        return
    engine = make_engine(os.environ.get(VARIABLE, DEFAULT_URL))
    try:
        with engine.connect() as connection:
            run_migrations(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    # Revision 0001 looks at the tables a database has: there is no SQL script without one.
    raise SystemExit("riskgrade's migrations run against a database, not as SQL scripts")
run_online()
