"""The job store's schema: Alembic revisions in `versions/`, applied when a JobStore starts.

Any number of servers may start at once on one database. `upgrade` runs the whole upgrade in
one transaction that first takes a lock, so one server migrates and the others, once it has
committed, find the schema at head and do nothing:
- PostgreSQL: the transaction-level advisory lock `pg_advisory_xact_lock(LOCK_KEY)`, released
  at commit or rollback. PostgreSQL's DDL is transactional, so a server killed mid-upgrade
  leaves nothing half done.
- SQLite: `BEGIN IMMEDIATE`, SQLite's own database write lock; the others wait for it (up to
  the busy timeout of `make_engine`). No extra lock file.
Other databases get no lock: start one server first.

A database made by CCP's hand-written runner before Alembic (versions 1-4 in
`ccp_schema_version`) is adopted: stamped at the revision that made the same schema, its
`ccp_schema_version` dropped (`alembic_version` rules from then on; an older CCP started on it
again would recreate that table and find every change already made), then upgraded like any
other. How to add a revision: README in this directory.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

# Any fixed 64-bit key that nothing else locks in a CCP database: "ccp-mig" in ASCII.
LOCK_KEY = 0x6363702D6D6967
# The old runner's schema versions and the revisions that leave the same schema.
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003", 4: "0004"}
# Alembic's `context` and `op` are process-wide proxies: one upgrade at a time per process.
_one_per_process = threading.Lock()


class UnknownSchemaVersion(RuntimeError):
    """The database was made by a newer CCP than this one."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings without an alembic.ini: the scripts are in this package."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision in `versions/`."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "ccp/migrations/versions has no revisions"
    return revision


def current(connection: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest revision; return that revision."""
    with _one_per_process, engine.connect() as connection:
        _lock(connection)
        config = alembic_config(connection)
        _adopt_legacy(connection, config)
        command.upgrade(config, "head")
        revision = current(connection)
        connection.commit()
    assert revision is not None
    return revision


def _lock(connection: Connection) -> None:
    """Begin the upgrade's transaction holding the database's migration lock."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _adopt_legacy(connection: Connection, config: Config) -> None:
    """Stamp a database of the old runner at its revision; its tables and rows stay."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or "ccp_schema_version" not in tables:
        return
    version = connection.scalar(text("SELECT max(version) FROM ccp_schema_version"))
    if version is not None:  # else nothing was applied: the revisions create everything
        if version not in LEGACY_REVISIONS:
            raise UnknownSchemaVersion(
                f"ccp_schema_version is {version}; this CCP knows versions up to "
                f"{max(LEGACY_REVISIONS)}: use a newer CCP")
        command.stamp(config, LEGACY_REVISIONS[version])
    connection.execute(text("DROP TABLE ccp_schema_version"))
