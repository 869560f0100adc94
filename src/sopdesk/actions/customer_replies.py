"""A customer's reply typed on their case page (the signed link), taken in like e-mail.

The page does not get its own way into a case: the reply is written as the e-mail the
customer could have sent (From the customer, In-Reply-To the case's latest message,
the case token in the subject) and handed to `do_receive_email`. So threading, the
engine's reopen of a resolved case, a closed case becoming a follow-up case, the event
log and the stored original are exactly what intake does for mail.

`key` (a random value the form carries) makes the Message-ID, so a form submitted
twice is one message: intake answers the second with `duplicate`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_reads import surviving_case
from sopdesk.actions.context import message_id_domain
from sopdesk.actions.intake import IntakeResult, do_receive_email
from sopdesk.actions.messages import MB, FileLimits
from sopdesk.actions.surveys import case_for_reference
from sopdesk.channels.email_in import Attachment, format_case_token
from sopdesk.channels.email_out import reply_subject
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.store.tables import MessageRow

MAX_REPLY = 20_000
WEB_SOURCE = "web-link"


def check_reply(text: object) -> str:
    """The reply's text, or `InvalidInput` when it is empty, too long or unstorable."""
    body = text.replace("\r\n", "\n").strip() if isinstance(text, str) else ""
    if not body:
        raise InvalidInput("write a message before you send it")
    if len(body) > MAX_REPLY:
        raise InvalidInput(f"a message may have at most {MAX_REPLY:,} characters")
    if "\x00" in body:
        raise InvalidInput("the message holds a character that cannot be stored")
    return body


def reply_message_id(settings: Settings, reference: str, key: str) -> str:
    """A Message-ID for the web reply, on a domain that is not our outgoing one.

    Intake treats our own Message-ID domain as a mail loop, so web replies use the
    `web.` sub-domain; the id is an HMAC so nobody can pre-empt it with a forged mail.
    """
    digest = hmac.new(
        settings.secret_key.encode(), f"web-reply|{reference}|{key}".encode(), hashlib.sha256
    )
    return f"<web.{digest.hexdigest()[:40]}@web.{message_id_domain(settings)}>"


def reply_email(
    *,
    customer_email: str,
    subject: str,
    reference: str,
    parent: str | None,
    text: str,
    message_id: str,
    to: str,
    now: datetime,
    files: Sequence[Attachment] = (),
) -> bytes:
    """The RFC 5322 bytes of the reply, as the customer's mail client would send it,
    with `files` attached."""
    message = EmailMessage()
    message["From"] = customer_email
    message["To"] = to
    message["Subject"] = f"{reply_subject(subject or reference)} {format_case_token(reference)}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    if parent:
        message["In-Reply-To"] = f"<{parent}>"
        message["References"] = f"<{parent}>"
    message["X-Sopdesk-Source"] = WEB_SOURCE
    message.set_content(text)
    for file in files:
        maintype, _, subtype = file.content_type.partition("/")
        name = file.filename or "attachment"
        message.add_attachment(file.data, maintype, subtype or "octet-stream", filename=name)
    return message.as_bytes()


PAGE_FILES = FileLimits(5, 20 * MB)
"""What a customer may attach to a message written on a page (their case page, or an
agent's New case page for them)."""


def do_customer_reply(
    session: Session,
    reference: str,
    text: str,
    *,
    key: str,
    settings: Settings,
    now: datetime | None = None,
    files: Sequence[Attachment] = (),
) -> IntakeResult:
    """Add the customer's reply to case `reference` through e-mail intake (one transaction);
    `files` arrive as the e-mail's attachments."""
    moment = resolve_now(now)
    body = check_reply(text)
    PAGE_FILES.check(files)
    case = surviving_case(session, case_for_reference(session, reference))
    parent = session.scalar(
        select(MessageRow.message_id)
        .where(MessageRow.case_id == case.id, MessageRow.message_id.is_not(None))
        .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
        .limit(1)
    )
    raw = reply_email(
        customer_email=case.customer.email,
        subject=case.subject,
        reference=reference,
        parent=parent,
        text=body,
        message_id=reply_message_id(settings, reference, key),
        to=settings.support_address,
        now=moment,
        files=files,
    )
    session.rollback()  # only reads so far; intake runs its own transaction
    return do_receive_email(session, raw, received_at=moment, settings=settings, source=WEB_SOURCE)
