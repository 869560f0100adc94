"""Files an agent sends with a reply: kept on the outbound message, named in the outbox
payload, read by the worker when it sends, and received by a real SMTP server byte for
byte — on SQLite and PostgreSQL. A reply with too much, or an e-mail whose file is
gone, is refused rather than sent without it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sopdesk.actions import sops
from sopdesk.actions.cases import do_open_case, do_reply
from sopdesk.actions.replies import MAX_REPLY_BYTES
from sopdesk.channels.email_in import Attachment
from sopdesk.channels.email_out import SmtpConfig
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.store import session_factory
from sopdesk.store.tables import AttachmentRow, OutboxRow
from sopdesk.worker.runner import Worker, smtp_deliver
from tests.conftest import sop_text
from tests.worker.support import SECRET, Clock, Sink, config, smtp_sink

LABEL = b"%PDF-1.4\n" + bytes(range(256)) * 40
SETTINGS = Settings(secret_key=SECRET, support_address="help@shop.example")


def _file(name: str, kind: str, data: bytes) -> Attachment:
    digest = hashlib.sha256(data).hexdigest()
    return Attachment(filename=name, content_type=kind, size=len(data), sha256=digest, data=data)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, SmtpConfig]]:
    with smtp_sink() as pair:
        yield pair


@pytest.fixture
def case_id(session: Session, now: datetime) -> int:
    sops.do_create_draft(session, sop_text(), "ann", now=now - timedelta(hours=1))
    sops.do_publish(session, "refunds", approver="bob", now=now - timedelta(hours=1))
    case = do_open_case(
        session,
        customer_email="rae@example.com",
        subject="Return",
        body="Please send a label.",
        sop_id="refunds",
        now=now - timedelta(hours=1),
        settings=SETTINGS,
    )
    return case.id


def _reply_outbox(session: Session) -> OutboxRow:
    session.expire_all()
    rows = session.scalars(select(OutboxRow).where(OutboxRow.key.like("%:reply:%"))).all()
    [row] = rows
    return row


def test_a_reply_s_files_reach_the_customer_byte_for_byte(
    session: Session, now: datetime, case_id: int, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    files = (
        _file("return-label.pdf", "application/pdf", LABEL),
        _file("note.txt", "text/plain", b"hi"),
    )
    message = do_reply(
        session, case_id, author="Ann", text="Your label is attached.", files=files, now=now,
        settings=SETTINGS,
    )  # fmt: skip
    kept = session.scalars(
        select(AttachmentRow)
        .where(AttachmentRow.message_id == message.id)
        .order_by(AttachmentRow.id)
    ).all()
    assert [(row.filename, row.size) for row in kept] == [
        ("return-label.pdf", len(LABEL)),
        ("note.txt", 2),
    ]
    outbox = _reply_outbox(session)
    assert outbox.payload["attachments"] == [row.id for row in kept]

    worker = Worker(session_factory(session.get_bind()), config(), deliver=smtp_deliver(smtp),
                    clock=Clock(now + timedelta(seconds=1)), jitter=lambda: 0.0)  # fmt: skip
    stats = worker.run_once()
    sent = [message_from_bytes(raw, policy=policy.default) for raw in handler.messages]
    assert stats.sent >= 1, (stats, _reply_outbox(session).last_error)
    [reply] = [m for m in sent if m["Message-ID"] == f"<{outbox.message_id}>"]
    parts = {part.get_filename(): part for part in reply.iter_attachments()}
    assert parts["return-label.pdf"].get_content() == LABEL
    assert parts["return-label.pdf"].get_content_type() == "application/pdf"
    assert parts["note.txt"].get_content().strip() == "hi"
    assert "Your label is attached." in reply.get_body(("plain",)).get_content()
    assert _reply_outbox(session).status == "sent"


def test_an_e_mail_whose_file_is_gone_is_dead_not_sent_without_it(
    session: Session, now: datetime, case_id: int, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    files = (_file("return-label.pdf", "application/pdf", LABEL),)
    do_reply(session, case_id, author="Ann", text="Label.", files=files, now=now, settings=SETTINGS)
    session.execute(delete(AttachmentRow).where(AttachmentRow.filename == "return-label.pdf"))
    session.commit()
    worker = Worker(session_factory(session.get_bind()), config(), deliver=smtp_deliver(smtp),
                    clock=Clock(now + timedelta(seconds=1)), jitter=lambda: 0.0)  # fmt: skip
    worker.run_once()
    row = _reply_outbox(session)
    assert row.status == "dead"
    assert "attachments" in (row.last_error or "") and "gone" in (row.last_error or "")
    assert row.message_id not in handler.message_ids


def test_a_reply_carries_at_most_ten_files_and_fifteen_megabytes(
    session: Session, now: datetime, case_id: int
) -> None:
    eleven = tuple(_file(f"f{i}.txt", "text/plain", b"x") for i in range(11))
    with pytest.raises(InvalidInput, match="at most 10 files"):
        do_reply(session, case_id, author="Ann", text="x", files=eleven, now=now, settings=SETTINGS)
    big = (_file("big.bin", "application/octet-stream", bytes(MAX_REPLY_BYTES + 1)),)
    with pytest.raises(InvalidInput, match="at most 15 MB"):
        do_reply(session, case_id, author="Ann", text="x", files=big, now=now, settings=SETTINGS)
    empty = (_file("empty.txt", "text/plain", b""),)
    with pytest.raises(InvalidInput, match=r"empty\.txt is empty"):
        do_reply(session, case_id, author="Ann", text="x", files=empty, now=now, settings=SETTINGS)
    session.expire_all()
    assert session.scalars(select(OutboxRow).where(OutboxRow.key.like("%:reply:%"))).all() == []
