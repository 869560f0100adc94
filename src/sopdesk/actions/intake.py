"""E-mail intake: raw bytes in, a message on a case (new or existing) out — or quarantine.

`do_receive_email` is what `sopdesk mail serve` and `sopdesk mail poll` call for every
message, in one transaction:

1. parse (`channels.email_in.parse_inbound`); unusable bytes go to `quarantine`,
   byte for byte — never dropped;
2. a Message-ID already stored is a duplicate: nothing new is written;
3. thread by In-Reply-To/References, then by the case token in the subject;
4. machines (auto-replies, bounces, lists) and mail loops are stored on the case
   they thread onto but start nothing, reopen nothing and count for no clock; with no
   case to thread onto they are quarantined; a bounce that reports a permanent failure
   marks the message it returns as not delivered (`actions.delivery`);
5. a person's reply is added to its case through the engine (a resolved case
   reopens, paused clocks resume); a closed case, one resolved longer ago than
   `close_resolved_after_days` (`auto_close`), or no match opens a new case, routed
   to its SOP (a follow-up of the old one).

The case shows the reply without its quoted history; `full_text` and `raw` keep the
original as received.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.auto_close import counts_as_closed
from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_reads import surviving_case
from sopdesk.actions.case_runs import status_events, transition
from sopdesk.actions.case_state import atomic_case, load_case, log_event
from sopdesk.actions.cases import CaseRequest, open_case
from sopdesk.actions.context import message_id_domain
from sopdesk.actions.customers import find_customer
from sopdesk.actions.delivery import record_bounces
from sopdesk.actions.messages import NewMessage, store_message
from sopdesk.assist.routing import Classifier
from sopdesk.channels.email_in import (
    AutoReplyKind,
    ParsedEmail,
    Quarantined,
    ThreadMatch,
    detect_auto_reply,
    failed_recipients,
    is_mail_loop,
    parse_inbound,
    resolve_thread,
    returned_message_ids,
    strip_quoted,
    thread_keys,
)
from sopdesk.engine import Message, MessageKind, add_message
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    CaseRow,
    CaseStatusValue,
    MessageRow,
    QuarantineRow,
)


@dataclass(frozen=True)
class IntakeResult:
    """What happened to one inbound message."""

    outcome: str  # "new_case" | "reply" | "auto_reply" | "duplicate" | "quarantined"
    case_id: int | None = None
    case_reference: str | None = None
    message_row_id: int | None = None
    quarantine_id: int | None = None
    threaded_via: str | None = None
    reopened: bool = False
    reason: str | None = None


@atomic_case
def do_receive_email(
    session: Session,
    raw: bytes,
    *,
    received_at: datetime | None = None,
    our_addresses: Collection[str] | None = None,
    settings: Settings | None = None,
    classifier: Classifier | None = None,
    source: str = "email",
) -> IntakeResult:
    """Take in one raw message; see the module docstring for the order of checks."""
    moment, settings = resolve_now(received_at), settings or Settings()
    parsed = parse_inbound(raw, received_at=moment)
    if isinstance(parsed, Quarantined):
        reason = f"{parsed.reason.value}: {parsed.detail}".rstrip(": ")
        return _quarantine(session, parsed.raw, reason, source, moment)
    known = session.scalar(select(MessageRow).where(MessageRow.message_id == parsed.message_id))
    if known is not None:
        case = session.get(CaseRow, known.case_id)
        return IntakeResult("duplicate", known.case_id, case.reference if case else None, known.id)
    ours = [settings.support_address, *settings.support_addresses, *(our_addresses or ())]
    machine = detect_auto_reply(parsed)
    loop = is_mail_loop(parsed, ours, message_id_domain(settings))
    match = _thread(session, parsed)
    case = session.get(CaseRow, match.case_id) if match else None
    if case is not None:  # a case merged into another: the mail goes to that one
        case = surviving_case(session, case)
    if machine is not None or loop:
        why = f"mail loop ({machine.value if machine else 'our own mail'})" if loop else None
        why = why or f"automatic message ({machine.value if machine else ''})"
        if match is None or case is None:
            return _quarantine(
                session, parsed.raw, f"{why} with no case to thread onto", source, moment
            )
        return _store_machine(session, case, match, parsed, why, moment, machine)
    closed = case is None or counts_as_closed(
        case.status, case.resolved_at, moment, settings.close_resolved_after_days
    )
    if match is not None and case is not None and not closed:
        return _reply(session, case, match, parsed, moment, settings)
    return _new_case(session, parsed, moment, settings, classifier, follow_up_of=case)


def _quarantine(
    session: Session, raw: bytes, reason: str, source: str, now: datetime
) -> IntakeResult:
    row = QuarantineRow(raw=raw, reason=reason[:2000], source=source, received_at=now)
    session.add(row)
    session.flush()
    return IntakeResult("quarantined", quarantine_id=row.id, reason=reason)


def _thread(session: Session, parsed: ParsedEmail) -> ThreadMatch[int] | None:
    keys = thread_keys(parsed)
    known: dict[str, int] = {}
    if keys.message_ids:
        query = select(MessageRow.message_id, MessageRow.case_id).where(
            MessageRow.message_id.in_(keys.message_ids)
        )
        known = {mid: case_id for mid, case_id in session.execute(query) if mid}
    tokens: dict[str, int] = {}
    if keys.case_token and not known:
        found = session.scalar(select(CaseRow.id).where(CaseRow.reference == keys.case_token))
        machine = keys.auto_reply is not None  # bounces come from daemons, not people
        if found is not None and (machine or _takes_part(session, found, parsed.from_.address)):
            tokens = {keys.case_token: found}
    return resolve_thread(keys, known, tokens)


def _takes_part(session: Session, case_id: int, sender: str) -> bool:
    """True when `sender` is the case's customer (any of their addresses) or wrote or was
    sent one of its messages.

    Case tokens are guessable ("[SD-1042]"), so a token alone only threads a person's
    mail when they are already on the case; anyone else's mail starts a case of its
    own instead of landing in a stranger's case. Automatic mail (bounces, out-of-office)
    still threads by token: it is stored, never reopens the case, and a bounce names
    the case it belongs to.
    """
    address = (sender or "").strip().lower()
    if not address:
        return False
    owner = session.scalar(select(CaseRow.customer_id).where(CaseRow.id == case_id))
    try:
        sender_customer = find_customer(session, address)
    except InvalidInput:  # not an address a customer could have
        sender_customer = None
    if sender_customer is not None and sender_customer.id == owner:
        return True  # the customer, from their own address or another of theirs
    rows = session.execute(
        select(MessageRow.from_address, MessageRow.to_addresses, MessageRow.cc_addresses).where(
            MessageRow.case_id == case_id
        )
    )
    return any(
        address in {a.lower() for a in (sent_by or "", *(to or ()), *(cc or ()))}
        for sent_by, to, cc in rows
    )


def _new_message(parsed: ParsedEmail, *, auto_reply: bool = False) -> NewMessage:
    reply, _quoted = strip_quoted(parsed.text)
    return NewMessage(
        text=reply,
        subject=parsed.subject,
        full_text=parsed.text,
        html=parsed.html,
        raw=parsed.raw,
        from_address=parsed.from_.address,
        author=parsed.from_.address,
        to_addresses=tuple(a.address for a in parsed.to),
        cc_addresses=tuple(a.address for a in parsed.cc),
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to[0] if parsed.in_reply_to else None,
        references=parsed.references,
        attachments=parsed.attachments,
        auto_reply=auto_reply,
    )


def _store_machine(
    session: Session,
    case: CaseRow,
    match: ThreadMatch[int],
    parsed: ParsedEmail,
    why: str,
    now: datetime,
    machine: AutoReplyKind | None,
) -> IntakeResult:
    row = store_message(session, case, _new_message(parsed, auto_reply=True), at=now)
    log_event(
        session,
        "message.received",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        actor=parsed.from_.address,
        message=row.id,
        auto_reply=why,
        via=match.via,
    )
    if machine is AutoReplyKind.BOUNCE:
        returned = [*returned_message_ids(parsed), *parsed.in_reply_to, *parsed.references]
        record_bounces(session, case.id, returned, failed_recipients(parsed), now)
    return IntakeResult(
        "auto_reply", case.id, case.reference, row.id, threaded_via=match.via, reason=why
    )


def _reply(
    session: Session,
    case: CaseRow,
    match: ThreadMatch[int],
    parsed: ParsedEmail,
    now: datetime,
    settings: Settings,
) -> IntakeResult:
    loaded = load_case(session, case.id, settings)
    before = case.status
    row = store_message(session, case, _new_message(parsed), at=now)
    log_event(
        session,
        "message.received",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        actor=parsed.from_.address,
        message=row.id,
        via=match.via,
    )
    if loaded.state is not None:
        message = Message(str(row.id), MessageKind.INBOUND, now, author=parsed.from_.address)
        transition(session, loaded, lambda s, w: add_message(s, w, message), now, "customer")
    elif case.status in (CaseStatusValue.RESOLVED.value, CaseStatusValue.PENDING.value):
        case.reopen_count += case.status == CaseStatusValue.RESOLVED.value
        case.status = CaseStatusValue.OPEN.value
        case.resolved_at = None
        status_events(session, case, before, now, "customer")
    case.updated_at = now
    reopened = before == CaseStatusValue.RESOLVED.value and case.status != before
    return IntakeResult(
        "reply", case.id, case.reference, row.id, threaded_via=match.via, reopened=reopened
    )


def _new_case(
    session: Session,
    parsed: ParsedEmail,
    now: datetime,
    settings: Settings,
    classifier: Classifier | None,
    *,
    follow_up_of: CaseRow | None,
) -> IntakeResult:
    message = _new_message(parsed)
    fields = {"follow_up_of": follow_up_of.reference} if follow_up_of is not None else {}
    request = CaseRequest(
        customer_email=parsed.from_.address,
        customer_name=parsed.from_.name,
        subject=parsed.subject or "(no subject)",
        body=message.text,
        channel="email",
        fields=fields,
        opened_at=now,
        message=message,
    )
    case = open_case(session, request, now, settings, classifier=classifier)
    first = session.scalar(select(MessageRow.id).where(MessageRow.case_id == case.id))
    return IntakeResult("new_case", case.id, case.reference, first)


@atomic_case
def do_release_quarantine(
    session: Session,
    quarantine_id: int,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> IntakeResult:
    """A person says a quarantined message is real mail: take it in as a new case.

    The machine and loop guards are skipped (a person decided); bytes that still do
    not parse stay in quarantine with a `Conflict`. Releasing twice is refused.
    """
    moment, settings = resolve_now(now), settings or Settings()
    row = session.get(QuarantineRow, quarantine_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no quarantined message {quarantine_id}")
    if row.released_at is not None:
        raise Conflict(f"quarantined message {quarantine_id} was already released")
    parsed = parse_inbound(row.raw, received_at=row.received_at)
    if isinstance(parsed, Quarantined):
        raise Conflict(
            f"message {quarantine_id} still cannot be read ({parsed.reason.value})",
            hint="download the raw message and forward it from a mail client",
        )
    known = session.scalar(select(MessageRow).where(MessageRow.message_id == parsed.message_id))
    if known is not None:
        raise Conflict(f"message {quarantine_id} is already on a case", case_id=known.case_id)
    result = _new_case(session, parsed, moment, settings, None, follow_up_of=None)
    row.released_at, row.case_id = moment, result.case_id
    log_event(
        session,
        "quarantine.released",
        moment,
        case_id=result.case_id,
        actor=by,
        quarantine_id=quarantine_id,
        reason=row.reason,
    )
    return result
