"""Done-when for issue 4: a return request e-mailed in over real SMTP runs the returns
SOP end to end — acknowledgement received by an SMTP sink (threaded onto the
customer's Message-ID), warning, escalation with its notice, resolution, survey,
review request — with a frozen clock the test advances, on SQLite and PostgreSQL.

The path is the product's: `IntakeHandler` (what `sopdesk mail serve` runs) stores the
message through `do_receive_email`; `Worker` (what `sopdesk worker` runs) fires the
timers through `do_fire_timer` and delivers the outbox over SMTP to an aiosmtpd sink.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage, Message

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sopdesk.actions.case_changes import do_complete_step, do_resolve
from sopdesk.actions.sop_files import do_load_library
from sopdesk.channels.email_out import SmtpConfig
from sopdesk.channels.smtp_server import IntakeHandler, start_smtp_server
from sopdesk.cli.mail import describe_result, intake_store
from sopdesk.settings import Settings
from sopdesk.store import session_factory
from sopdesk.store.tables import CaseEventRow, CaseRow, OutboxRow, TimerRow
from sopdesk.worker.runner import Worker, default_fire_timer, smtp_deliver
from tests.worker.support import SECRET, Sink, config, smtp_sink

ROLES = {"support-lead": "lead@shop.example", "support-manager": "manager@shop.example"}
CUSTOMER_ID = "<return-e2e-1@mail.customer.example>"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sink() -> Iterator[tuple[Sink, SmtpConfig]]:
    with smtp_sink() as pair:
        yield pair


def return_request() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ann Lee <ann@customer.example>"
    message["To"] = "support@example.com"
    message["Subject"] = "Return request for order 5521"
    message["Message-ID"] = CUSTOMER_ID
    message.set_content("Hello,\n\nthe boots are too small. I would like to return them.\n\nAnn\n")
    return message


def events(session: Session) -> list[tuple[str, dict[str, object]]]:
    session.expire_all()
    rows = session.execute(select(CaseEventRow.kind, CaseEventRow.data).order_by(CaseEventRow.id))
    return [(kind, data) for kind, data in rows]


def delivered(session: Session, sink: Sink, template: str) -> list[Message]:
    """The messages the sink received for outbox rows rendered from `template`."""
    session.expire_all()
    ids = {
        row.message_id
        for row in session.scalars(select(OutboxRow))
        if row.payload.get("template") == template and row.status == "sent"
    }
    found = [message_from_bytes(raw) for raw in sink.messages]
    return [m for m in found if m["Message-ID"] in ids]


def run_until(worker: Worker, clock: Clock, session: Session, until: datetime) -> None:
    """Advance the frozen clock timer by timer up to `until`, running the worker at each."""
    while True:
        worker.run_once()
        session.expire_all()
        due = session.scalar(select(func.min(TimerRow.due_at)).where(TimerRow.status == "pending"))
        if due is None or due > until:
            clock.now = until
            worker.run_once()
            return
        clock.now = max(clock.now, due)


def test_a_return_request_by_smtp_runs_the_returns_sop_end_to_end(
    engine: Engine, db_url: str, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    settings = Settings(database_url=db_url, role_addresses=ROLES, secret_key=SECRET)
    sessions = session_factory(engine)
    clock = Clock(now)  # Monday 2 March 2026, 09:30 UTC
    with sessions() as session:
        do_load_library(session, now=now - timedelta(days=1))

    # 1. the customer's e-mail arrives over SMTP and is stored before 250
    store = intake_store(sessions, settings, clock)
    listener = IntakeHandler(lambda raw, _f, _r: describe_result(store(raw)))
    controller = start_smtp_server(listener, port=0)
    try:
        with smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as client:
            client.ehlo()
            client.mail("ann@customer.example")
            client.rcpt("support@example.com")
            code, reply = client.data(return_request().as_bytes())
    finally:
        controller.stop()
        listener.close()
    assert code == 250 and b"(new_case)" in reply

    worker = Worker(
        sessions,
        config("e2e"),  # secret=SECRET, as in settings
        deliver=smtp_deliver(smtp),
        fire_timer=default_fire_timer(settings),
        clock=clock,
        jitter=lambda: 0.0,
    )
    with sessions() as session:
        case = session.scalars(select(CaseRow)).one()
        started = [data for kind, data in events(session) if kind == "sop.started"]
        assert [data["sop_id"] for data in started] == ["returns-and-refunds"]

        # 2. the acknowledgement goes out at once, threaded on the customer's message
        worker.run_once()
        [ack] = delivered(session, handler, "return-ack")
        assert ack["In-Reply-To"] == CUSTOMER_ID
        assert CUSTOMER_ID in ack["References"]
        assert f"[{case.reference}]" in ack["Subject"]
        assert ack["To"] == "Ann Lee <ann@customer.example>"

        # 3. nobody acts: a warning at 75 %, then the breach escalates with a notice
        run_until(worker, clock, session, now + timedelta(days=3))
        kinds = [kind for kind, _ in events(session)]
        assert "sla.warning" in kinds
        assert "sla.breached" in kinds
        assert kinds.index("sla.warning") < kinds.index("sla.breached")
        escalated = [data for kind, data in events(session) if kind == "escalated"]
        assert escalated and {d["level"] for d in escalated} >= {2}
        notices = [m for m in map(message_from_bytes, handler.messages) if m["To"]]
        assert any("lead@shop.example" in str(m["To"]) for m in notices)
        session.expire_all()
        assert session.get(CaseRow, case.id).priority == "high"  # type: ignore[union-attr]

        # 4. the agent finishes the steps and resolves the case
        for step in ("check-eligibility", "label"):
            do_complete_step(session, case.id, step, by="agent", now=clock(), settings=settings)
        do_resolve(session, case.id, by="agent", now=clock(), settings=settings)
        resolved_at = clock()
        session.expire_all()
        assert session.get(CaseRow, case.id).status == "resolved"  # type: ignore[union-attr]

        # 5. one day later the survey, seven days later the review request
        run_until(worker, clock, session, resolved_at + timedelta(days=1, minutes=1))
        [survey] = delivered(session, handler, "csat-survey")
        assert not delivered(session, handler, "review-request")
        run_until(worker, clock, session, resolved_at + timedelta(days=7, minutes=1))
        [review] = delivered(session, handler, "review-request")
        for message in (survey, review):
            assert message["To"] == "Ann Lee <ann@customer.example>"
            assert f"[{case.reference}]" in message["Subject"]

    # every e-mail was delivered exactly once, and nothing is left dead
    assert set(handler.message_ids.values()) == {1}
    with sessions() as session:
        rows = list(session.scalars(select(OutboxRow)))
        assert {row.status for row in rows} == {"sent"}
        # the id each message went out with is the one intake stored for threading replies
        assert all(row.message_id == f"<{row.payload['message_id']}>" for row in rows)
        assert "dead" not in set(session.scalars(select(TimerRow.status)))
