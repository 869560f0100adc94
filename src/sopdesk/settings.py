"""Server settings, read once from the environment (prefix `SOPDESK_`) and passed down.

Per-business policy (calendars, SOPs, templates) lives in the database, not here.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

DEFAULT_SUPPORT_FORM_TYPES = {
    "return": "A return or a refund",
    "complaint": "A complaint",
    "inquiry": "A question",
}


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
        default="dev-only-secret-change-me",  # = DEV_SECRET; `serve` refuses it when exposed
        description="Signs links sent to customers and session cookies.",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark cookies Secure. Default: when the request came over https "
        "(behind a proxy, run uvicorn with --proxy-headers).",
    )
    # --- the company, as customers see it (cases, templates, outgoing mail) ---
    company_name: str = Field(
        default="Example Shop", description="The company name templates show."
    )
    support_address: str = Field(
        default="support@example.com",
        description="The support mailbox: From of outgoing mail, and where mail comes in.",
    )
    support_addresses: list[str] = Field(
        default_factory=list,
        description="Other addresses that are ours (aliases); mail from them is a loop.",
    )
    company_phone: str = Field(default="", description="Support phone number for templates.")
    company_website: str = Field(default="", description="Public website for templates.")
    company_hours: str = Field(
        default="Monday to Friday, 9:00 to 17:00", description="Opening hours in words."
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of this sopdesk; survey, review and case links start with it.",
    )
    review_url: str | None = Field(
        default=None,
        description="Public review page (e.g. on a review site); default a sopdesk link.",
    )
    link_ttl_days: int = Field(
        default=30, ge=1, le=1000, description="How long links sent to customers stay valid."
    )
    close_resolved_after_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="A resolved case closes by itself this many days after it was resolved; "
        "a customer's message after that opens a follow-up case instead of reopening it. "
        "0: resolved cases stay resolved until someone closes them.",
    )
    support_form: bool = Field(
        default=True,
        description="Serve the public support form at /support (false: it answers 404).",
    )
    support_form_types: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SUPPORT_FORM_TYPES),
        description="The support form's menu: case type -> what the customer reads. Only "
        "types a published SOP routes on the web are offered; 'Something else' is always "
        "there and leaves routing to the words of the request.",
    )
    support_embed_origins: list[str] = Field(
        default_factory=list,
        description="Websites that may show the support form in a frame "
        "(/support/embed.js), as origins: https://shop.example.com, or "
        "https://*.example.com for its subdomains. Empty: no other site may frame it.",
    )
    role_addresses: dict[str, str] = Field(
        default_factory=dict,
        description="E-mail address per SOP role (e.g. support-lead), for escalation notices.",
    )
    template_links: dict[str, str] = Field(
        default_factory=dict,
        description="Extra links templates may use as links.<name> (e.g. return_label).",
    )

    # --- operations: /metrics and logs (docs/deploy.md) ---
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a token (default: a bearer token with the "
        "reports:read scope is needed).",
    )
    metrics_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long /metrics reuses the figures it read from the database.",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines on stderr: json (one object per line), text, or auto "
        "(text at a terminal, json otherwise).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The least severe level logged."
    )

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("support_embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [normalise_origin(origin) for origin in value]

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'sopdesk.db').resolve()}"


_ORIGIN = re.compile(r"(https?)://(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*)(:[0-9]{1,5})?")


def normalise_origin(origin: str) -> str:
    """`origin` as a Content-Security-Policy source: scheme, host and optional port,
    lower case, no path; `*.` before the host allows its subdomains."""
    cleaned = origin.strip().lower().removesuffix("/")
    match = _ORIGIN.fullmatch(cleaned)
    if match is None:
        raise ValueError(
            f"{origin!r} is not a website origin; write it as https://shop.example.com "
            "(scheme and host, an optional :port, no path)"
        )
    port = match.group(5)
    if port is not None and not 0 < int(port[1:]) < 65536:
        raise ValueError(f"{origin!r} has no valid port")
    return cleaned


_UNREADABLE = re.compile(r'error parsing value for field "([a-z_]+)"')


def settings_problems(error: ValidationError | SettingsError) -> list[str]:
    """One line per setting that did not parse, naming its environment variable. The
    value is left out: it may be a password or a secret key."""
    if isinstance(error, SettingsError):
        unreadable = _UNREADABLE.search(str(error))
        field = unreadable.group(1).upper() if unreadable else "a SOPDESK_ setting"
        return [
            f'SOPDESK_{field}: is not JSON; a list is written as ["a", "b"] and a '
            'table as {"key": "value"}'
        ]
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        variable = f"SOPDESK_{field.upper()}" if field else "a SOPDESK_ setting"
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"{variable}: {message}")
    return lines


DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - the known default, refused when exposed
MIN_SECRET_CHARS = 32
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def exposed_secret_problem(secret: str, host: str, public_base_url: str) -> str | None:
    """Why `secret` must not sign links and sessions of a server others can reach.

    A server bound beyond the loopback interface, or published on https, is exposed:
    there the known development default or a short secret would let anyone forge
    customer links and session cookies. None when the secret is fine or the server is
    local only (the demo on 127.0.0.1).
    """
    local = host in LOOPBACK_HOSTS or host.startswith("127.")
    if local and not public_base_url.startswith("https://"):
        return None
    if secret == DEV_SECRET:
        return "the secret key is the development default, known to everyone"
    if len(secret) < MIN_SECRET_CHARS:
        return f"the secret key has fewer than {MIN_SECRET_CHARS} characters"
    return None


def normalise_database_url(url: str) -> str:
    """Accept the plain `postgresql://` form people copy from docs; use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url
