"""Storing a customer's message on a case, with its attachments, as received."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sopdesk.channels.email_in import Attachment
from sopdesk.errors import InvalidInput
from sopdesk.store.queries import insert_loaded
from sopdesk.store.tables import AttachmentRow, CaseRow, MessageKindValue, MessageRow

MB = 1024 * 1024


@dataclass(frozen=True)
class FileLimits:
    """How many files one message may bring, and how large; `lead` starts a refusal
    ("attach at most 5 files", "a reply carries at most 10 files")."""

    count: int
    total_bytes: int
    each_bytes: int | None = None
    empty_ok: bool = True
    lead: str = "attach"

    def problem(self, files: Sequence[Attachment]) -> str | None:
        """What is wrong with `files`, in words, or None."""
        if len(files) > self.count:
            return f"{self.lead} at most {self.count} files"
        if self.each_bytes is not None and any(f.size > self.each_bytes for f in files):
            return f"each file may be up to {self.each_bytes // MB} MB"
        total = sum(f.size for f in files)
        if total > self.total_bytes:
            return (
                f"the files come to {total / MB:.1f} MB; {self.lead} at most "
                f"{self.total_bytes // MB} MB"
            )
        empty = [f.filename or "a file" for f in files if f.size == 0]
        if empty and not self.empty_ok:
            return f"{', '.join(empty)} is empty"
        return None

    def check(self, files: Sequence[Attachment]) -> None:
        """Raise `InvalidInput` with `problem`, if there is one."""
        if problem := self.problem(files):
            raise InvalidInput(problem)


@dataclass(frozen=True)
class NewMessage:
    """A message to store: `text` is what the case shows, `full_text`/`raw` the original."""

    text: str
    kind: str = MessageKindValue.INBOUND.value
    author: str | None = None
    subject: str | None = None
    full_text: str | None = None
    html: str | None = None
    raw: bytes | None = None
    from_address: str | None = None
    to_addresses: tuple[str, ...] = ()
    cc_addresses: tuple[str, ...] = ()
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    auto_reply: bool = False


def store_message(
    session: Session, case: CaseRow, message: NewMessage, *, at: datetime
) -> MessageRow:
    """The message row (written, so it has an id) and its attachments."""
    customer = case.customer
    inbound = message.kind == MessageKindValue.INBOUND.value
    values = {
        "case_id": case.id,
        "kind": message.kind,
        "author": message.author or (customer.email if inbound else None),
        "from_address": message.from_address or (customer.email if inbound else None),
        "to_addresses": list(message.to_addresses),
        "cc_addresses": list(message.cc_addresses),
        "subject": (message.subject if message.subject is not None else case.subject)[:500],
        "text": message.text,
        "full_text": message.full_text,
        "html": message.html,
        "raw": message.raw,
        "message_id": message.message_id,
        "in_reply_to": message.in_reply_to,
        "references": list(message.references),
        "auto_reply": message.auto_reply,
        "automated": False,
        "created_at": at,
        "sent_at": None,
        "delivery_failed_at": None,
        "delivery_error": None,
    }
    return insert_message(session, values, message.attachments)


def insert_message(
    session: Session, values: dict[str, Any], files: Sequence[Attachment] = ()
) -> MessageRow:
    """The message row of `values` (every column), written, with `files` as attachments.

    Without files it is one INSERT (`insert_loaded`); with files the unit of work writes
    the message and then the attachments that refer to it.
    """
    if not files:
        return insert_loaded(session, MessageRow, values)
    row = MessageRow(**values)
    row.attachments.extend(attachment_row(file) for file in files)
    session.add(row)
    session.flush()
    return row


def attachment_row(attachment: Attachment) -> AttachmentRow:
    """The row that keeps a file of a message, its bytes as they are."""
    return AttachmentRow(
        filename=attachment.filename or "",
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        content=attachment.data,
        content_id=attachment.content_id,
    )
