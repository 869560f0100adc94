"""Webhook endpoints as the settings page manages them: switching one on or off, and
its recent deliveries from the outbox.

A delivery is an outbox row with `kind = "webhook"` whose key starts with
`webhook:{id}:` (the sender writes that key and the endpoint id in the payload); the
page reads by that prefix, so it needs nothing from the sender but the key format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic
from sopdesk.actions.webhooks import get_webhook
from sopdesk.store.tables import OutboxKind, OutboxRow, WebhookRow

RECENT = 20


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an event to an endpoint, as the outbox has it now."""

    id: int
    key: str
    event: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


def key_prefix(webhook_id: int) -> str:
    return f"webhook:{webhook_id}:"


def event_of(key: str, payload: dict[str, Any]) -> str:
    """The event a delivery carries: the payload's `event`, else what the key says."""
    event = payload.get("event") or payload.get("type")
    if isinstance(event, str) and event:
        return event
    rest = key.split(":", 2)[2] if key.count(":") >= 2 else key
    return rest.split(":", 1)[0] or "?"


def recent_deliveries(
    session: Session, webhook_ids: Iterable[int], limit: int = RECENT
) -> dict[int, list[Delivery]]:
    """The newest `limit` deliveries of each endpoint (one indexed query per endpoint)."""
    found: dict[int, list[Delivery]] = {}
    for webhook_id in webhook_ids:
        query = (
            select(OutboxRow)
            .where(
                OutboxRow.kind == OutboxKind.WEBHOOK.value,
                OutboxRow.key.startswith(key_prefix(webhook_id), autoescape=True),
            )
            .order_by(OutboxRow.id.desc())
            .limit(limit)
        )
        found[webhook_id] = [
            Delivery(
                id=row.id,
                key=row.key,
                event=event_of(row.key, row.payload or {}),
                status=row.status,
                attempts=row.attempts,
                created_at=row.created_at,
                sent_at=row.sent_at,
                last_error=row.last_error,
            )
            for row in session.scalars(query)
        ]
    return found


@atomic
def do_set_webhook_active(session: Session, webhook_id: int, active: bool) -> WebhookRow:
    """Pause an endpoint (no new deliveries are queued for it) or resume it."""
    row = get_webhook(session, webhook_id)
    row.active = active
    return row
