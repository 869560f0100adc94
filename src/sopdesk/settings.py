"""Server settings, read once from the environment (prefix `SOPDESK_`) and passed down.

Per-business policy (calendars, SOPs, templates) lives in the database, not here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOPDESK_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".sopdesk"),
        description="Folder for the default SQLite database and local files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite at DATA_DIR/sopdesk.db. "
        "PostgreSQL: postgresql://user@host:5432/db",
    )
    calendars_file: Path | None = Field(
        default=None,
        description="Optional calendars config (YAML or TOML); see docs/business-time.md.",
    )
    timezone: str = Field(default="UTC", description="Default IANA timezone of the business.")
    smtp_url: str | None = Field(
        default=None, description="Outbound mail, smtp://user:pw@host:port"
    )
    secret_key: str = Field(
        default="dev-only-secret-change-me",
        description="Signs links sent to customers and session cookies.",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'sopdesk.db').resolve()}"


def normalise_database_url(url: str) -> str:
    """Accept the plain `postgresql://` form people copy from docs; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url
