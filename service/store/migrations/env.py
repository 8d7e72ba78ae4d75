"""Alembic environment of the jobmatch store.

Runs with a connection handed over by ``service.store.migrate`` (``config.attributes
["connection"]``), or, from the alembic command line, with ``-x url=...`` or
``JOBMATCH_DATABASE_URL``. SQLite uses batch mode so later revisions can alter tables.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from service.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    return url or os.environ.get("JOBMATCH_DATABASE_URL", "sqlite:///var/jobmatch.db")


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
