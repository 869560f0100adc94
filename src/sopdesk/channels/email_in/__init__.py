"""Inbound e-mail, the pure core: raw bytes in, plain values out.

`parse_inbound` turns RFC 5322 bytes into a `ParsedEmail` (or a `Quarantined` that keeps
the bytes); `strip_quoted` separates a reply from its history; `detect_auto_reply` and
`is_mail_loop` spot machines; `thread_keys` and `match_thread` find the case a reply
belongs to; `failed_recipients` and `returned_message_ids` read
bounces; `sanitise_html` makes a body safe to show. The SMTP server and IMAP poller
(shells) call these functions and store the results.

Must not import `store`, `web`, `actions` or anything that does I/O or reads the clock.
See docs/email.md for the behaviour admins can rely on.
"""

from sopdesk.channels.email_in.autoreply import (
    LOOP_HEADER,
    detect_auto_reply,
    is_mail_loop,
    looks_out_of_office,
)
from sopdesk.channels.email_in.dsn import (
    FailedRecipient,
    address_gone,
    enhanced_status,
    failed_recipients,
    returned_message_ids,
)
from sopdesk.channels.email_in.headers import normalise_address, normalise_message_id
from sopdesk.channels.email_in.html_body import html_to_text, sanitise_html
from sopdesk.channels.email_in.model import (
    Address,
    Attachment,
    AutoReplyKind,
    ParsedEmail,
    Quarantined,
    QuarantineReason,
    ThreadKeys,
)
from sopdesk.channels.email_in.parse import parse_inbound
from sopdesk.channels.email_in.quotes import strip_quoted
from sopdesk.channels.email_in.text import decode_bytes
from sopdesk.channels.email_in.threads import (
    CASE_TOKEN_PREFIX,
    ThreadMatch,
    case_reference,
    find_case_token,
    format_case_token,
    match_thread,
    resolve_thread,
    thread_keys,
)

__all__ = [
    "CASE_TOKEN_PREFIX",
    "LOOP_HEADER",
    "Address",
    "Attachment",
    "AutoReplyKind",
    "FailedRecipient",
    "ParsedEmail",
    "QuarantineReason",
    "Quarantined",
    "ThreadKeys",
    "ThreadMatch",
    "address_gone",
    "case_reference",
    "decode_bytes",
    "detect_auto_reply",
    "enhanced_status",
    "failed_recipients",
    "find_case_token",
    "format_case_token",
    "html_to_text",
    "is_mail_loop",
    "looks_out_of_office",
    "match_thread",
    "normalise_address",
    "normalise_message_id",
    "parse_inbound",
    "resolve_thread",
    "returned_message_ids",
    "sanitise_html",
    "strip_quoted",
    "thread_keys",
]
