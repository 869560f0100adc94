"""Persistence: SQLAlchemy tables, engine/session set-up, queries, Alembic migrations.

Owns the schema for SQLite (WAL) and PostgreSQL. Holds no business rules; callers
in `sopdesk.actions` decide, the store only reads and writes. Must not import
`sopdesk.actions`, `sopdesk.web` or `sopdesk.cli`.
"""

from sopdesk.store.engine import create_engine_for, session_factory
from sopdesk.store.migrate import current_revision, head_revision, require_current, upgrade

__all__ = [
    "create_engine_for",
    "current_revision",
    "head_revision",
    "require_current",
    "session_factory",
    "upgrade",
]
