"""Alembic migrations, shipped in the package and run from code (`sopdesk.store.migrate`)."""
