"""Alembic's entry to the job store schema.

`ccp.migrations.upgrade` passes its locked connection in `config.attributes`. The `alembic`
command line (see README) connects to `-x url=...` or `$CCP_DATABASE_URL` instead.
"""

import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from ccp.jobstore import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,  # what `alembic revision --autogenerate` compares with
        # SQLite alters most columns only by copying the table: autogenerate writes that.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "CCP_DATABASE_URL")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///path/jobs.db ... "
                         "or set CCP_DATABASE_URL")
    with create_engine(url).connect() as cli_connection:
        run_migrations(cli_connection)
