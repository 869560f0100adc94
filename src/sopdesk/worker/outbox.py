"""An outbox row → the exact e-mail to send. Pure: no clock, no database.

The same row always gives the same bytes: the Message-ID comes from the row's key
(`email_out.message_id_for`, keyed with the secret), the Date from the row's
`created_at`, the MIME boundaries from the Message-ID. A resend after a crash is
therefore the same message, and the recipient's mail system can recognise it as a
duplicate by its Message-ID.

The payload is the one `sopdesk.actions.context.email_payload` writes (docs/cases.md);
`outgoing_email` reads it back. A payload it cannot read is a permanent error
(`InvalidMessageError`): the row is dead-lettered, never retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sopdesk.actions.context import outgoing_email
from sopdesk.channels.email_out import (
    InvalidMessageError,
    OutgoingAttachment,
    OutgoingEmail,
    compose,
)


def outgoing_from_row(key: str, payload: Mapping[str, Any]) -> OutgoingEmail:
    """The `OutgoingEmail` of an outbox row; `InvalidMessageError` if it is malformed."""
    try:
        return outgoing_email(key, payload)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidMessageError(
            f"the outbox payload cannot be read ({type(exc).__name__}: {exc})"
        ) from None


def build_message(
    key: str,
    payload: Mapping[str, Any],
    *,
    created_at: datetime,
    secret: str,
    attachments: Sequence[OutgoingAttachment] = (),
) -> EmailMessage:
    """The message for an outbox row, identical on every call for the same row;
    `attachments` are the files its payload names (`actions.outbound.outbox_attachments`)."""
    outgoing = replace(outgoing_from_row(key, payload), attachments=tuple(attachments))
    return compose(outgoing, now=created_at, secret=secret)
