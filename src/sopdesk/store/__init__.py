"""Persistence: SQLAlchemy tables, engine/session set-up, queries, Alembic migrations.

Owns the schema for SQLite (WAL) and PostgreSQL. Holds no business rules; callers
in `sopdesk.actions` decide, the store only reads and writes.
"""
