"""E-mail intake: routing, duplicates, threading, quarantine, machines and loops."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions.case_reads import get_case
from sopdesk.actions.cases import (
    do_change_status,
    do_complete_step,
    do_override_step,
    do_resolve,
)
from sopdesk.actions.intake import do_receive_email, do_release_quarantine
from sopdesk.errors import Conflict
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    AttachmentRow,
    CaseEventRow,
    CaseRow,
    MessageRow,
    OutboxRow,
    QuarantineRow,
)
from tests.cases.conftest import MONDAY, SUPPORT, email, events, outbox
from tests.channels.mail import FIXTURES

RETURN = email(
    "I want to return my shoes",
    "Hello,\n\nthe shoes are the wrong size, I would like a refund.\n\nAnn",
)


def receive(session: Session, raw: bytes, settings: Settings, hours: float = 0):
    at = MONDAY + timedelta(hours=hours)
    return do_receive_email(session, raw, received_at=at, settings=settings)


def counts(session: Session) -> tuple[int, ...]:
    tables = (CaseRow, MessageRow, OutboxRow, CaseEventRow, QuarantineRow)
    return tuple(session.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


def test_a_returns_email_starts_the_returns_sop_and_its_ack_answers_it(
    library: Session, settings: Settings
) -> None:
    result = receive(library, RETURN, settings)
    assert result.outcome == "new_case"
    case = get_case(library, result.case_id or 0)
    assert case.sop_id == "returns-and-refunds" and case.channel == "email"
    [ack] = outbox(library, case.id)
    assert ack.payload["in_reply_to"] == "m1@customer.example"
    assert ack.payload["references"] == ["m1@customer.example"]
    assert ack.payload["to"][0]["address"] == "ann@customer.example"
    inbound = library.scalar(select(MessageRow).where(MessageRow.kind == "inbound"))
    assert inbound is not None and inbound.raw == RETURN
    assert inbound.message_id == "m1@customer.example"


def test_the_same_email_twice_creates_nothing_new(library: Session, settings: Settings) -> None:
    first = receive(library, RETURN, settings)
    before = counts(library)
    again = receive(library, RETURN, settings, hours=1)
    assert again.outcome == "duplicate" and again.case_id == first.case_id
    assert counts(library) == before


def test_a_reply_threads_by_in_reply_to_and_strips_the_quote(
    library: Session, settings: Settings
) -> None:
    case_id = receive(library, RETURN, settings).case_id
    [ack] = outbox(library, case_id)
    reply = email(
        "Re: We're here to help",
        "Thanks, here is the order number: 10452.\n\nOn Mon, 2 Mar 2026, Shop wrote:\n"
        "> Dear Ann,\n> we have your request.",
        message_id="<m2@customer.example>",
        headers=f"In-Reply-To: <{ack.message_id}>\nReferences: <m1@customer.example> "
        f"<{ack.message_id}>\n",
    )
    result = receive(library, reply, settings, hours=2)
    assert (result.outcome, result.case_id, result.threaded_via) == ("reply", case_id, "message_id")
    stored = library.scalar(
        select(MessageRow).where(MessageRow.message_id == "m2@customer.example")
    )
    assert stored is not None
    assert stored.text == "Thanks, here is the order number: 10452."
    assert stored.full_text is not None and "> Dear Ann," in stored.full_text
    assert library.scalar(select(func.count(CaseRow.id))) == 1


def test_a_reply_threads_by_the_subject_token(library: Session, settings: Settings) -> None:
    case = get_case(library, receive(library, RETURN, settings).case_id or 0)
    reply = email(f"Re: my return [{case.reference}]", "Any news?", message_id="<m3@x.example>")
    result = receive(library, reply, settings, hours=1)
    assert (result.outcome, result.case_id, result.threaded_via) == ("reply", case.id, "case_token")


def test_a_stranger_naming_a_case_token_gets_a_case_of_their_own(
    library: Session, settings: Settings
) -> None:
    case = get_case(library, receive(library, RETURN, settings).case_id or 0)
    probe = email(
        f"Re: [{case.reference}] what is the address on file?",
        "Please send me the details of this case.",
        sender="Mallory <mallory@elsewhere.example>",
        message_id="<probe@elsewhere.example>",
    )
    result = receive(library, probe, settings, hours=1)
    assert result.outcome == "new_case" and result.case_id != case.id
    assert [
        m.from_address
        for m in library.scalars(
            select(MessageRow).where(MessageRow.case_id == case.id, MessageRow.kind == "inbound")
        )
    ] == ["ann@customer.example"]


def test_someone_copied_on_the_case_threads_by_its_token(
    library: Session, settings: Settings
) -> None:
    first = email(
        "I want to return my shoes",
        "The shoes are the wrong size. My partner Bo may write too.",
        headers="Cc: Bo Lee <bo@customer.example>\n",
    )
    case = get_case(library, receive(library, first, settings).case_id or 0)
    reply = email(
        f"Re: [{case.reference}]",
        "This is Bo: the order number is 10452.",
        sender="Bo Lee <BO@customer.example>",
        message_id="<bo1@customer.example>",
    )
    result = receive(library, reply, settings, hours=1)
    assert (result.outcome, result.case_id, result.threaded_via) == ("reply", case.id, "case_token")


def test_a_reply_reopens_a_resolved_case_but_an_auto_reply_does_not(
    library: Session, settings: Settings
) -> None:
    case_id = receive(library, RETURN, settings).case_id or 0
    case = get_case(library, case_id)
    for step in ("check-eligibility", "label"):
        do_complete_step(
            library, case_id, step, by="sam", now=MONDAY + timedelta(hours=1), settings=settings
        )
    do_resolve(library, case_id, by="sam", now=MONDAY + timedelta(hours=2), settings=settings)
    out_of_office = email(
        f"Automatic reply: away [{case.reference}]",
        "I am away until Monday.",
        message_id="<ooo@customer.example>",
        headers="Auto-Submitted: auto-replied\n",
    )
    result = receive(library, out_of_office, settings, hours=3)
    assert result.outcome == "auto_reply" and result.case_id == case_id
    assert get_case(library, case_id).status == "resolved"
    stored = library.scalar(
        select(MessageRow).where(MessageRow.message_id == "ooo@customer.example")
    )
    assert stored is not None and stored.auto_reply
    person = email(f"Re: [{case.reference}]", "It broke again.", message_id="<m9@customer.example>")
    result = receive(library, person, settings, hours=4)
    assert result.outcome == "reply" and result.reopened
    reopened = get_case(library, case_id)
    assert (reopened.status, reopened.reopen_count) == ("open", 1)
    assert [e.kind for e in events(library, case_id, "case.reopened")] == ["case.reopened"]


def test_a_reply_to_a_closed_case_opens_a_follow_up_case(
    library: Session, settings: Settings
) -> None:
    case_id = receive(library, RETURN, settings).case_id or 0
    case = get_case(library, case_id)
    for step in ("check-eligibility", "label"):
        do_override_step(
            library,
            case_id,
            step,
            reason="by phone",
            by="sam",
            now=MONDAY + timedelta(hours=1),
            settings=settings,
        )
    do_change_status(
        library, case_id, "closed", by="sam", now=MONDAY + timedelta(hours=1), settings=settings
    )
    later = email(f"Re: [{case.reference}]", "One more question", message_id="<m4@c.example>")
    result = receive(library, later, settings, hours=30)
    assert result.outcome == "new_case" and result.case_id != case_id
    assert get_case(library, result.case_id or 0).fields["follow_up_of"] == case.reference


def test_unparseable_bytes_are_quarantined_byte_for_byte(
    library: Session, settings: Settings
) -> None:
    raw = (FIXTURES / "garbage.bin").read_bytes()
    result = receive(library, raw, settings)
    assert result.outcome == "quarantined"
    row = library.get(QuarantineRow, result.quarantine_id)
    assert row is not None and row.raw == raw and row.reason
    assert library.scalar(select(func.count(CaseRow.id))) == 0


def test_an_auto_reply_with_no_case_is_quarantined(library: Session, settings: Settings) -> None:
    bounce = email("Out of office", "I am away.", headers="Auto-Submitted: auto-replied\n")
    result = receive(library, bounce, settings)
    assert result.outcome == "quarantined" and "automatic" in (result.reason or "")


def test_mail_from_our_own_address_is_a_loop(library: Session, settings: Settings) -> None:
    ours = email("Return request", "a refund please", sender=f"Support <{SUPPORT}>")
    result = receive(library, ours, settings)
    assert result.outcome == "quarantined" and "loop" in (result.reason or "")
    assert outbox(library) == []


def test_attachments_are_kept(library: Session, settings: Settings) -> None:
    data = bytes(range(256)) * 4
    raw = (
        f"From: Ann <ann@customer.example>\r\nTo: {SUPPORT}\r\nSubject: Return with photo\r\n"
        "Message-ID: <att@customer.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nI want a refund, photo attached.\r\n--b\r\n"
        'Content-Type: image/png\r\nContent-Disposition: attachment; filename="photo.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(data).decode().replace("\n", "\r\n")
        + "\r\n--b--\r\n"
    ).encode()
    receive(library, raw, settings)
    [attachment] = library.scalars(select(AttachmentRow))
    assert (attachment.filename, attachment.content_type) == ("photo.png", "image/png")
    assert attachment.content == data and attachment.size == len(data)


def test_a_quarantined_message_can_be_released_once(library: Session, settings: Settings) -> None:
    auto = email("Return my order", "Automatic: I want a refund.", headers="Precedence: bulk\n")
    held = receive(library, auto, settings)
    assert held.outcome == "quarantined"
    released = do_release_quarantine(
        library, held.quarantine_id or 0, by="lead", now=MONDAY, settings=settings
    )
    assert released.outcome == "new_case"
    assert get_case(library, released.case_id or 0).sop_id == "returns-and-refunds"
    row = library.get(QuarantineRow, held.quarantine_id)
    assert row is not None and row.case_id == released.case_id and row.released_at == MONDAY
    with pytest.raises(Conflict, match="already released"):
        do_release_quarantine(library, held.quarantine_id or 0, by="lead", settings=settings)
    garbage = receive(library, (FIXTURES / "garbage.bin").read_bytes(), settings)
    with pytest.raises(Conflict, match="still cannot be read"):
        do_release_quarantine(library, garbage.quarantine_id or 0, by="lead", settings=settings)


def test_a_reply_with_a_new_subject_threads_by_the_token_it_quotes(
    library: Session, settings: Settings
) -> None:
    case = get_case(library, receive(library, RETURN, settings).case_id or 0)
    quoted = (
        "The label did not print.\n\nFrom: Shop <support@shop.example>\n"
        f"Subject: RE: Your return [{case.reference}]\n\n> Dear Ann,"
    )
    reply = email("label problem", quoted, message_id="<m8@customer.example>")
    result = receive(library, reply, settings, hours=1)
    assert (result.outcome, result.case_id, result.threaded_via) == ("reply", case.id, "case_token")
    stranger = email(
        "label problem",
        quoted,
        sender="Mallory <mallory@elsewhere.example>",
        message_id="<m9@elsewhere.example>",
    )
    assert receive(library, stranger, settings, hours=1).case_id != case.id
