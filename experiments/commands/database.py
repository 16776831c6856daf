"""Database commands: ``riskgrade db current`` and ``riskgrade db upgrade``.

The database is the one ``RISKGRADE_AUDIT_URL`` names (audit trail and portfolio store), read
from the environment and params.yaml as ``riskgrade audit`` reads it; its URL is shown
without its password. The schema rule itself is ``serving.stores.schema_version``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from experiments.cli import ParamsOption, ProjectOption, app, fail
from experiments.commands.serving import service_settings, store_problem

db = typer.Typer(
    help="The schema of the audit and portfolio database (RISKGRADE_AUDIT_URL).",
    no_args_is_help=True,
)
app.add_typer(db, name="db")


@db.command()
def current(
    params: ParamsOption = Path("params.yaml"), project_dir: ProjectOption = Path(".")
) -> None:
    """Show the database's schema revision and the one this riskgrade needs."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.settings import shown_url
    from serving.stores import schema_version

    settings = service_settings(params, project_dir)
    where = f"database {shown_url(settings.audit_url)}"
    head = schema_version.head_revision()
    file = missing_sqlite_file(settings.audit_url)
    if file is not None:
        typer.echo(
            f"{where}: no file at {file} yet; the service, `riskgrade score` and `riskgrade "
            f"db upgrade` create it at revision {head}"
        )
        return
    try:
        state = schema_version.current_state(settings.audit_url)
    except (SQLAlchemyError, ValueError, ImportError) as error:
        fail(store_problem("database", settings, error))
    if state.revision is None:
        typer.echo(f"{where}: {state.describe()}; created at revision {head} when first opened")
        return
    problem = schema_version.refusal(state, head, schema_version.known_revisions())
    typer.echo(f"{where}: {problem or f'{state.describe()}; up to date (the head)'}")


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when there is none (None: another database, or a file
    that exists, or a URL the engine factory refuses in its own words)."""
    from serving.stores.engine import sqlite_file

    try:
        file = sqlite_file(url)
    except ValueError:
        return None
    return file if file is not None and not file.exists() else None


@db.command()
def upgrade(
    params: ParamsOption = Path("params.yaml"), project_dir: ProjectOption = Path(".")
) -> None:
    """Upgrade the database's schema to the revision this riskgrade needs.

    An empty database is created; riskgrade 0.1's tables are kept with their rows. Run it
    before starting a new version of the service, which refuses an out-of-date schema."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.settings import shown_url
    from serving.stores.schema_version import head_revision
    from serving.stores.schema_version import upgrade as upgrade_schema

    settings = service_settings(params, project_dir)
    where = f"database {shown_url(settings.audit_url)}"
    typer.echo(f"{where}: upgrading the schema to revision {head_revision()}, the head")

    def applied(revision: str, what: str, seconds: float) -> None:
        typer.echo(f"  applied {revision} in {seconds:.2f} s: {what}")

    try:
        before, after = upgrade_schema(settings.audit_url, applied)
    except (SQLAlchemyError, ValueError, ImportError) as error:
        fail(store_problem("database", settings, error))
    if before == after:
        typer.echo(f"{where}: already at {after.describe()}; nothing to do")
    else:
        typer.echo(f"{where}: upgraded from {before.describe()} to {after.describe()}")
