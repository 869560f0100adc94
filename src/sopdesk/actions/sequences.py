"""SOPs a customer's event starts: onboarding on a new customer, recognition at a purchase.

`do_customer_created` and `do_purchase` start every published SOP whose
`applies_to.trigger` is `customer_created` or `purchase` and whose `when` holds:

* an SOP with a step a person owns (both built-in ones) opens a proactive case for the
  customer, routed to that SOP, opened at the event's instant, on channel `internal`:
  the run, its checklist, fields, templates, escalation and follow-ups are those of any
  case (`engine.runs_as_case`);
* an SOP whose steps are all the system's runs as a sequence not tied to a case
  (`engine.customer_sequence`): its templates are queued at once, and each follow-up
  becomes a `sequence` timer that `do_fire_timer` releases (or cancels, by `unless`).

Replaying an event is harmless: a done timer keyed `customer:<id>:<sop>:<event>` marks
an SOP as started for that event (with the case it opened), and every send and
follow-up is keyed by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, calendar_for, log_event
from sopdesk.actions.cases import CaseRequest, open_case
from sopdesk.actions.context import (
    Rendering,
    Thread,
    case_links,
    customer_context,
    email_outbox_row,
    email_payload,
    render_template_payload,
)
from sopdesk.actions.customer_changes import CustomerChange, clean_change
from sopdesk.actions.customers import (
    customer_by_key,
    engine_customer,
    ensure_customer,
    get_customer,
)
from sopdesk.actions.effects import schedule_timer
from sopdesk.actions.outbound import outbox_exists
from sopdesk.actions.published import Published, published_for
from sopdesk.actions.unsubscribe import optional_mail_stopped
from sopdesk.channels.email_out import Mailbox
from sopdesk.engine import (
    CancelFollowup,
    CustomerEvent,
    Decision,
    OpenTask,
    ScheduleFollowup,
    SendTemplate,
    customer_sequence,
    runs_as_case,
    sequence_applies,
)
from sopdesk.errors import SopdeskError
from sopdesk.settings import Settings
from sopdesk.sop.model import FrontMatter, Trigger
from sopdesk.store.tables import CustomerRow, OutboxRow, SopVersion, TimerRow, TimerStatus

SEQUENCE_TIMER = "sequence"


@dataclass(frozen=True)
class AddedCustomer:
    customer: CustomerRow
    created: bool  # False: a customer with this address was there already
    started: int  # the SOPs their creation started


@atomic_case
def do_add_customer(
    session: Session,
    *,
    email: str,
    name: str = "",
    tier: str | None = None,
    tags: list[str] | None = None,
    phone: str | None = None,
    by: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> AddedCustomer:
    """Create a customer and start onboarding; a known address is left as it is.

    `by`: who added them (logged with `customer.created`, `via` "added").

    The details are checked and cleaned as a change to a customer is (`clean_change`:
    bounded, one line, tags stripped and each once); an empty tier means the default.
    """
    moment, settings = resolve_now(now), settings or Settings()
    details = clean_change(CustomerChange(name=name, phone=phone, tier=tier or None, tags=tags))
    row, created = ensure_customer(
        session,
        email,
        details.get("name", ""),
        moment,
        tier=details.get("tier"),
        tags=details.get("tags"),
        phone=details.get("phone"),
    )
    started = 0
    if created:
        log_event(session, "customer.created", moment, customer_id=row.id, actor=by, via="added")
        started = run_sequences(
            session, row, Trigger.CUSTOMER_CREATED, "created", row.created_at, moment, settings
        )
    return AddedCustomer(row, created, started)


def do_create_customer(
    session: Session,
    *,
    email: str,
    name: str = "",
    tier: str | None = None,
    tags: list[str] | None = None,
    phone: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CustomerRow:
    """`do_add_customer`'s customer (created, or found with this address)."""
    added = do_add_customer(
        session,
        email=email,
        name=name,
        tier=tier,
        tags=tags,
        phone=phone,
        now=now,
        settings=settings,
    )
    return added.customer


@atomic_case
def do_customer_created(
    session: Session,
    customer_id: int,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> int:
    """Run the `customer_created` sequences for an existing customer; how many started."""
    moment = resolve_now(now)
    customer = get_customer(session, customer_id)
    return run_sequences(
        session,
        customer,
        Trigger.CUSTOMER_CREATED,
        "created",
        customer.created_at,
        moment,
        settings or Settings(),
    )


@dataclass(frozen=True)
class CountedPurchase:
    customer: CustomerRow
    counted: bool  # False: this purchase id was counted before
    started: int  # the SOPs the purchase started


@atomic_case
def do_count_purchase(
    session: Session,
    customer: int | str,
    *,
    purchase_id: str,
    at: datetime | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CountedPurchase:
    """Count one purchase of the customer (by id or e-mail address) and start the
    `purchase` SOPs whose condition now holds; a replayed purchase id counts nothing."""
    moment = resolve_now(now)
    row = customer_by_key(session, customer)
    marker = f"customer:{row.id}:purchase:{purchase_id}"
    if session.scalar(select(TimerRow.id).where(TimerRow.key == marker)) is not None:
        return CountedPurchase(row, counted=False, started=0)
    _marker(session, marker, row, at or moment, moment, {"purchase_id": purchase_id})
    row.purchases += 1
    row.updated_at = moment
    log_event(
        session,
        "customer.purchase",
        at or moment,
        customer_id=row.id,
        purchase_id=purchase_id,
        purchases=row.purchases,
    )
    event_id = f"purchase-{purchase_id}"
    started = run_sequences(
        session, row, Trigger.PURCHASE, event_id, at or moment, moment, settings or Settings()
    )
    return CountedPurchase(row, counted=True, started=started)


def do_purchase(
    session: Session,
    customer_id: int,
    *,
    purchase_id: str,
    at: datetime | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> int:
    """`do_count_purchase` by customer id: how many SOPs the purchase started."""
    counted = do_count_purchase(
        session, customer_id, purchase_id=purchase_id, at=at, now=now, settings=settings
    )
    return counted.started


def run_sequences(
    session: Session,
    customer: CustomerRow,
    trigger: Trigger,
    event_id: str,
    at: datetime,
    now: datetime,
    settings: Settings,
) -> int:
    """Start every published SOP that `trigger` applies to; how many started."""
    started = 0
    event = CustomerEvent(trigger, at, event_id)
    for sop, version in published_for(session, trigger):
        base = f"customer:{customer.id}:{sop.id}:{event_id}"
        if session.scalar(select(TimerRow.id).where(TimerRow.key == base)) is not None:
            continue
        person = engine_customer(customer)
        if not sequence_applies(sop, person, event, now):
            continue
        decisions: list[Decision] = []
        case_id: int | None = None
        if runs_as_case(sop):
            case_id = _open_proactive_case(session, customer, sop, event, base, now, settings)
        else:
            calendar = calendar_for(session, sop, settings)
            decisions = customer_sequence(sop, person, event, now, calendar)
            if not decisions:
                continue
        started_with = {"sop_id": sop.id, "version": version.version}
        _marker(session, base, customer, at, now, {**started_with, "case_id": case_id})
        log_event(
            session,
            "sequence.started",
            now,
            case_id=case_id,
            customer_id=customer.id,
            **started_with,
            trigger=trigger.value,
            event=event_id,
        )
        for decision in decisions:
            apply_sequence_decision(session, customer, sop, version, decision, now, settings)
        started += 1
    return started


def _open_proactive_case(
    session: Session,
    customer: CustomerRow,
    sop: FrontMatter,
    event: CustomerEvent,
    key: str,
    now: datetime,
    settings: Settings,
) -> int:
    """Open the case a person works the triggered SOP in; its run counts from the event.

    No message starts it, so nobody is acknowledged: the SOP's own system steps (a
    welcome e-mail) and the people's replies are what the customer receives.
    """
    route = {
        "source": "trigger",
        "sop_id": sop.id,
        "trigger": event.trigger.value,
        "event": event.id,
        "explain": f"started by {_describe(event, customer)}",
    }
    request = CaseRequest(
        customer_email=customer.email,
        customer_name=customer.name,
        subject=f"{sop.title}: {customer.name or customer.email}",
        channel="internal",
        sop_id=sop.id,
        opened_at=event.at,
        external_source="sequence",
        external_id=key,
        route=route,
    )
    return open_case(session, request, now, settings).id


def _describe(event: CustomerEvent, customer: CustomerRow) -> str:
    if event.trigger is Trigger.PURCHASE:
        return f"purchase {event.id.removeprefix('purchase-')} (number {customer.purchases})"
    return "the customer's creation"


def _marker(
    session: Session,
    key: str,
    customer: CustomerRow,
    at: datetime,
    now: datetime,
    payload: dict[str, Any],
) -> None:
    session.add(
        TimerRow(
            key=key,
            customer_id=customer.id,
            kind="marker",
            due_at=at,
            status=TimerStatus.DONE.value,
            attempts=0,
            payload=payload,
            created_at=now,
            fired_at=now,
        )
    )


def apply_sequence_decision(
    session: Session,
    customer: CustomerRow,
    sop: FrontMatter,
    version: Published | SopVersion,
    decision: Decision,
    now: datetime,
    settings: Settings,
) -> None:
    ids: dict[str, Any] = {"customer_id": customer.id}
    match decision:
        case SendTemplate():
            queue_customer_email(session, customer, sop, version, decision, now, settings)
        case OpenTask():
            log_event(
                session,
                "task.opened",
                now,
                **ids,
                key=decision.key,
                sop_id=sop.id,
                step_id=decision.step_id,
                title=decision.title,
                owner=decision.owner,
                due_at=decision.due_at,
            )
        case ScheduleFollowup():
            payload = {
                "sop_version_id": version.id,
                "followup_id": decision.followup_id,
                "template": decision.template,
                "channel": decision.channel,
                "send_at": decision.send_at.isoformat(),
            }
            schedule_timer(
                session,
                decision.key,
                decision.send_at,
                f"followup:{decision.followup_id}",
                now,
                customer_id=customer.id,
                kind=SEQUENCE_TIMER,
                payload=payload,
            )
            log_event(
                session,
                "followup.scheduled",
                now,
                **ids,
                key=decision.key,
                sop_id=sop.id,
                followup_id=decision.followup_id,
                send_at=decision.send_at,
            )
        case CancelFollowup():
            log_event(
                session,
                "followup.cancelled",
                now,
                **ids,
                key=decision.key,
                followup_id=decision.followup_id,
                reason=decision.reason,
            )


def queue_customer_email(
    session: Session,
    customer: CustomerRow,
    sop: FrontMatter,
    version: Published | SopVersion,
    decision: SendTemplate,
    now: datetime,
    settings: Settings,
) -> OutboxRow | None:
    """Render and queue a sequence's template for the customer (no case, no thread);
    nothing for a customer who unsubscribed or whose address bounces."""
    if outbox_exists(session, decision.key):
        return None
    if stopped := optional_mail_stopped(customer):
        log_event(
            session,
            "followup.cancelled",
            now,
            customer_id=customer.id,
            key=decision.key,
            template=decision.template,
            reason=stopped,
        )
        return None
    template = sop.templates.get(decision.template)
    links = case_links(settings, "", now, customer_id=customer.id, sop_id=sop.id)
    rendering = Rendering(
        settings=settings,
        now=now,
        customer=customer_context(customer),
        links=links,
        case={"reference": "", "subject": "", "fields": {}, "url": links["case"]},
        sop=sop,
        sop_version=version.version,
    )
    try:
        if template is None or decision.channel != "email":
            raise SopdeskError(f"cannot send {decision.template!r} by e-mail")
        subject, text, html = render_template_payload(template, rendering, sop.title)
    except SopdeskError as exc:
        log_event(
            session,
            "message.failed",
            now,
            customer_id=customer.id,
            key=decision.key,
            template=decision.template,
            reason=exc.message,
        )
        return None
    payload = email_payload(
        key=decision.key,
        subject=subject,
        text=text,
        html=html,
        to=[Mailbox(customer.email, customer.name)],
        settings=settings,
        thread=Thread(),
        case_reference=None,
        automatic=True,
        template=decision.template,
        unsubscribe_url=links["unsubscribe"],
    )
    row = email_outbox_row(decision.key, payload, now, customer_id=customer.id)
    session.add(row)
    log_event(
        session,
        "message.queued",
        now,
        customer_id=customer.id,
        key=decision.key,
        template=decision.template,
        sop_id=sop.id,
    )
    return row
