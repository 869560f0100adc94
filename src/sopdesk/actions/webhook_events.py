"""Webhook events: which changes become deliveries, and queueing them in the outbox.

A delivery is one `outbox` row of kind `webhook` per active endpoint subscribed to the
event, written in the transaction of the change that causes it (transactional
outbox): a change that rolls back sends nothing, and one that commits is delivered
even if the process dies right after. The worker signs and POSTs the rows
(`sopdesk.worker.webhooks`).

Two funnels feed it: `case_state.log_event` (and its buffered flush) for case events,
and `sops.publish` for `sop.published`. The mapping from an internal case event to a
webhook event and the payloads are pure functions (`webhook_event`, `case_payload`,
`sop_payload`, `delivery_rows`); the rest reads rows and writes the outbox.

Every row key is `webhook:{webhook_id}:{event_id}`, and the event id is a hash of
what caused it (the case and target, the SOP version...), so queueing the same
event twice adds nothing (the insert ignores a key that exists) and receivers can
de-duplicate on the id, which every retry repeats.

Cost when nobody listens: the active subscriptions are cached per process and
database, re-read at most every `SUBSCRIPTION_TTL` seconds, and dropped at once in
this process when an endpoint is created, changed or deleted. A case event that no
endpoint wants costs a dict lookup and no query.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sopdesk.store.tables import (
    CaseRow,
    CustomerRow,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    SopVersion,
    WebhookRow,
)

SUBSCRIPTION_TTL = 5.0  # seconds another process may take to see a new or removed endpoint
PING = "ping"

# internal event kind -> webhook event (sla.warning is decided by its target); the
# customer.* events are about a customer, the others about a case (survey.answered may
# be about a customer sequence)
CASE_EVENTS = {
    "case.opened": "case.created",
    "sla.breached": "sla.breached",
    "case.resolved": "case.resolved",
    "survey.answered": "survey.answered",
    "customer.merged": "customer.merged",
    "case.merged": "case.merged",
    "message.delivery_failed": "message.delivery_failed",
    "customer.created": "customer.created",
    "customer.updated": "customer.updated",
}
SURVEY_FIELDS = ("rating", "resolved", "comment")


# --- the pure core ------------------------------------------------------------------


def webhook_event(kind: str, data: Mapping[str, Any]) -> str | None:
    """The webhook event a case event of `kind` stands for, or None.

    Only warnings about a step's deadline are `step.due_soon`; warnings about other
    targets (a metric such as first response) have no webhook event.
    """
    if kind == "sla.warning":
        return "step.due_soon" if str(data.get("target") or "").startswith("step:") else None
    return CASE_EVENTS.get(kind)


def event_id(source: str) -> str:
    """A stable, opaque event id for what caused the event (`source`)."""
    return "evt_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:32]


def case_event_source(event: str, case_id: int, at: datetime, data: Mapping[str, Any]) -> str:
    """What makes this event unique: a case is created once; an SLA target breaches
    once per due time; a warning has its escalation key; a message fails once; others
    happen at an instant."""
    match event:
        case "case.created":
            return f"{event}:{case_id}"
        case "sla.breached":
            return f"{event}:{case_id}:{data.get('target')}:{data.get('due_at')}"
        case "step.due_soon" if data.get("key"):
            return f"{event}:{case_id}:{data['key']}"
        case "message.delivery_failed":  # a message is marked failed once
            return f"{event}:{case_id}:{data.get('message')}"
        case _:
            return f"{event}:{case_id}:{data.get('target', '')}:{at.isoformat()}"


def event_details(event: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The members of `data` (the case event's own) that belong in the webhook."""
    match event:
        case "step.due_soon":
            target = str(data.get("target") or "")
            return {
                "step_id": target.removeprefix("step:"),
                "target": target,
                "due_at": data.get("due_at"),
                "level": data.get("level"),
            }
        case "sla.breached":
            return {"target": data.get("target"), "due_at": data.get("due_at")}
        case "survey.answered":
            return {name: data[name] for name in SURVEY_FIELDS if name in data}
        case "case.created":
            return {"channel": data.get("channel")}
        case "case.merged":
            return {"merged": data.get("merged"), "messages": data.get("messages")}
        case "message.delivery_failed":
            return {
                "message": data.get("message"),
                "error": data.get("error"),
                "via": data.get("via"),
            }
        case _:
            return {}


def case_summary(
    case: CaseRow, customer_email: str | None, customer_name: str | None
) -> dict[str, Any]:
    """The case as an integrator sees it, JSON-safe."""
    return {
        "id": case.id,
        "reference": case.reference,
        "subject": case.subject,
        "status": case.status,
        "priority": case.priority,
        "channel": case.channel,
        "case_type": case.case_type,
        "sop_id": case.sop_id,
        "assignee": case.assignee,
        "customer": {"email": customer_email, "name": customer_name or ""},
        "opened_at": _iso(case.opened_at),
        "next_due_at": _iso(case.next_due_at),
        "resolved_at": _iso(case.resolved_at),
    }


def case_payload(
    event: str, at: datetime, case: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`(event id, payload without webhook_id)` for a case event."""
    identifier = event_id(case_event_source(event, int(case["id"]), at, data))
    body = {"case": dict(case), **event_details(event, data)}
    return identifier, envelope(event, identifier, at, body)


def customer_survey_payload(
    at: datetime, customer: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`(event id, payload)` for `survey.answered` about a customer sequence (no case):
    `data.case` is null and `data.sop_id` says which sequence asked."""
    source = f"survey.answered:customer:{customer['id']}:{data.get('sop_id')}:{at.isoformat()}"
    identifier = event_id(source)
    body = {
        "case": None,
        "customer": dict(customer),
        "sop_id": data.get("sop_id"),
        **event_details("survey.answered", data),
    }
    return identifier, envelope("survey.answered", identifier, at, body)


def customer_merged_payload(
    at: datetime, customer: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`(event id, payload)` for `customer.merged`: the kept customer as they are now, the
    customer merged into them (gone since), and how many cases moved."""
    merged = data.get("merged") or {}
    identifier = event_id(f"customer.merged:{customer['id']}:{merged.get('id')}")
    body = {"customer": dict(customer), "merged": dict(merged), "cases": data.get("cases", 0)}
    return identifier, envelope("customer.merged", identifier, at, body)


def customer_created_payload(
    at: datetime, customer: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`(event id, payload)` for `customer.created`: the customer and how they came
    (`via`), for a CRM that keeps its copy in step."""
    identifier = event_id(f"customer.created:{customer['id']}")
    body = {"customer": dict(customer), "via": data.get("via")}
    return identifier, envelope("customer.created", identifier, at, body)


def customer_updated_payload(
    at: datetime, customer: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """`(event id, payload)` for `customer.updated`: the customer as the change left them
    and `changes` (each changed field's `[from, to]`)."""
    identifier = event_id(f"customer.updated:{customer['id']}:{at.isoformat()}")
    body = {"customer": dict(customer), "changes": dict(data.get("changes") or {})}
    return identifier, envelope("customer.updated", identifier, at, body)


def customer_summary(customer: CustomerRow) -> dict[str, Any]:
    """The customer as an integrator sees them, JSON-safe."""
    return {
        "id": customer.id,
        "email": customer.email,
        "name": customer.name or "",
        "phone": customer.phone,
        "tier": customer.tier,
        "tags": list(customer.tags or []),
        "purchases": customer.purchases,
        "created_at": _iso(customer.created_at),
    }


def sop_payload(
    sop_id: str, version: int, title: str, published_by: str, at: datetime, **extra: Any
) -> tuple[str, dict[str, Any]]:
    """`(event id, payload without webhook_id)` for `sop.published`."""
    identifier = event_id(f"sop.published:{sop_id}:{version}")
    sop = {"id": sop_id, "version": version, "title": title, "published_by": published_by}
    return identifier, envelope("sop.published", identifier, at, {"sop": sop | extra})


def envelope(event: str, identifier: str, at: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"event": event, "id": identifier, "occurred_at": _iso(at), "data": dict(data)}


def delivery_key(webhook_id: int, identifier: str) -> str:
    return f"webhook:{webhook_id}:{identifier}"


def delivery_rows(
    webhook_ids: Iterable[int],
    payload: Mapping[str, Any],
    at: datetime,
    *,
    case_id: int | None = None,
    customer_id: int | None = None,
) -> list[dict[str, Any]]:
    """One outbox row (as column values) per endpoint; due at once."""
    return [
        {
            "key": delivery_key(webhook_id, str(payload["id"])),
            "case_id": case_id,
            "customer_id": customer_id,
            "kind": OutboxKind.WEBHOOK.value,
            "payload": {"webhook_id": webhook_id, **payload},
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": at,
            "message_id": None,
            "sent_at": None,
            "last_error": None,
            "created_at": at,
        }
        for webhook_id in webhook_ids
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- the subscription cache -----------------------------------------------------------


@dataclass(frozen=True)
class Subscriptions:
    """The active endpoints of one database, by event, as read at `read_at` (monotonic)."""

    read_at: float
    by_event: Mapping[str, tuple[int, ...]]


_CACHE: weakref.WeakKeyDictionary[Engine, Subscriptions] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def invalidate_subscriptions() -> None:
    """Forget every cached subscription list (call after an endpoint changed)."""
    with _LOCK:
        _CACHE.clear()


def subscriptions(session: Session) -> Mapping[str, tuple[int, ...]]:
    """The active endpoint ids per event, at most `SUBSCRIPTION_TTL` seconds old."""
    engine = session.get_bind().engine
    clock = time.monotonic()
    with _LOCK:
        found = _CACHE.get(engine)
    if found is not None and clock - found.read_at < SUBSCRIPTION_TTL:
        return found.by_event
    with session.no_autoflush:
        rows = session.execute(
            select(WebhookRow.id, WebhookRow.events)
            .where(WebhookRow.active.is_(True))
            .order_by(WebhookRow.id)
        ).all()
    by_event: dict[str, list[int]] = {}
    for webhook_id, events in rows:
        for event in events or ():
            by_event.setdefault(str(event), []).append(int(webhook_id))
    fresh = Subscriptions(clock, {event: tuple(ids) for event, ids in by_event.items()})
    with _LOCK:
        _CACHE[engine] = fresh
    return fresh.by_event


# --- the shell: writing deliveries --------------------------------------------------


_MUTED = "sopdesk.webhooks_muted"


@contextmanager
def webhooks_muted(session: Session) -> Iterator[None]:
    """No webhook deliveries for the case events logged inside: history being imported.

    A migration's tickets are not news to an integration (Zendesk's import API runs no
    triggers either), and thousands of `case.created` deliveries for old tickets
    would flood the receivers. The events themselves are still logged.
    """
    before = session.info.get(_MUTED, False)
    session.info[_MUTED] = True
    try:
        yield
    finally:
        session.info[_MUTED] = before


def queue_case_events(session: Session, logged: Iterable[Mapping[str, Any]]) -> int:
    """Queue the deliveries for case events just logged (`log_event`'s column values).

    The case is read as it is now (from the session's identity map as a rule), so a
    payload shows the case after the whole change that logged the event. Returns the
    number of rows queued; nothing inside `webhooks_muted`.
    """
    if session.info.get(_MUTED):
        return 0
    wanted = [
        (values, event)
        for values in logged
        if (values.get("case_id") is not None or values.get("customer_id") is not None)
        and (event := webhook_event(str(values["kind"]), values.get("data") or {}))
    ]
    if not wanted:
        return 0
    listeners = subscriptions(session)
    rows: list[dict[str, Any]] = []
    for values, event in wanted:
        webhook_ids = listeners.get(event, ())
        if not webhook_ids:
            continue
        if values.get("case_id") is None:
            rows += _customer_deliveries(session, values, event, webhook_ids)
            continue
        with session.no_autoflush:
            case = session.get(CaseRow, values["case_id"])
            if case is None:
                continue
            customer = case.customer
        summary = case_summary(case, customer.email, customer.name)
        _, payload = case_payload(event, values["at"], summary, values.get("data") or {})
        rows += delivery_rows(
            webhook_ids, payload, values["at"], case_id=case.id, customer_id=case.customer_id
        )
    return insert_deliveries(session, rows)


def _customer_deliveries(
    session: Session, values: Mapping[str, Any], event: str, webhook_ids: Iterable[int]
) -> list[dict[str, Any]]:
    """Deliveries for an event about a customer and no case (a sequence's survey, a
    merge, a customer added or changed)."""
    payloads = {
        "survey.answered": customer_survey_payload,
        "customer.merged": customer_merged_payload,
        "customer.created": customer_created_payload,
        "customer.updated": customer_updated_payload,
    }
    if event not in payloads:
        return []
    with session.no_autoflush:
        customer = session.get(CustomerRow, values["customer_id"])
    if customer is None:
        return []
    who = customer_summary(customer)
    _, payload = payloads[event](values["at"], who, values.get("data") or {})
    return delivery_rows(webhook_ids, payload, values["at"], customer_id=customer.id)


def queue_sop_published(session: Session, version: SopVersion, published_by: str) -> int:
    """Queue `sop.published` for a version just published (its row holds the facts)."""
    webhook_ids = subscriptions(session).get("sop.published", ())
    if not webhook_ids:
        return 0
    at = version.published_at or version.updated_at
    title = version.sop.title if version.sop is not None else ""
    _, payload = sop_payload(
        version.sop_id,
        version.version,
        title,
        published_by,
        at,
        note=version.approval_note or "",
        material=bool(version.material),
    )
    return insert_deliveries(session, delivery_rows(webhook_ids, payload, at))


def queue_ping(session: Session, webhook_id: int, now: datetime) -> dict[str, Any]:
    """Queue a `ping` delivery to one endpoint (a new event id each time); its row."""
    identifier = "evt_" + secrets.token_hex(16)
    payload = envelope(PING, identifier, now, {"message": "a test delivery from sopdesk"})
    [row] = delivery_rows([webhook_id], payload, now)
    insert_deliveries(session, [row])
    return row


def insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows in one statement; a key that exists is left alone."""
    if not rows:
        return 0
    table = OutboxRow.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=["key"])
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
    else:  # no upsert syntax known: a duplicate key fails the change, as any unique key
        statement = insert(table)
    session.execute(statement, rows)
    return len(rows)
