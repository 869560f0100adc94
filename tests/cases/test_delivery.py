"""Whether our e-mail reached the customer, on SQLite and PostgreSQL: the worker marks a
message sent when a real SMTP server takes it and not delivered when it refuses it for
good; a bounce that comes back marks the message it returns; the case logs each failure
once (and tells webhooks), and nothing else about the case changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.actions import cases as changes
from sopdesk.actions.customer_changes import CustomerChange, do_update_customer
from sopdesk.actions.delivery import do_clear_bounce, unsent_messages
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.webhooks import do_create_webhook
from sopdesk.channels.email_out import SmtpConfig
from sopdesk.settings import Settings
from sopdesk.store import session_factory
from sopdesk.store.tables import CaseEventRow, CaseRow, CustomerRow, MessageRow, OutboxRow
from sopdesk.worker.runner import Worker, smtp_deliver
from sopdesk.worker.status import retry_dead
from tests.cases.conftest import (
    MONDAY,
    SUPPORT,
    email,
    events,
    fire_due,
    outbox,
    start_return,
    timers,
)
from tests.worker.support import Clock, Sink, config, fake_fire_timer, smtp_sink

CUSTOMER = "ann@customer.example"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, SmtpConfig]]:
    with smtp_sink() as pair:
        yield pair


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def worker(sessions: sessionmaker[Session], clock: Clock, smtp: SmtpConfig) -> Worker:
    return Worker(
        sessions,
        config(),
        deliver=smtp_deliver(smtp),
        fire_timer=fake_fire_timer,
        clock=clock,
        jitter=lambda: 0.0,
    )


def acknowledgement(session: Session, case_id: int) -> MessageRow:
    session.expire_all()
    return session.scalars(
        select(MessageRow)
        .where(MessageRow.case_id == case_id, MessageRow.kind == "outbound")
        .order_by(MessageRow.id)
    ).first()  # type: ignore[return-value]


def bounce(
    returned_id: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    to: str = CUSTOMER,
    message_id: str = "<dsn-1@mx.customer.example>",
) -> bytes:
    """A DSN from the customer's mail server returning our message `returned_id`."""
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\nTo: {SUPPORT}\n"
        f"Subject: Undelivered Mail Returned to Sender\nMessage-ID: {message_id}\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\n\n'
        "--dsn\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--dsn\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.customer.example\n\n"
        f"Final-Recipient: rfc822; {to}\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; 550 {status} <{to}>: Recipient address rejected\n\n"
        "--dsn\nContent-Type: text/rfc822-headers\n\n"
        f"From: {SUPPORT}\nTo: {to}\nMessage-ID: <{returned_id}>\n\n"
        "--dsn--\n"
    )
    return text.replace("\n", "\r\n").encode()


def test_the_worker_marks_the_message_sent_when_the_relay_takes_it(
    library: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    sink: tuple[Sink, SmtpConfig],
) -> None:
    handler, smtp = sink
    case_id = start_return(library, settings)
    assert acknowledgement(library, case_id).sent_at is None
    clock = Clock(MONDAY + timedelta(seconds=5))
    assert worker(sessions, clock, smtp).run_once().sent == 1
    message = acknowledgement(library, case_id)
    assert message.sent_at == clock.now
    assert f"<{message.message_id}>" in handler.message_ids
    assert (message.delivery_failed_at, message.delivery_error) == (None, None)
    assert events(library, case_id, "message.delivery_failed") == []


def test_a_refusal_for_good_marks_the_message_and_logs_it_once_and_a_resend_clears_it(
    library: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    sink: tuple[Sink, SmtpConfig],
) -> None:
    handler, smtp = sink
    hook_id = do_create_webhook(
        library, "https://hooks.example.com/x", ("message.delivery_failed",), created_by="o@x.io"
    ).row.id
    handler.replies.append("550 5.1.1 <ann@customer.example>: no such user")
    case_id = start_return(library, settings)
    status_before = library.get(CaseRow, case_id).status  # type: ignore[union-attr]
    clock = Clock(MONDAY + timedelta(seconds=5))
    assert worker(sessions, clock, smtp).run_once().dead == 1
    message = acknowledgement(library, case_id)
    assert message.sent_at is None and message.delivery_failed_at == clock.now
    assert message.delivery_error is not None
    assert message.delivery_error.startswith("not sent: ") and "550 5.1.1" in message.delivery_error
    [event] = events(library, case_id, "message.delivery_failed")
    assert event.data == {"message": message.id, "error": message.delivery_error, "via": "relay"}
    assert library.get(CaseRow, case_id).status == status_before  # type: ignore[union-attr]
    [delivery] = library.scalars(select(OutboxRow).where(OutboxRow.kind == "webhook")).all()
    assert delivery.payload["webhook_id"] == hook_id
    assert delivery.payload["event"] == "message.delivery_failed"
    assert delivery.payload["data"]["message"] == message.id
    assert delivery.payload["data"]["via"] == "relay"
    assert delivery.payload["data"]["case"]["reference"] == f"SD-{case_id}"

    # the admin fixed the relay and sent the dead letter again: it went out this time
    assert retry_dead(library, clock.now, queue="outbox")["outbox"] == 1
    clock.advance(minutes=1)
    assert worker(sessions, clock, smtp).run_once().sent == 1
    message = acknowledgement(library, case_id)
    assert message.sent_at == clock.now
    assert (message.delivery_failed_at, message.delivery_error) == (None, None)
    assert len(events(library, case_id, "message.delivery_failed")) == 1  # history kept


def test_a_temporary_refusal_is_retrying_not_failed(
    library: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    sink: tuple[Sink, SmtpConfig],
) -> None:
    handler, smtp = sink
    handler.replies.append("451 4.7.1 greylisted, try again later")
    case_id = start_return(library, settings)
    worker(sessions, Clock(MONDAY + timedelta(seconds=5)), smtp).run_once()
    message = acknowledgement(library, case_id)
    assert (message.sent_at, message.delivery_failed_at) == (None, None)
    [unsent] = unsent_messages(library, case_id).values()
    assert unsent.status == "failed" and "451" in (unsent.last_error or "")
    assert unsent_messages(library, case_id).keys() == {message.id}


def test_a_bounce_marks_the_message_it_returns_and_changes_nothing_else(
    library: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    sink: tuple[Sink, SmtpConfig],
) -> None:
    _handler, smtp = sink
    case_id = start_return(library, settings)
    clock = Clock(MONDAY + timedelta(seconds=5))
    worker(sessions, clock, smtp).run_once()
    sent = acknowledgement(library, case_id)
    case = library.get(CaseRow, case_id)
    assert case is not None
    before = (case.status, case.reopen_count, case.next_due_at)
    later = MONDAY + timedelta(minutes=3)
    result = do_receive_email(
        library, bounce(str(sent.message_id)), received_at=later, settings=settings
    )
    assert (result.outcome, result.case_id) == ("auto_reply", case_id)
    message = acknowledgement(library, case_id)
    assert message.sent_at == clock.now  # it was sent: the far end gave it back
    assert message.delivery_failed_at == later
    assert message.delivery_error == (
        f"bounced: {CUSTOMER}: 5.1.1 550 5.1.1 <{CUSTOMER}>: Recipient address rejected"
    )
    [event] = events(library, case_id, "message.delivery_failed")
    assert event.data["via"] == "bounce" and event.data["message"] == message.id
    library.expire_all()
    case = library.get(CaseRow, case_id)
    assert case is not None and (case.status, case.reopen_count, case.next_due_at) == before

    # the same news again (another bounce for the same message): logged once
    again = bounce(str(sent.message_id), message_id="<dsn-2@mx.customer.example>")
    do_receive_email(library, again, received_at=later + timedelta(minutes=1), settings=settings)
    assert len(events(library, case_id, "message.delivery_failed")) == 1
    assert acknowledgement(library, case_id).delivery_failed_at == later


@pytest.mark.parametrize(
    ("action", "status", "to"),
    [
        ("delayed", "4.4.7", CUSTOMER),  # the far end is still trying
        ("failed", "4.2.2", CUSTOMER),  # a temporary failure
        ("failed", "5.1.1", "someone.else@customer.example"),  # not whom we wrote to
    ],
)
def test_a_bounce_that_reports_no_permanent_failure_of_our_recipient_marks_nothing(
    library: Session, settings: Settings, action: str, status: str, to: str
) -> None:
    case_id = start_return(library, settings)
    sent = acknowledgement(library, case_id)
    raw = bounce(str(sent.message_id), action=action, status=status, to=to)
    later = MONDAY + timedelta(minutes=3)
    result = do_receive_email(library, raw, received_at=later, settings=settings)
    assert (result.outcome, result.case_id) == ("auto_reply", case_id)  # kept on the case
    assert acknowledgement(library, case_id).delivery_failed_at is None
    assert events(library, case_id, "message.delivery_failed") == []


def test_a_bounce_found_by_the_case_token_marks_only_a_message_of_ours_it_returns(
    library: Session, settings: Settings
) -> None:
    first = start_return(library, settings)
    ours = acknowledgement(library, first)
    raw = bounce(str(ours.message_id)).replace(
        b"Subject: Undelivered", f"Subject: [SD-{first}] Undelivered".encode()
    )
    result = do_receive_email(library, raw, received_at=MONDAY, settings=settings)
    assert result.case_id == first
    assert acknowledgement(library, first).delivery_failed_at is not None
    # a bounce naming a message id that is on no case of ours is stored, nothing marked
    stray = bounce("sd.unknown@shop.example", message_id="<dsn-9@mx.customer.example>")
    stray = stray.replace(b"Subject: Undelivered", f"Subject: [SD-{first}] Gone".encode())
    result = do_receive_email(library, stray, received_at=MONDAY, settings=settings)
    assert (result.outcome, result.case_id) == ("auto_reply", first)
    assert len(events(library, first, "message.delivery_failed")) == 1


def test_messages_held_up_in_the_outbox_are_listed_with_why(
    library: Session, settings: Settings
) -> None:
    case_id = start_return(library, settings)
    message = acknowledgement(library, case_id)
    assert unsent_messages(library, case_id) == {}  # queued: not held up
    row = library.scalars(select(OutboxRow).where(OutboxRow.case_id == case_id)).one()
    row.status, row.last_error = "cancelled", "cancelled: the customer unsubscribed"
    library.commit()
    [(message_id, unsent)] = unsent_messages(library, case_id).items()
    assert message_id == message.id
    assert (unsent.status, unsent.last_error) == ("cancelled", row.last_error)
    assert unsent.next_attempt_at == row.next_attempt_at


# --- the customer's address bounces: follow-ups stop until it works again --------------


def answered_and_resolved(session: Session, settings: Settings, at: datetime, n: int) -> int:
    """A question e-mailed in at `at`, answered and resolved five minutes later: its
    survey follow-up is pending. The case id."""
    raw = email("Question about opening hours", "Are you open on Saturday?", message_id=f"<q{n}@c>")
    case_id = do_receive_email(session, raw, received_at=at, settings=settings).case_id
    assert case_id is not None
    done = at + timedelta(minutes=5)
    changes.do_reply(session, case_id, author="Sam", text="9 to 5.", now=done, settings=settings)
    for step in ("triage", "answer"):
        changes.do_complete_step(session, case_id, step, by="sam", now=done, settings=settings)
    changes.do_resolve(session, case_id, by="sam", now=done, settings=settings)
    return case_id


def customer_events(session: Session, customer_id: int, kind: str) -> list[CaseEventRow]:
    query = select(CaseEventRow).where(
        CaseEventRow.customer_id == customer_id, CaseEventRow.kind == kind
    )
    return list(session.scalars(query.order_by(CaseEventRow.id)))


def customer_of(session: Session, case_id: int) -> CustomerRow:
    session.expire_all()
    case = session.get(CaseRow, case_id)
    assert case is not None
    return case.customer


def test_a_bounce_saying_the_address_does_not_exist_stops_follow_ups_until_cleared(
    library: Session, settings: Settings
) -> None:
    case_id = answered_and_resolved(library, settings, MONDAY, 1)
    [survey] = [t for t in timers(library, case_id).values() if t.kind == "followup"]
    assert survey.status == "pending"
    reply = library.scalars(
        select(MessageRow).where(MessageRow.case_id == case_id, MessageRow.author == "Sam")
    ).one()
    later = MONDAY + timedelta(minutes=20)
    do_receive_email(library, bounce(str(reply.message_id)), received_at=later, settings=settings)

    customer = customer_of(library, case_id)
    assert customer.email_bounced_at == later
    assert customer.email_bounce is not None and "5.1.1" in customer.email_bounce
    [marked] = customer_events(library, customer.id, "customer.email_bounced")
    assert (marked.case_id, marked.data["case"], marked.data["email"]) == (None, case_id, CUSTOMER)
    assert marked.data["timers_cancelled"] == [survey.key]
    assert timers(library, case_id)[survey.key].status == "cancelled"

    # a new case meanwhile: the acknowledgement still goes, its follow-up does not
    second = answered_and_resolved(library, settings, MONDAY + timedelta(hours=1), 2)
    sent_anyway = outbox(library, second)  # the acknowledgement and Sam's answer
    assert len(sent_anyway) == 2 and {r.status for r in sent_anyway} == {"pending"}
    fire_due(library, MONDAY + timedelta(days=3), settings)
    [skipped] = events(library, second, "followup.cancelled")
    assert skipped.data["reason"] == "address bounced"
    assert not any(":followup:" in r.key for r in outbox(library, second))

    # the agent phoned the customer: the address works again
    cleared_at = MONDAY + timedelta(days=3, hours=1)
    do_clear_bounce(library, customer.id, by="sam", now=cleared_at)
    customer = customer_of(library, case_id)
    assert (customer.email_bounced_at, customer.email_bounce) == (None, None)
    [lifted] = [
        e
        for e in library.scalars(
            select(CaseEventRow).where(CaseEventRow.customer_id == customer.id)
        )
        if e.kind == "customer.bounce_cleared"
    ]
    assert (lifted.actor, lifted.data["email"]) == ("sam", CUSTOMER)
    third = answered_and_resolved(library, settings, MONDAY + timedelta(days=4), 3)
    fire_due(library, MONDAY + timedelta(days=6), settings)
    assert any(":followup:survey:" in r.key for r in outbox(library, third))
    do_clear_bounce(library, customer.id, by="sam", now=cleared_at)  # nothing to lift: no-op
    assert (
        len(
            [
                e
                for e in library.scalars(select(CaseEventRow))
                if e.kind == "customer.bounce_cleared"
            ]
        )
        == 1
    )


@pytest.mark.parametrize(
    ("reply", "marks_customer"),
    [
        ("550 5.1.1 <ann@customer.example>: Recipient address rejected: User unknown", True),
        ("550 5.2.1 mailbox disabled", True),
        ("554 5.7.1 Message rejected as spam", False),  # the address exists
        ("552 5.3.4 Message too big", False),
        ("550 no such user here", False),  # no status code: not sure enough to stop mail
    ],
)
def test_a_relay_refusal_marks_the_customer_only_when_it_says_the_address_is_wrong(
    library: Session,
    settings: Settings,
    sessions: sessionmaker[Session],
    sink: tuple[Sink, SmtpConfig],
    reply: str,
    marks_customer: bool,
) -> None:
    handler, smtp = sink
    handler.replies.append(reply)
    case_id = start_return(library, settings)
    assert worker(sessions, Clock(MONDAY + timedelta(seconds=5)), smtp).run_once().dead == 1
    assert acknowledgement(library, case_id).delivery_failed_at is not None
    customer = customer_of(library, case_id)
    assert (customer.email_bounced_at is not None) is marks_customer
    bounced = customer_events(library, customer.id, "customer.email_bounced")
    assert len(bounced) == int(marks_customer)


def test_a_new_address_lifts_the_mark_and_a_bounce_for_an_old_address_sets_none(
    library: Session, settings: Settings
) -> None:
    case_id = start_return(library, settings)
    ack = acknowledgement(library, case_id)
    do_receive_email(library, bounce(str(ack.message_id)), received_at=MONDAY, settings=settings)
    customer = customer_of(library, case_id)
    assert customer.email_bounced_at is not None
    updated = do_update_customer(
        library, customer.id, CustomerChange(email="ann@new.example"), by="sam", now=MONDAY
    )
    assert set(updated.changed) == {"email", "email_bounced_at", "email_bounce"}
    customer = customer_of(library, case_id)
    assert (customer.email, customer.email_bounced_at, customer.email_bounce) == (
        "ann@new.example",
        None,
        None,
    )
    # a late bounce for mail to the old address: the message is marked, the customer not
    reply = changes.do_reply(
        library, case_id, author="Sam", text="Hi", now=MONDAY, settings=settings
    )
    old = bounce(str(ack.message_id), message_id="<dsn-3@mx.customer.example>")
    do_receive_email(library, old, received_at=MONDAY, settings=settings)
    assert customer_of(library, case_id).email_bounced_at is None
    assert reply.to_addresses == ["ann@new.example"]
