"""`compose`: an `OutgoingEmail` in, a complete `email.message.EmailMessage` out. Pure.

The same `OutgoingEmail`, `now` and `secret` always give the same message, byte for
byte (the MIME boundary is derived from the Message-ID), so the worker can rebuild a
message after a crash and send exactly what it would have sent.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from sopdesk.channels.email_in import LOOP_HEADER
from sopdesk.channels.email_out.errors import InvalidMessageError
from sopdesk.channels.email_out.headers import (
    MAX_MESSAGE_ID_CHARS,
    clean_message_id,
    header_address,
    header_addresses,
    header_text,
    idempotency_key_text,
    message_id_for,
    references_chain,
    subject_with_token,
)
from sopdesk.channels.email_out.html import text_to_html
from sopdesk.channels.email_out.model import OutgoingAttachment, OutgoingEmail

IDEMPOTENCY_HEADER = "X-Sopdesk-Idempotency-Key"
AUTO_RESPONSE_SUPPRESS = "OOF, AutoReply"  # Exchange: no out-of-office replies to us
_URL = re.compile(r"[!-;=?-~]+")  # printable ASCII without blanks, < and >
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


def compose(outgoing: OutgoingEmail, *, now: datetime, secret: str) -> EmailMessage:
    """The message to hand to `send`. `now` becomes the Date header (must be aware).

    `secret` keys the Message-ID (`message_id_for`); pass `Settings.secret_key`.
    Raises `HeaderInjectionError`, `InvalidAddressError` or `InvalidMessageError`.
    """
    message = EmailMessage(policy=policy.SMTP)
    own_id = _address_headers(message, outgoing, secret)
    _thread_headers(message, outgoing, own_id, now)
    _machine_headers(message, outgoing, own_id)
    _body(message, outgoing, own_id)
    return message


def _address_headers(message: EmailMessage, outgoing: OutgoingEmail, secret: str) -> str:
    sender = header_address(outgoing.sender, "From")
    to = header_addresses(outgoing.to, "To")
    if not to:
        raise InvalidMessageError("a message needs at least one To address")
    to_keys = {a.addr_spec.casefold() for a in to}
    cc = [a for a in header_addresses(outgoing.cc, "Cc") if a.addr_spec.casefold() not in to_keys]
    domain = outgoing.message_id_domain or sender.domain
    own_id = message_id_for(outgoing.idempotency_key, domain, secret)
    message["From"] = sender
    if outgoing.reply_to:
        message["Reply-To"] = header_addresses(outgoing.reply_to, "Reply-To")
    message["To"] = to
    if cc:
        message["Cc"] = cc
    return own_id


def _thread_headers(
    message: EmailMessage, outgoing: OutgoingEmail, own: str, now: datetime
) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidMessageError("the Date of a message needs a timezone-aware `now`")
    subject = subject_with_token(outgoing.subject, outgoing.case_reference)
    if not subject:
        raise InvalidMessageError("a message needs a subject")
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{own}>"
    if outgoing.in_reply_to:
        parent = clean_message_id(outgoing.in_reply_to, "In-Reply-To")
        message["In-Reply-To"] = f"<{parent}>"
    chain = references_chain(outgoing.references, outgoing.in_reply_to, own)
    if chain:
        message["References"] = " ".join(f"<{i}>" for i in chain)


def _machine_headers(message: EmailMessage, outgoing: OutgoingEmail, own: str) -> None:
    if outgoing.automatic:
        # RFC 3834 §5: "auto-replied" answers a message, "auto-generated" starts one.
        kind = "auto-replied" if outgoing.in_reply_to else "auto-generated"
        message["Auto-Submitted"] = kind
        message["X-Auto-Response-Suppress"] = AUTO_RESPONSE_SUPPRESS
    message[LOOP_HEADER] = own.rpartition("@")[2]
    message[IDEMPOTENCY_HEADER] = idempotency_key_text(outgoing.idempotency_key)
    if outgoing.unsubscribe_url:
        url = header_text("unsubscribe URL", outgoing.unsubscribe_url, MAX_MESSAGE_ID_CHARS * 8)
        if not url.startswith(("https://", "http://", "mailto:")) or not _URL.fullmatch(url):
            raise InvalidMessageError("the unsubscribe URL must be an ASCII http(s) or mailto URL")
        message["List-Unsubscribe"] = f"<{url}>"
        if url.startswith("https://"):  # RFC 8058: mail clients may POST to it in one click
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _body(message: EmailMessage, outgoing: OutgoingEmail, own: str) -> None:
    text = outgoing.text if outgoing.text.endswith("\n") else outgoing.text + "\n"
    html = outgoing.html if outgoing.html is not None else text_to_html(outgoing.text)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for attachment in outgoing.attachments:
        _attach(message, attachment)
    _fix_boundaries(message, own)


def _attach(message: EmailMessage, attachment: OutgoingAttachment) -> None:
    content_type = attachment.content_type.strip().lower()
    if not _MIME_TYPE.fullmatch(content_type):
        raise InvalidMessageError(f"{attachment.content_type!r} is not a MIME type")
    filename = header_text("attachment filename", attachment.filename.strip(), 255)
    if not filename or "/" in filename or "\\" in filename:
        raise InvalidMessageError(f"{attachment.filename!r} is not a plain file name")
    maintype, subtype = content_type.split("/")
    if maintype in ("multipart", "message"):
        maintype, subtype = "application", "octet-stream"
    message.add_attachment(attachment.data, maintype, subtype, filename=filename)


def _fix_boundaries(message: EmailMessage, own: str) -> None:
    """Deterministic MIME boundaries (the stdlib's are random), unique per part.

    Also drops the MIME-Version header the stdlib copies into sub-parts; it belongs
    on the top-level message only (RFC 2045 §4).
    """
    for index, part in enumerate(message.walk()):
        if index:
            del part["MIME-Version"]
        if part.is_multipart():
            seed = hashlib.sha256(f"{own}/{index}".encode()).hexdigest()[:32]
            part.set_boundary(f"=_sopdesk_{seed}")
