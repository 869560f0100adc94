"""Schema upgrades, run from code: no alembic.ini, the scripts ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from sopdesk.errors import SopdeskError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this version of sopdesk knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to `revision` in one transaction; return (before, after)."""
    before = current_revision(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(engine)


def require_current(engine: Engine) -> None:
    """Raise a `SopdeskError` the user can act on unless the schema is at head."""
    current = current_revision(engine)
    if current is None:
        raise SopdeskError(
            "the database is empty",
            code="database_not_initialised",
            status=503,
            hint="run 'sopdesk init' to create it and load the SOP library",
        )
    if current != head_revision():
        raise SopdeskError(
            f"the database schema is at {current}, this sopdesk needs {head_revision()}",
            code="database_outdated",
            status=503,
            hint="run 'sopdesk db upgrade' (back up the database first)",
        )
