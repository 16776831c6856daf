"""Where Optuna studies live: the default journal file, a database URL, and their checks.

Order of precedence: the ``RISKGRADE_OPTUNA_STORAGE`` environment variable, then
``tune.storage`` in ``params.yaml``, then the journal file ``data/studies/riskgrade.journal``
(git-ignored). A journal file is safe for several processes on one machine (appends under a
file lock); several machines need a database server (PostgreSQL, MySQL). SQLite is refused for
parallel workers: it allows one writer at a time, so workers fail with "database is locked".

A database URL opens Optuna's ``RDBStorage`` with connections checked before use (a server
that dropped one between two trials costs nothing), ``postgresql://`` meaning riskgrade's
driver (psycopg 3, the ``postgres`` extra), and the race of several machines creating the
tables of a new database retried; a server that cannot be reached is one line, not a
traceback.

Nothing here imports Optuna at module level, so ``params.yaml`` validation stays light.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STORAGE_ENV = "RISKGRADE_OPTUNA_STORAGE"
DEFAULT_JOURNAL = Path("data/studies/riskgrade.journal")
JOURNAL_SUFFIXES = (".journal", ".log")
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")
OPEN_ATTEMPTS = 3  # machines starting together on a new database race to create its tables
CONNECT_TIMEOUT_SECONDS = 10
EXPECTED = (
    "expected a database URL (postgresql://user:password@host/db, mysql+pymysql://..., "
    "sqlite:///studies.db) or a journal file path ending in .journal"
)


def mask_password(storage: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", storage)


def is_database_url(storage: str) -> bool:
    return "://" in storage


def is_sqlite(storage: str) -> bool:
    return storage.startswith("sqlite:")


def check_storage_value(storage: str) -> str:
    """Return ``storage`` if it is a known database URL or a journal file path.

    Raises ``ValueError`` saying what was expected; the caller names the setting. Passwords
    never appear in the message.
    """
    shown = mask_password(storage)
    if not storage.strip() or storage != storage.strip():
        raise ValueError(f"{shown!r} is empty or has surrounding spaces; {EXPECTED}")
    if is_database_url(storage):
        scheme = storage.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(f"{shown!r} has unknown database scheme {scheme!r}; {EXPECTED}")
        if scheme == "sqlite" and not storage.startswith("sqlite:///"):
            raise ValueError(f"{shown!r} names no SQLite file; {EXPECTED}")
        return storage
    if not storage.endswith(JOURNAL_SUFFIXES):
        raise ValueError(f"{shown!r} is neither a database URL nor a journal file; {EXPECTED}")
    return storage


def resolve_storage(
    configured: str | None, project_dir: Path, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The storage to use and the setting it came from (for error messages).

    Relative journal paths and relative SQLite paths are resolved against ``project_dir``,
    so DVC (run from the project root) and a user in a sub-folder open the same study.
    """
    if environ.get(STORAGE_ENV):
        source, value = STORAGE_ENV, environ[STORAGE_ENV]
        try:
            check_storage_value(value)
        except ValueError as error:
            raise ValueError(f"{STORAGE_ENV}: {error}") from None
    elif configured is not None:
        source, value = "tune.storage", configured
    else:
        source, value = "tune.storage (default)", str(DEFAULT_JOURNAL)
    if is_sqlite(value) and not value.startswith("sqlite:////"):
        value = "sqlite:///" + str((project_dir / value[len("sqlite:///") :]).resolve())
    elif not is_database_url(value):
        value = str((project_dir / value).resolve())
    return value, source


def check_workers(storage: str, workers: int, source: str) -> None:
    """Refuse storages that parallel workers would corrupt or lock."""
    if workers > 1 and is_sqlite(storage):
        raise ValueError(
            f"{source} is an SQLite database ({mask_password(storage)}), which is not safe for "
            f"--workers {workers}: SQLite lets one process write at a time, so parallel workers "
            "fail with 'database is locked' (Optuna's documentation warns against it). Use the "
            f"default journal file (unset {source.split(' ')[0]}) or a journal path ending in "
            ".journal on one machine, or PostgreSQL (postgresql://user:password@host/db) "
            "for several machines."
        )


def open_storage(storage: str) -> Any:
    """An Optuna storage object: ``JournalStorage`` for a file path, ``RDBStorage`` for a
    database URL (``open_database``)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if is_database_url(storage):
        return open_database(storage)
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(storage))


def driver_url(storage: str) -> str:
    """``postgresql://...`` as ``postgresql+psycopg://...``: the driver riskgrade installs
    (``pip install 'riskgrade[postgres]'``); SQLAlchemy 2.0 would look for psycopg2. A URL
    naming its driver is left as it is."""
    if storage.startswith("postgresql://"):
        return "postgresql+psycopg://" + storage[len("postgresql://") :]
    return storage


def open_database(storage: str) -> Any:
    """Optuna's ``RDBStorage`` on the database URL ``storage``.

    Several machines started at once on a new database race to create Optuna's tables (the
    losers see "already exists" or a duplicate key); a later attempt finds them. A failure of
    every attempt (server unreachable, bad credentials) is a ``ValueError`` in one line, the
    password masked.
    """
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import SQLAlchemyError

    url = driver_url(storage)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    failure: Exception = RuntimeError("not attempted")
    for attempt in range(OPEN_ATTEMPTS):
        if attempt:
            time.sleep(0.2 * attempt)
        try:
            return RDBStorage(url, engine_kwargs=options)
        except SQLAlchemyError as error:
            failure = error
    cause = getattr(failure, "orig", None) or failure
    line = (str(cause).strip().splitlines() or [""])[0][:200]
    password = re.search(r"://[^/:@]*:([^@/]*)@", storage)
    if password and password.group(1):
        line = line.replace(password.group(1), "***")
    raise ValueError(
        f"Optuna storage {mask_password(storage)!r} cannot be opened ({type(cause).__name__}: "
        f"{line}); check that the database server is reachable and the database exists"
    )
