"""Webhook endpoints: register, list, read, ping and remove them (settings).

An endpoint names the events it wants (`EVENTS`) and gets its own signing secret,
shown once when it is made. Deliveries are queued by `webhook_events` in the
transaction of the change they report and POSTed, signed, by the worker
(`sopdesk.worker.webhooks`); `list_deliveries` reads them back.

Every change to an endpoint drops this process's cached subscription list once it is
committed, so the next event here sees it at once (other processes within
`webhook_events.SUBSCRIPTION_TTL` seconds). Removing an endpoint removes its queued
and past deliveries with it; they can no longer be sent nor listed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.actions.webhook_events import delivery_key, invalidate_subscriptions, queue_ping
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.store.tables import OutboxKind, OutboxRow, OutboxStatus, WebhookRow

EVENTS = (
    "case.created",
    "step.due_soon",
    "sla.breached",
    "case.resolved",
    "survey.answered",
    "case.merged",
    "message.delivery_failed",
    "customer.created",
    "customer.updated",
    "customer.merged",
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
    created = _create_webhook(
        session, url, events, created_by=created_by, description=description, now=now
    )
    invalidate_subscriptions()
    return created


@atomic
def _create_webhook(
    session: Session,
    url: str,
    events: Iterable[str],
    *,
    created_by: str,
    description: str = "",
    now: datetime | None = None,
) -> CreatedWebhook:
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


def do_delete_webhook(session: Session, webhook_id: int) -> None:
    """Remove an endpoint for good, with its deliveries (queued ones are not sent);
    404 if there is none."""
    _delete_webhook(session, webhook_id)
    invalidate_subscriptions()


@atomic
def _delete_webhook(session: Session, webhook_id: int) -> None:
    session.delete(get_webhook(session, webhook_id))
    session.execute(delete(OutboxRow).where(*_deliveries_of(webhook_id)))


def do_deactivate_webhook(session: Session, webhook_id: int, *, reason: str) -> int:
    """Stop sending to an endpoint (the receiver answered 410 Gone): it stays listed,
    inactive, and its waiting deliveries are cancelled (dead, with `reason`). Returns
    how many were cancelled; commits."""
    cancelled = _deactivate_webhook(session, webhook_id, reason)
    invalidate_subscriptions()
    return cancelled


@atomic
def _deactivate_webhook(session: Session, webhook_id: int, reason: str) -> int:
    session.execute(update(WebhookRow).where(WebhookRow.id == webhook_id).values(active=False))
    waiting = OutboxRow.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value])
    result = session.execute(
        update(OutboxRow)
        .where(*_deliveries_of(webhook_id), waiting)
        .values(status=OutboxStatus.CANCELLED.value, last_error=f"cancelled: {reason}"[:2000])
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def do_set_webhook_active(session: Session, webhook_id: int, active: bool) -> WebhookRow:
    """Pause an endpoint (no new deliveries are queued for it; waiting ones are cancelled
    when the worker reaches them) or resume it; 404 if there is none. Commits."""
    row = _set_active(session, webhook_id, active)
    invalidate_subscriptions()
    return row


@atomic
def _set_active(session: Session, webhook_id: int, active: bool) -> WebhookRow:
    row = get_webhook(session, webhook_id)
    row.active = active
    return row


@atomic
def do_ping_webhook(session: Session, webhook_id: int, *, now: datetime | None = None) -> str:
    """Queue a `ping` delivery to an active endpoint; returns its event id."""
    row = get_webhook(session, webhook_id)
    if not row.active:
        raise Conflict(
            f"webhook {webhook_id} is inactive",
            hint="it answered 410 Gone; remove it and register the URL again",
        )
    return str(queue_ping(session, webhook_id, resolve_now(now))["payload"]["id"])


MAX_DELIVERIES = 200


def list_deliveries(
    session: Session, webhook_id: int, *, limit: int = 50, before: int | None = None
) -> list[OutboxRow]:
    """An endpoint's deliveries, newest first; `before`: only rows older than that id."""
    get_webhook(session, webhook_id)
    return recent_deliveries(session, webhook_id, limit=limit, before=before)


def recent_deliveries(
    session: Session, webhook_id: int, *, limit: int = 50, before: int | None = None
) -> list[OutboxRow]:
    """`list_deliveries` for an endpoint known to exist (one indexed query)."""
    query = select(OutboxRow).where(*_deliveries_of(webhook_id))
    if before is not None:
        query = query.where(OutboxRow.id < before)
    limit = max(1, min(limit, MAX_DELIVERIES))
    return list(session.scalars(query.order_by(OutboxRow.id.desc()).limit(limit)))


def _deliveries_of(webhook_id: int) -> tuple[ColumnElement[bool], ...]:
    """The outbox rows of one endpoint: their keys start `webhook:{id}:` (unique index)."""
    prefix = delivery_key(webhook_id, "")
    return (
        OutboxRow.kind == OutboxKind.WEBHOOK.value,
        OutboxRow.key.startswith(prefix, autoescape=True),
    )
