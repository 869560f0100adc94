"""Webhook endpoints: register, list, read and remove them (settings).

An endpoint names the events it wants (`EVENTS`) and gets its own signing secret,
shown once when it is made. Only registration is here: the outbound delivery (the
signed POSTs, retried by the worker) is not built yet, so nothing is sent to them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.store.tables import WebhookRow

EVENTS = (
    "case.created",
    "step.due_soon",
    "sla.breached",
    "case.resolved",
    "survey.answered",
    "sop.published",
)
MAX_URL = 2000
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret


@dataclass(frozen=True)
class CreatedWebhook:
    """A new endpoint and its signing secret (also stored: signing needs it)."""

    row: WebhookRow
    secret: str


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and without credentials, else `InvalidInput`."""
    text = (url or "").strip()
    parts = urlsplit(text) if len(text) <= MAX_URL and text.isprintable() else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(
            f"{url[:80]!r} is not a webhook URL",
            hint="use https://host/path (at most 2000 characters)",
        )
    if parts.username or parts.password:
        raise InvalidInput("a webhook URL may not hold a user name or password")
    return text


def check_events(events: Iterable[str]) -> list[str]:
    """Known event names, de-duplicated in the order of `EVENTS`; at least one."""
    wanted = set(events)
    unknown = sorted(wanted - set(EVENTS))
    if unknown:
        raise InvalidInput(
            f"unknown webhook event {unknown[0]!r}", hint=f"use any of {', '.join(EVENTS)}"
        )
    if not wanted:
        raise InvalidInput("a webhook needs at least one event", hint=f"any of {', '.join(EVENTS)}")
    return [event for event in EVENTS if event in wanted]


@atomic
def do_create_webhook(
    session: Session,
    url: str,
    events: Iterable[str],
    *,
    created_by: str,
    description: str = "",
    now: datetime | None = None,
) -> CreatedWebhook:
    """Register an endpoint for `events`, with a new 256-bit signing secret."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = WebhookRow(
        url=check_url(url),
        secret=secret,
        events=check_events(events),
        description=description.strip()[:200],
        active=True,
        created_by=created_by,
        created_at=resolve_now(now),
    )
    session.add(row)
    session.flush()
    return CreatedWebhook(row, secret)


def list_webhooks(session: Session) -> list[WebhookRow]:
    return list(session.scalars(select(WebhookRow).order_by(WebhookRow.id)))


def get_webhook(session: Session, webhook_id: int) -> WebhookRow:
    row = session.get(WebhookRow, webhook_id)
    if row is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return row


@atomic
def do_delete_webhook(session: Session, webhook_id: int) -> None:
    """Remove an endpoint for good; 404 if there is none."""
    session.delete(get_webhook(session, webhook_id))
