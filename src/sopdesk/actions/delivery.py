"""Whether our e-mail reached the customer: sent, refused for good, or bounced.

The worker calls `record_sent` when the relay took a message and `record_relay_refusal`
when it refused it for good (a dead letter); e-mail intake calls `record_bounces` when a
bounce reports that a message we sent will never arrive. The outbound message then says
so on the case page and in the API, and the case's event log has a
`message.delivery_failed` event (also a webhook). The case, its SOP and its clocks go
on: what to do next (phone the customer, correct the address) is a person's call.

When the failure says the customer's own address does not exist (5.1.1 "no such user",
5.1.2 "no such domain", 5.2.1 "mailbox disabled"), the customer is marked
(`email_bounced_at`, `customer.email_bounced`) and their follow-ups and sequence messages
stop, as for an unsubscribe: sending more mail to a dead address only harms the sending
domain's reputation. Correcting the address, or `do_clear_bounce` (the agent knows it
works again), lifts the mark; follow-ups cancelled meanwhile stay cancelled.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.actions.customers import customer_by_key
from sopdesk.actions.unsubscribe import BOUNCED, cancel_optional
from sopdesk.channels.email_in import FailedRecipient, address_gone, enhanced_status
from sopdesk.store.queries import one_of
from sopdesk.store.tables import (
    CaseRow,
    CustomerRow,
    MessageKindValue,
    MessageRow,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
)

MAX_ERROR_CHARS = 2000


def record_sent(session: Session, message_row_id: int, at: datetime) -> None:
    """The relay took the message: it is sent (a failure an earlier attempt left is gone)."""
    session.execute(
        update(MessageRow)
        .where(MessageRow.id == message_row_id)
        .values(sent_at=at, delivery_failed_at=None, delivery_error=None)
    )


def record_relay_refusal(session: Session, message_row_id: int, error: str, at: datetime) -> bool:
    """Our SMTP relay refused the message for good (the worker made it a dead letter).

    When the relay's reply says the address does not exist ("550 5.1.1"), the customer's
    address is marked as bouncing too (`mark_address_bounced`).
    """
    to = session.scalar(select(MessageRow.to_addresses).where(MessageRow.id == message_row_id))
    gone = list(to or ()) if address_gone(enhanced_status(error)) else []
    return record_delivery_failure(
        session, message_row_id, f"not sent: {error}", at, via="relay", gone=gone
    )


def record_delivery_failure(
    session: Session,
    message_row_id: int,
    error: str,
    at: datetime,
    *,
    via: str,
    gone: Collection[str] = (),
) -> bool:
    """Mark an outbound message as not delivered and log it on its case.

    `via`: "relay" (our SMTP relay refused it) or "bounce" (the recipient's server sent
    it back). `gone`: recipients the failure says do not exist; if the customer's own
    address is one of them, the customer is marked too. A message already marked keeps
    its first failure; False then, and when the message is gone or is not outbound.
    """
    row = session.execute(
        select(MessageRow.case_id, CaseRow.customer_id)
        .join(CaseRow, CaseRow.id == MessageRow.case_id)
        .where(
            MessageRow.id == message_row_id,
            MessageRow.kind == MessageKindValue.OUTBOUND.value,
            MessageRow.delivery_failed_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return False
    error = error[:MAX_ERROR_CHARS]
    session.execute(
        update(MessageRow)
        .where(MessageRow.id == message_row_id)
        .values(delivery_failed_at=at, delivery_error=error)
    )
    log_event(
        session,
        "message.delivery_failed",
        at,
        case_id=row.case_id,
        customer_id=row.customer_id,
        message=message_row_id,
        error=error,
        via=via,
    )
    if gone:
        mark_address_bounced(session, row.customer_id, gone, error, at, case_id=row.case_id)
    return True


def mark_address_bounced(
    session: Session,
    customer_id: int,
    gone: Collection[str],
    error: str,
    at: datetime,
    *,
    case_id: int | None = None,
) -> bool:
    """When the customer's own address is among `gone`, remember that it bounces and
    stop their waiting follow-ups and sequence messages (as an unsubscribe does; an
    agent's reply and a case's acknowledgement still go). True when newly marked.
    """
    customer = session.get(CustomerRow, customer_id, with_for_update=True)
    wanted = {address.lower() for address in gone}
    if customer is None or customer.email not in wanted or customer.email_bounced_at:
        return False
    customer.email_bounced_at, customer.email_bounce = at, error[:MAX_ERROR_CHARS]
    stopped, paused = cancel_optional(session, customer, at, reason=BOUNCED)
    log_event(  # about the customer (their page lists it), naming the case it came from
        session,
        "customer.email_bounced",
        at,
        customer_id=customer.id,
        case=case_id,
        email=customer.email,
        error=customer.email_bounce,
        outbox_cancelled=[row.key for row in stopped],
        timers_cancelled=[timer.key for timer in paused],
    )
    return True


def record_bounces(
    session: Session,
    case_id: int,
    message_ids: Collection[str],
    failures: Collection[FailedRecipient],
    at: datetime,
) -> list[int]:
    """Mark the case's outbound messages a bounce returns (by Message-ID) as not
    delivered, when the bounce reports a permanent failure for one of their recipients.

    Returns the ids of the messages newly marked. A delay notice, or a bounce that names
    none of our messages on this case, marks nothing.
    """
    permanent = {f.address: f for f in failures if f.permanent}
    if not permanent or not message_ids:
        return []
    rows = session.execute(
        select(MessageRow.id, MessageRow.to_addresses, MessageRow.cc_addresses).where(
            MessageRow.case_id == case_id,
            MessageRow.kind == MessageKindValue.OUTBOUND.value,
            MessageRow.message_id.in_(list(message_ids)),
        )
    )
    marked: list[int] = []
    for row_id, to, cc in rows:
        hit = [permanent[a.lower()] for a in (*(to or ()), *(cc or ())) if a.lower() in permanent]
        if not hit:
            continue
        error = "bounced: " + "; ".join(f"{f.address}: {f.describe()}" for f in hit)
        gone = [f.address for f in hit if f.address_gone]
        if record_delivery_failure(session, row_id, error, at, via="bounce", gone=gone):
            marked.append(row_id)
    return marked


@dataclass(frozen=True)
class Unsent:
    """Why an outbound message has not gone out yet, from its outbox row."""

    status: str  # failed (to be retried), dead or cancelled
    attempts: int
    last_error: str | None
    next_attempt_at: datetime


def awaiting_delivery(messages: Iterable[MessageRow]) -> bool:
    """True when one of these is an outbound message neither sent nor failed yet: only
    then can the outbox say more about it (`unsent_messages`)."""
    return any(
        m.kind == MessageKindValue.OUTBOUND.value
        and m.sent_at is None
        and m.delivery_failed_at is None
        for m in messages
    )


def unsent_messages(session: Session, case_id: int) -> dict[int, Unsent]:
    """The case's outbound messages held up in the outbox, by message row id: waiting to
    be retried, given up (dead) or cancelled. Queued and sent ones are not listed."""
    held = (OutboxStatus.FAILED.value, OutboxStatus.DEAD.value, OutboxStatus.CANCELLED.value)
    rows = session.execute(
        select(
            OutboxRow.payload,
            OutboxRow.status,
            OutboxRow.attempts,
            OutboxRow.last_error,
            OutboxRow.next_attempt_at,
        ).where(
            OutboxRow.case_id == case_id,
            OutboxRow.kind == OutboxKind.EMAIL.value,
            OutboxRow.status.in_(held),
        )
    )
    return {
        int(payload["message_row_id"]): Unsent(status, attempts, last_error, next_attempt_at)
        for payload, status, attempts, last_error, next_attempt_at in rows
        if payload.get("message_row_id") is not None
    }


@dataclass(frozen=True)
class ClearedBounce:
    """The customer after `do_clear_bounce`; `cleared` False when nothing was marked."""

    customer: CustomerRow
    cleared: bool


@atomic_case
def do_clear_bounce(
    session: Session, customer: int | str, *, by: str, now: datetime | None = None
) -> ClearedBounce:
    """A person knows the customer's address works again: lift the bouncing mark.

    Follow-ups cancelled meanwhile stay cancelled; those due from now on go out. A
    customer whose address is not marked is left as is, and nothing is logged.
    """
    moment = resolve_now(now)
    row = customer_by_key(session, customer)
    if row.email_bounced_at is None:
        return ClearedBounce(row, cleared=False)
    log_event(
        session,
        "customer.bounce_cleared",
        moment,
        customer_id=row.id,
        actor=by,
        email=row.email,
        bounced_at=row.email_bounced_at,
        error=row.email_bounce,
    )
    row.email_bounced_at, row.email_bounce, row.updated_at = None, None, moment
    return ClearedBounce(row, cleared=True)


def last_mail_undelivered(session: Session, case_ids: Collection[int]) -> set[int]:
    """Which of these cases' newest e-mail to the customer was not delivered (for the
    inbox: the customer has not seen our last word, and may never answer)."""
    if not case_ids:
        return set()
    rows = session.execute(
        select(MessageRow.case_id, MessageRow.delivery_failed_at)
        .where(
            one_of(session, MessageRow.case_id, case_ids),
            MessageRow.kind == MessageKindValue.OUTBOUND.value,
        )
        .order_by(MessageRow.case_id, MessageRow.created_at, MessageRow.id)
    )
    newest = dict(rows.all())  # ordered by time: the last one per case wins
    return {case_id for case_id, failed_at in newest.items() if failed_at is not None}


def bouncing_customers(session: Session) -> int:
    """How many customers' addresses are marked as bouncing (their follow-ups stopped)."""
    query = select(func.count(CustomerRow.id)).where(CustomerRow.email_bounced_at.isnot(None))
    return int(session.scalar(query) or 0)
