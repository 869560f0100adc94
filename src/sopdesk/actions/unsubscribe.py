"""Unsubscribing a customer from follow-ups and sequence messages (the signed link).

What an unsubscribe stops is a pure rule here, so the page, the one-click POST
(RFC 8058) and the queueing side agree on it:

- it stops messages nobody asked for: a case's follow-ups (survey, review request:
  outbox keys `<case>:followup:...`, timers of kind `followup`) and every message of a
  customer sequence (onboarding, recognition: keys `customer:<id>:...`, timers of kind
  `sequence`);
- it never stops a transactional message: an agent's reply, a step's template sent
  while a case is open (the acknowledgement), an escalation notice to staff.

`do_unsubscribe` records the moment (the first one is kept), cancels what is pending
now and logs `customer.unsubscribed`, in one transaction. `optional_mail_stopped` is
the check that keeps later follow-ups from being queued for the customer; an address
marked as bouncing (`actions.delivery`) stops the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.errors import NotFound
from sopdesk.store.tables import (
    CaseRow,
    CustomerRow,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    TimerRow,
    TimerStatus,
)

SEQUENCE_PREFIX = "customer:"
FOLLOWUP_MARK = ":followup:"
CANCELLED_NOTE = "cancelled: the customer unsubscribed from follow-ups"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "address bounced"
NOTES = {
    UNSUBSCRIBED: CANCELLED_NOTE,
    BOUNCED: "cancelled: mail to the customer's address bounces",
}
WAITING_OUTBOX = (OutboxStatus.PENDING.value, OutboxStatus.FAILED.value)
CANCELLED_TIMER_KINDS = frozenset({"followup", "sequence"})


def is_optional_message(key: str) -> bool:
    """True for an outbox key an unsubscribe stops: a follow-up or a sequence message."""
    return key.startswith(SEQUENCE_PREFIX) or FOLLOWUP_MARK in key


def is_optional_timer(kind: str) -> bool:
    """True for a timer that would release a follow-up or a sequence message."""
    return kind in CANCELLED_TIMER_KINDS


def optional_mail_stopped(customer: CustomerRow) -> str | None:
    """Why follow-ups and sequence messages skip this customer (`UNSUBSCRIBED`, or
    `BOUNCED` while their address is marked as bouncing), or None: they may be sent."""
    if customer.unsubscribed_at is not None:
        return UNSUBSCRIBED
    if customer.email_bounced_at is not None:
        return BOUNCED
    return None


@dataclass(frozen=True)
class Unsubscribed:
    """What one unsubscribe did; `already` when the customer had unsubscribed before."""

    customer_id: int
    unsubscribed_at: datetime
    already: bool
    outbox_cancelled: int
    timers_cancelled: int


@atomic_case
def do_unsubscribe(
    session: Session, customer_id: int, *, via: str = "link", now: datetime | None = None
) -> Unsubscribed:
    """Stop the customer's follow-ups and sequence messages, now and later.

    Repeating it is harmless: the first moment is kept and there is nothing left to
    cancel. A message the worker is sending at this instant (`sending`) is left to it.
    """
    moment = resolve_now(now)
    customer = session.get(CustomerRow, customer_id, with_for_update=True)
    if customer is None:
        raise NotFound("there is no customer for this link")
    already = customer.unsubscribed_at is not None
    if not already:
        customer.unsubscribed_at = moment
        customer.updated_at = moment
    stopped, paused = cancel_optional(session, customer, moment)
    log_event(
        session,
        "customer.unsubscribed",
        moment,
        customer_id=customer.id,
        actor="customer",
        via=via,
        already=already,
        outbox_cancelled=[row.key for row in stopped],
        timers_cancelled=[timer.key for timer in paused],
    )
    return Unsubscribed(
        customer.id, customer.unsubscribed_at or moment, already, len(stopped), len(paused)
    )


def cancel_optional(
    session: Session, customer: CustomerRow, moment: datetime, *, reason: str = UNSUBSCRIBED
) -> tuple[list[OutboxRow], list[TimerRow]]:
    """Cancel the customer's waiting optional e-mails and pending optional timers (what an
    unsubscribed customer must not get); each e-mail's cancellation is logged with
    `reason` (`UNSUBSCRIBED` or `BOUNCED`)."""
    note = NOTES[reason]
    case_ids = select(CaseRow.id).where(CaseRow.customer_id == customer.id)
    stopped = cancel_waiting_messages(session, OutboxRow.customer_id == customer.id, note)
    timers = session.scalars(
        select(TimerRow)
        .where(
            or_(TimerRow.customer_id == customer.id, TimerRow.case_id.in_(case_ids)),
            TimerRow.status == TimerStatus.PENDING.value,
        )
        .with_for_update()
    )
    paused = [row for row in timers if is_optional_timer(row.kind)]
    for timer in paused:
        timer.status, timer.last_error = TimerStatus.CANCELLED.value, note
    for row in stopped:
        log_event(
            session,
            "followup.cancelled",
            moment,
            case_id=row.case_id,
            customer_id=customer.id,
            key=row.key,
            reason=reason,
        )
    return stopped, paused


def cancel_waiting_messages(
    session: Session, where: ColumnElement[bool], note: str
) -> list[OutboxRow]:
    """Cancel the optional e-mails (follow-ups, sequence messages) `where` selects that
    are still waiting to be sent, locked first; the rows cancelled."""
    waiting = session.scalars(
        select(OutboxRow)
        .where(
            where,
            OutboxRow.kind == OutboxKind.EMAIL.value,
            OutboxRow.status.in_(WAITING_OUTBOX),
        )
        .with_for_update()
    )
    stopped = [row for row in waiting if is_optional_message(row.key)]
    for row in stopped:
        row.status, row.last_error = OutboxStatus.CANCELLED.value, note
    return stopped
