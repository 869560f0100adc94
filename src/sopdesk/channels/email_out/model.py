"""The values an outgoing email is made of; `compose` turns one into RFC 5322 bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mailbox:
    """One address with an optional display name (any Unicode; encoded by compose)."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class OutgoingAttachment:
    """A file sent with the message. `content_type` is "maintype/subtype"."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingEmail:
    """Everything compose() needs; no clock, no settings, no database.

    - `idempotency_key`: the outbox row's key. The Message-ID is derived from it, so a
      resend after a crash carries the same Message-ID.
    - `in_reply_to`: the customer's Message-ID this message answers (with or without <>).
    - `references`: the thread's Message-IDs, oldest first; `in_reply_to` is appended.
    - `case_reference`: "SD-1042" (or 1042); its token is put in the subject once.
    - `html`: an HTML body already rendered with autoescape; None makes one from `text`.
    - `automatic`: sent by the engine, not typed by a person (RFC 3834 Auto-Submitted).
    - `message_id_domain`: right-hand side of our Message-ID; default the From domain.
    - `unsubscribe_url`: adds List-Unsubscribe (follow-ups, surveys).
    """

    idempotency_key: str
    sender: Mailbox
    to: tuple[Mailbox, ...]
    subject: str
    text: str
    cc: tuple[Mailbox, ...] = ()
    reply_to: tuple[Mailbox, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    case_reference: str | int | None = None
    html: str | None = None
    automatic: bool = False
    attachments: tuple[OutgoingAttachment, ...] = ()
    message_id_domain: str | None = None
    unsubscribe_url: str | None = None
