"""Alembic environment: runs on the connection `sopdesk.store.migrate` hands over.

No alembic.ini and no logging set-up: the caller owns both. SQLite gets batch mode so
that later migrations can alter tables (SQLite's ALTER TABLE is limited).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from sopdesk.store.tables import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through sopdesk.store.migrate, which passes a connection"
        )
    _run(connection)


_main()
