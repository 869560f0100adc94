"""Opening cases: customer, case, first message, routing, and the SOP run — one transaction.

`do_open_case` is what the API, the CLI and the agent's New case page call
(`do_open_request` when the first message brings files); e-mail intake
(`actions.intake`) and CSV import (`actions.case_import`) use the same `open_case`
inside their own transactions. Routing (`assist.routing.route`) picks the SOP from
the published library by its `applies_to` rules (then a classifier, if one is
given); no match leaves the case in the triage queue without a run. The SOP run
starts pinned to the published version: the engine's first decisions (the
acknowledgement of a system step, the timers) are written with the case.

The other case changes are in `actions.case_changes` (steps, status), `actions.replies`
(replies, notes) and `actions.case_runs` (SOP runs, re-timing), and are re-exported
here, so callers import one module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_changes import (
    do_assign,
    do_change_status,
    do_complete_step,
    do_override_step,
    do_record_event,
    do_reopen,
    do_resolve,
    do_set_fields,
    do_skip_step,
)
from sopdesk.actions.case_runs import do_retime_open_cases, do_start_sop, start_sop_run
from sopdesk.actions.case_state import atomic_case, buffered_events, front_matter, log_event
from sopdesk.actions.context import KnownConversation, buffered_outbox
from sopdesk.actions.customers import ensure_customer
from sopdesk.actions.messages import NewMessage, store_message
from sopdesk.actions.published import Published, published_case_sops, published_version
from sopdesk.actions.replies import do_add_note, do_reply
from sopdesk.assist.routing import Classifier, Inquiry, RouteDecision, route
from sopdesk.channels.email_in import case_reference
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.store.queries import insert_loaded, next_serial
from sopdesk.store.tables import CaseRow, CaseStatusValue, Priority, SopVersion

__all__ = [
    "CaseRequest",
    "do_add_note",
    "do_assign",
    "do_change_status",
    "do_complete_step",
    "do_open_case",
    "do_open_request",
    "do_override_step",
    "do_record_event",
    "do_reopen",
    "do_reply",
    "do_resolve",
    "do_retime_open_cases",
    "do_set_fields",
    "do_skip_step",
    "do_start_sop",
    "open_case",
]

TRIAGE_GROUP = "triage"
CHANNELS = frozenset({"email", "web", "api", "phone", "sms", "chat", "call", "csv", "internal"})


@dataclass(frozen=True)
class CaseRequest:
    """A new case as a channel hands it over; `sop_id` skips routing."""

    customer_email: str
    subject: str
    customer_name: str = ""
    body: str = ""
    channel: str = "api"
    case_type: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    tags: Sequence[str] = ()
    priority: str = Priority.NORMAL.value
    sop_id: str | None = None
    opened_at: datetime | None = None
    message: NewMessage | None = None
    external_source: str | None = None
    external_id: str | None = None
    start_sop: bool = True
    route: Mapping[str, Any] | None = None  # why `sop_id` was chosen (default: by hand)


@atomic_case
def do_open_case(
    session: Session,
    *,
    customer_email: str,
    subject: str,
    customer_name: str = "",
    body: str = "",
    channel: str = "api",
    case_type: str | None = None,
    fields: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    priority: str = Priority.NORMAL.value,
    sop_id: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
    classifier: Classifier | None = None,
) -> CaseRow:
    """Open a case for a customer (created if new), route it and start its SOP."""
    request = CaseRequest(
        customer_email=customer_email,
        subject=subject,
        customer_name=customer_name,
        body=body,
        channel=channel,
        case_type=case_type,
        fields=dict(fields or {}),
        tags=tuple(tags),
        priority=priority,
        sop_id=sop_id,
    )
    return open_case(
        session, request, resolve_now(now), settings or Settings(), classifier=classifier
    )


@atomic_case
def do_open_request(
    session: Session,
    request: CaseRequest,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    classifier: Classifier | None = None,
) -> CaseRow:
    """`do_open_case` for a whole `CaseRequest`: its first message may carry files."""
    return open_case(
        session, request, resolve_now(now), settings or Settings(), classifier=classifier
    )


def open_case(
    session: Session,
    request: CaseRequest,
    now: datetime,
    settings: Settings,
    *,
    classifier: Classifier | None = None,
) -> CaseRow:
    """`do_open_case` without its transaction, for intake and import.

    No autoflush inside: every query here reads rows that are already written (the
    customer, the case, its first message and its SOP run by their own INSERTs, as
    loaded rows: `store.queries.insert_loaded`; the SOP library, calendars and a new
    case's timers and outbox are not written here), so the case's later changes go out
    together in the final flush as one UPDATE instead of one flush per query. Its
    events are written in one statement, and its outbox rows (nothing reads them back:
    a new case has no keys to compare) in another.
    """
    _check(request)
    with buffered_events(session), buffered_outbox(session), session.no_autoflush:
        return _open_case(session, request, now, settings, classifier)


def _open_case(
    session: Session,
    request: CaseRequest,
    now: datetime,
    settings: Settings,
    classifier: Classifier | None,
) -> CaseRow:
    customer, new_customer = ensure_customer(
        session, request.customer_email, request.customer_name, now
    )
    if new_customer:
        log_event(session, "customer.created", now, customer_id=customer.id, via=request.channel)
    opened = request.opened_at or now
    values: dict[str, Any] = {
        "customer_id": customer.id,
        "subject": request.subject.strip()[:500],
        "channel": request.channel,
        "case_type": request.case_type,
        "status": CaseStatusValue.NEW.value,
        "priority": request.priority,
        "fields": dict(request.fields),
        "tags": list(request.tags),
        "assignee": None,
        "group_name": None,
        "sop_id": None,
        "first_response_at": None,
        "resolved_at": None,
        "closed_at": None,
        "next_due_at": None,
        "opened_at": opened,
        "reopen_count": 0,
        "updated_at": now,
        "external_source": request.external_source,
        "external_id": request.external_id,
        "merged_into": None,
    }
    # Routed before the insert, so the route, type and group go out with the INSERT.
    version = _choose_sop(session, values, request, customer, classifier)
    if version is not None and request.start_sop:  # as start_sop_run sets it
        meta = version.meta if isinstance(version, Published) else front_matter(version)
        values["sop_id"] = meta.id
    # The id is known first, so the reference goes out with the INSERT: written
    # afterwards, it is an UPDATE of a uniquely indexed column that adds an entry to
    # every index of the table.
    values["id"] = next_serial(session, CaseRow.__table__)
    values["reference"] = case_reference(values["id"])
    case = insert_loaded(session, CaseRow, values)
    message = request.message or (NewMessage(text=request.body) if request.body else None)
    first = store_message(session, case, message, at=opened) if message else None
    log_event(
        session,
        "case.opened",
        opened,
        case_id=case.id,
        customer_id=customer.id,
        actor=customer.email,
        channel=case.channel,
        subject=case.subject,
    )
    if first is not None:
        log_event(
            session,
            "message.received",
            opened,
            case_id=case.id,
            customer_id=customer.id,
            actor=first.from_address or customer.email,
            message=first.id,
        )
    if request.sop_id is None:
        log_event(session, "case.routed", case.opened_at, case_id=case.id, **case.route)
    if version is not None and request.start_sop:
        known = KnownConversation.of_new_case(first, new_customer=new_customer)
        start_sop_run(
            session, case, version, now, settings, first_message=first, new_case=True, known=known
        )
    return case


def _check(request: CaseRequest) -> None:
    if request.channel not in CHANNELS:
        known = ", ".join(sorted(CHANNELS))
        raise InvalidInput(f"unknown channel {request.channel!r}", hint=f"use one of {known}")
    if request.priority not in {p.value for p in Priority}:
        raise InvalidInput(f"unknown priority {request.priority!r}")
    if not request.subject.strip() and not request.body.strip():
        raise InvalidInput("a case needs a subject or a message")


def _choose_sop(
    session: Session,
    case: dict[str, Any],
    request: CaseRequest,
    customer: Any,
    classifier: Classifier | None,
) -> SopVersion | Published | None:
    """The published SOP version the case runs, recording why in its `route`.

    Runs on the new case's column values, before it is inserted (it has no id yet): the
    caller logs `case.routed`.
    """
    if request.sop_id is not None:
        version = published_version(session, request.sop_id)
        manual = {"source": "manual", "sop_id": request.sop_id, "explain": "chosen by hand"}
        case["route"] = dict(request.route or manual)
        return version
    sops = published_case_sops(session)
    inquiry = Inquiry(
        channel=case["channel"],
        subject=case["subject"],
        body=request.body or _text(request),
        customer_tags=tuple(customer.tags or ()),
        customer_tier=customer.tier,
        fields=dict(case["fields"]),
        case_type=request.case_type,
        tags=tuple(case["tags"]),
    )
    decision = route(inquiry, [meta for meta, _ in sops], classifier)
    case["route"] = route_document(decision)
    case["case_type"] = decision.case_type or case["case_type"]
    if decision.sop_id is None:
        case["group_name"] = TRIAGE_GROUP
        return None
    return next(version for meta, version in sops if meta.id == decision.sop_id)


def _text(request: CaseRequest) -> str:
    return request.message.text if request.message else ""


def route_document(decision: RouteDecision) -> dict[str, Any]:
    """Why the case went where it went, as stored in `cases.route`."""
    return {
        "source": decision.source.value,
        "sop_id": decision.sop_id,
        "case_type": decision.case_type,
        "reasons": [str(reason) for reason in decision.reasons],
        "explain": decision.explain(),
        "confidence": decision.confidence,
        "candidates": [list(c) for c in decision.candidates],
        "runners_up": [m.sop_id for m in decision.runners_up],
        "problems": list(decision.problems),
    }


def existing_external(session: Session, source: str, external_id: str) -> CaseRow | None:
    query = select(CaseRow).where(
        CaseRow.external_source == source, CaseRow.external_id == external_id
    )
    return session.scalar(query)
