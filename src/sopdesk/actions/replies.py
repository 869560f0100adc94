"""Replies and notes: an agent's public reply is queued in the outbox, threaded on the
customer's latest message; a note is internal. Both are added to the engine's history
(a reply counts as the first or next response; a note never does).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_changes import change_without_run
from sopdesk.actions.case_runs import transition
from sopdesk.actions.case_state import (
    LoadedCase,
    atomic_case,
    load_for_work,
    log_event,
)
from sopdesk.actions.context import Agent, render_template_payload
from sopdesk.actions.messages import FileLimits, NewMessage, store_message
from sopdesk.actions.outbound import case_rendering, queue_case_email, reply_text_subject
from sopdesk.channels.email_in import Attachment
from sopdesk.channels.email_out import text_to_html
from sopdesk.engine import (
    CaseStatus,
    Message,
    MessageKind,
    add_message,
    change_status,
)
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import MessageRow


@atomic_case
def do_reply(
    session: Session,
    case_id: int,
    *,
    author: str,
    text: str = "",
    template_id: str | None = None,
    key: str | None = None,
    status: str | None = None,
    files: Sequence[Attachment] = (),
    now: datetime | None = None,
    settings: Settings | None = None,
) -> MessageRow:
    """Queue a public reply by an agent (typed, or from an SOP template), threaded on the case.

    `key` is the idempotency key of the outbox row (default: a new one); `status`
    moves the case after the reply (e.g. `pending` while waiting on the customer);
    `files` go with it (`REPLY_FILES` says how many and how large).
    """
    REPLY_FILES.check(files)
    moment, settings = resolve_now(now), settings or Settings()
    loaded = load_for_work(session, case_id, settings)
    case = loaded.case
    key = key or f"{case.reference}:reply:{uuid.uuid4().hex}"
    subject, body, html = _reply_body(session, loaded, author, text, template_id, moment)
    message = queue_case_email(
        session,
        case,
        settings,
        moment,
        key=key,
        subject=subject,
        text=body,
        html=html,
        author=author,
        automatic=False,
        template=template_id,
        files=files,
    )
    log_event(
        session,
        "message.queued",
        moment,
        case_id=case.id,
        customer_id=case.customer_id,
        actor=author,
        key=key,
        template=template_id,
        message=message.id,
        attachments=[file.filename for file in files],
    )
    public = Message(str(message.id), MessageKind.PUBLIC, moment, author=author)
    _after_message(session, loaded, public, moment, author, status)
    return message


MAX_REPLY_BYTES = 15 * 1024 * 1024
REPLY_FILES = FileLimits(10, MAX_REPLY_BYTES, empty_ok=False, lead="a reply carries")
"""What one reply may carry: base64 makes it a third larger on the wire, and mail servers
commonly refuse messages over 20–25 MB."""


def _reply_body(
    session: Session,
    loaded: LoadedCase,
    author: str,
    text: str,
    template_id: str | None,
    now: datetime,
) -> tuple[str, str, str]:
    case = loaded.case
    if template_id is None:
        if not text.strip():
            raise InvalidInput("a reply needs some text or a template")
        return reply_text_subject(case), text, text_to_html(text)
    template = loaded.sop.templates.get(template_id) if loaded.sop else None
    if template is None:
        raise NotFound(f"the case's SOP has no template {template_id!r}")
    version = loaded.run.sop_version.version if loaded.run else None
    rendering = case_rendering(
        session,
        case,
        loaded.settings,
        now,
        sop=loaded.sop,
        sop_version=version,
        agent=Agent(name=author),
    )
    return render_template_payload(template, rendering, case.subject)


@atomic_case
def do_add_note(
    session: Session,
    case_id: int,
    *,
    author: str,
    text: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> MessageRow:
    """An internal note: never sent, never counts as a reply."""
    if not text.strip():
        raise InvalidInput("a note needs some text")
    moment = resolve_now(now)
    loaded = load_for_work(session, case_id, settings or Settings())
    return add_note(session, loaded, author, text, moment)


def add_note(
    session: Session, loaded: LoadedCase, author: str, text: str, now: datetime
) -> MessageRow:
    """`do_add_note` inside another action's transaction."""
    note = NewMessage(text=text, kind="note", author=author, subject="")
    row = store_message(session, loaded.case, note, at=now)
    log_event(
        session,
        "note.added",
        now,
        case_id=loaded.case.id,
        customer_id=loaded.case.customer_id,
        actor=author,
        message=row.id,
    )
    message = Message(str(row.id), MessageKind.NOTE, now, author=author)
    _after_message(session, loaded, message, now, author, None)
    return row


def _after_message(
    session: Session,
    loaded: LoadedCase,
    message: Message,
    now: datetime,
    actor: str,
    status: str | None,
) -> None:
    case = loaded.case
    if loaded.state is not None:
        transition(session, loaded, lambda s, w: add_message(s, w, message), now, actor)
    elif message.kind is MessageKind.PUBLIC and case.first_response_at is None:
        case.first_response_at = now
    wanted = status or (CaseStatus.OPEN.value if case.status == CaseStatus.NEW.value else None)
    if message.kind is MessageKind.PUBLIC and wanted and wanted != case.status:
        if loaded.state is None:
            change_without_run(session, case, CaseStatus(wanted), now, actor)
        else:
            step = lambda s, w: change_status(s, w, CaseStatus(wanted), actor)  # noqa: E731
            transition(session, loaded, step, now, actor)
    case.updated_at = now
