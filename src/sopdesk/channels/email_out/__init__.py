"""Outbound e-mail: compose (pure) and send over SMTP (thin shell).

`compose` turns an `OutgoingEmail` into a standards-clean `EmailMessage`: our own,
deterministic Message-ID, In-Reply-To/References, the case token in the subject,
RFC 3834 headers on automatic mail, text and HTML parts. `render_message` fills a
SOP template in Jinja2's sandbox. `send` delivers over SMTP with aiosmtplib and maps
every failure onto `TransientDeliveryError` or `PermanentDeliveryError` (see `errors`).

Must not import `store`, `web`, `actions` or `worker`; the worker calls in, not out.
See docs/email-out.md.
"""

from sopdesk.channels.email_out.compose import IDEMPOTENCY_HEADER, compose
from sopdesk.channels.email_out.errors import (
    DeliveryError,
    HeaderInjectionError,
    InvalidAddressError,
    InvalidMessageError,
    PermanentDeliveryError,
    SmtpConfigurationError,
    SmtpUrlError,
    TransientDeliveryError,
    is_retryable,
)
from sopdesk.channels.email_out.headers import message_id_for, reply_subject
from sopdesk.channels.email_out.html import text_to_html
from sopdesk.channels.email_out.model import Mailbox, OutgoingAttachment, OutgoingEmail
from sopdesk.channels.email_out.render import RenderedMessage, render_message
from sopdesk.channels.email_out.smtp import SendResult, SmtpConfig, send, send_sync

__all__ = [
    "IDEMPOTENCY_HEADER",
    "DeliveryError",
    "HeaderInjectionError",
    "InvalidAddressError",
    "InvalidMessageError",
    "Mailbox",
    "OutgoingAttachment",
    "OutgoingEmail",
    "PermanentDeliveryError",
    "RenderedMessage",
    "SendResult",
    "SmtpConfig",
    "SmtpConfigurationError",
    "SmtpUrlError",
    "TransientDeliveryError",
    "compose",
    "is_retryable",
    "message_id_for",
    "render_message",
    "reply_subject",
    "send",
    "send_sync",
    "text_to_html",
]
