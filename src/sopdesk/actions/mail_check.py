"""A test e-mail from the settings page, queued through the normal outbox path.

The same payload and outbox row as any outgoing mail (no case, no customer), so the
worker sends it with the configured relay: it proves the whole way out works, not
just that a socket opens.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.actions.context import Thread, email_outbox_row, email_payload
from sopdesk.actions.users import normalise_email
from sopdesk.channels.email_out import Mailbox, text_to_html
from sopdesk.settings import Settings
from sopdesk.store.tables import OutboxRow

KEY_PREFIX = "test-email:"


def probe_text(settings: Settings, requested_by: str, now: datetime) -> tuple[str, str]:
    """(subject, text) of a test e-mail: who asked, when, and what it proves."""
    subject = f"sopdesk test e-mail from {settings.company_name}"
    text = (
        f"This is a test e-mail from sopdesk at {settings.public_base_url}.\n"
        f"{requested_by} asked for it on {now:%Y-%m-%d at %H:%M} UTC.\n\n"
        "If you can read this, the worker sends mail through the configured relay "
        f"from {settings.support_address}.\n"
    )
    return subject, text


@atomic
def do_queue_test_email(
    session: Session,
    to: str,
    *,
    settings: Settings,
    requested_by: str,
    now: datetime | None = None,
) -> OutboxRow:
    """Queue one test e-mail to `to` (validated); the worker delivers it."""
    address = normalise_email(to)
    moment = resolve_now(now)
    key = f"{KEY_PREFIX}{moment:%Y%m%dT%H%M%S}:{secrets.token_hex(6)}"
    subject, text = probe_text(settings, requested_by, moment)
    payload = email_payload(
        key=key,
        subject=subject,
        text=text,
        html=text_to_html(text),
        to=[Mailbox(address, "")],
        settings=settings,
        thread=Thread(),
        case_reference=None,
        automatic=True,
    )
    row = email_outbox_row(key, payload, moment)
    session.add(row)
    session.flush()
    return row


def find_test_email(session: Session, outbox_id: int) -> OutboxRow | None:
    """The test e-mail with this outbox id (None for any other row: pages show only these)."""
    row = session.get(OutboxRow, outbox_id)
    return row if row is not None and row.key.startswith(KEY_PREFIX) else None
