"""Queueing outgoing mail: a message row on the case and an outbox row, together.

The worker sends what is queued here (`sopdesk worker`, see docs/cases.md). The
outbox row's `key` is the idempotency key: queueing the same key twice is a no-op, and
the Message-ID (`message_id_for(key, ...)`) is known before sending, so a customer's
answer threads onto the case even while the worker is still retrying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from sopdesk.actions.case_state import LoadedCase, log_event
from sopdesk.actions.context import (
    Agent,
    KnownConversation,
    Rendering,
    Thread,
    case_context,
    case_links,
    customer_context,
    email_outbox_values,
    email_payload,
    own_message_id,
    queue_email,
    render_template_payload,
)
from sopdesk.actions.messages import insert_message
from sopdesk.channels.email_in import Attachment
from sopdesk.channels.email_out import (
    InvalidMessageError,
    Mailbox,
    OutgoingAttachment,
    reply_subject,
)
from sopdesk.engine import SendTemplate
from sopdesk.errors import SopdeskError
from sopdesk.settings import Settings
from sopdesk.sop.model import FrontMatter, Template
from sopdesk.store.tables import (
    AttachmentRow,
    CaseRow,
    CustomerRow,
    MessageKindValue,
    MessageRow,
    OutboxRow,
)

MAX_REFERENCES = 20


def outbox_exists(session: Session, key: str) -> bool:
    return session.scalar(select(OutboxRow.id).where(OutboxRow.key == key)) is not None


def already_queued(session: Session, loaded: LoadedCase, key: str) -> bool:
    """True if `key` is in the outbox; else it is claimed for the caller to queue now."""
    if loaded.outbox_keys is None:
        return outbox_exists(session, key)
    if key in loaded.outbox_keys:
        return True
    loaded.outbox_keys.add(key)
    return False


def thread_for(session: Session, case_id: int) -> Thread:
    """Parent (the customer's latest message) and the thread's Message-IDs, oldest first."""
    query = (
        select(MessageRow.message_id, MessageRow.kind)
        .where(MessageRow.case_id == case_id, MessageRow.message_id.is_not(None))
        .order_by(MessageRow.created_at, MessageRow.id)
    )
    rows = [(mid, kind) for mid, kind in session.execute(query) if mid]
    inbound = [mid for mid, kind in rows if kind == MessageKindValue.INBOUND.value]
    ids = [mid for mid, _ in rows]
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return Thread(inbound[-1] if inbound else None, tuple(ids))


def description_of(session: Session, case_id: int) -> str:
    query = (
        select(MessageRow.text)
        .where(MessageRow.case_id == case_id, MessageRow.kind == MessageKindValue.INBOUND.value)
        .order_by(MessageRow.created_at, MessageRow.id)
        .limit(1)
    )
    return session.scalar(query) or ""


def case_rendering(
    session: Session,
    case: CaseRow,
    settings: Settings,
    now: datetime,
    *,
    sop: FrontMatter | None = None,
    sop_version: int | None = None,
    agent: Agent | None = None,
    step: dict[str, Any] | None = None,
    known: KnownConversation | None = None,
) -> Rendering:
    customer = case.customer
    count = known.customer_cases if known else None
    if count is None:
        query = select(func.count(CaseRow.id)).where(CaseRow.customer_id == customer.id)
        count = session.scalar(query) or 0
    description = known.description if known else description_of(session, case.id)
    links = case_links(settings, case.reference or "", now)
    return Rendering(
        settings=settings,
        now=now,
        customer=customer_context(customer, count),
        case=case_context(case, description, now, {"url": links["case"]}),
        links=links,
        sop=sop,
        sop_version=sop_version,
        agent=agent or Agent(name=case.assignee or Agent().name),
        step=step,
    )


def queue_case_email(
    session: Session,
    case: CaseRow,
    settings: Settings,
    now: datetime,
    *,
    key: str,
    subject: str,
    text: str,
    html: str | None,
    author: str,
    automatic: bool,
    template: str | None = None,
    unsubscribe_url: str | None = None,
    thread: Thread | None = None,
    files: Sequence[Attachment] = (),
) -> MessageRow:
    """An outbound message on the case and its outbox row, threaded on the conversation.

    `thread`: the conversation's threading when the caller knows it; read otherwise.
    `files` are kept as the message's attachments and sent with it.
    """
    thread = thread or thread_for(session, case.id)
    customer: CustomerRow = case.customer
    values = {
        "case_id": case.id,
        "kind": MessageKindValue.OUTBOUND.value,
        "author": author,
        "from_address": settings.support_address,
        "to_addresses": [customer.email],
        "cc_addresses": [],
        "subject": subject,
        "text": text,
        "full_text": None,
        "html": html,
        "raw": None,
        "message_id": own_message_id(settings, key),
        "in_reply_to": thread.in_reply_to,
        "references": list(thread.references),
        "auto_reply": False,
        "automated": automatic,
        "created_at": now,
        "sent_at": None,
        "delivery_failed_at": None,
        "delivery_error": None,
    }
    message = insert_message(session, values, files)
    payload = email_payload(
        key=key,
        subject=subject,
        text=text,
        html=html,
        to=[Mailbox(customer.email, customer.name)],
        settings=settings,
        thread=thread,
        case_reference=case.reference,
        automatic=automatic,
        template=template,
        message_row_id=message.id,
        unsubscribe_url=unsubscribe_url,
        attachments=[row.id for row in message.attachments] if files else (),
    )
    queue_email(session, email_outbox_values(key, payload, now, case.id, case.customer_id))
    return message


def outbox_attachments(session: Session, payload: Mapping[str, Any]) -> list[OutgoingAttachment]:
    """The files an outbox payload sends (`email_payload`'s `attachments`), in order;
    `InvalidMessageError` when one is gone, so the e-mail is never sent without it."""
    wanted = [int(i) for i in payload.get("attachments") or []]
    if not wanted:
        return []
    query = (
        select(AttachmentRow)
        .where(AttachmentRow.id.in_(wanted))
        .options(undefer(AttachmentRow.content))
    )
    found = {row.id: row for row in session.scalars(query)}
    if missing := [i for i in wanted if i not in found]:
        raise InvalidMessageError(f"the e-mail's attachments {missing} are gone")
    rows = [found[i] for i in wanted]
    return [OutgoingAttachment(r.filename or "attachment", r.content, r.content_type) for r in rows]


def queue_template(
    session: Session,
    loaded: LoadedCase,
    decision: SendTemplate,
    now: datetime,
    *,
    step: dict[str, Any] | None = None,
) -> MessageRow | None:
    """Render and queue an SOP template the engine decided to send; None if it cannot go."""
    case, sop = loaded.case, loaded.sop
    if already_queued(session, loaded, decision.key):
        return None
    template = sop.templates.get(decision.template) if sop else None
    why = _cannot_send(template, decision.channel, case)
    if why is None and template is not None:
        version = loaded.version_number()
        known, loaded.known = loaded.known, None  # the thread gains this message
        rendering = case_rendering(
            session,
            case,
            loaded.settings,
            now,
            sop=sop,
            sop_version=version,
            step=step,
            known=known,
        )
        try:
            subject, text, html = render_template_payload(template, rendering, case.subject)
        except SopdeskError as exc:
            why = exc.message
        else:
            message = queue_case_email(
                session,
                case,
                loaded.settings,
                now,
                key=decision.key,
                subject=subject,
                text=text,
                html=html,
                author="system",
                automatic=True,
                template=decision.template,
                unsubscribe_url=(
                    rendering.links["unsubscribe"]
                    if decision.target.startswith("followup:")
                    else None
                ),
                thread=known.thread if known else None,
            )
            log_event(
                session,
                "message.queued",
                now,
                case_id=case.id,
                customer_id=case.customer_id,
                key=decision.key,
                template=decision.template,
                message=message.id,
            )
            return message
    log_event(
        session,
        "message.failed",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        key=decision.key,
        template=decision.template,
        reason=why,
    )
    return None


def _cannot_send(template: Template | None, channel: str, case: CaseRow) -> str | None:
    if template is None:
        return "the SOP has no such template"
    if channel != "email":
        return f"sopdesk cannot send {channel} messages yet; send it by hand"
    if not case.customer.email or case.customer.email.endswith(".invalid"):
        return "the customer has no e-mail address"
    return None


def reply_text_subject(case: CaseRow) -> str:
    return reply_subject(case.subject or "your message")
