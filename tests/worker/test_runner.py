"""The worker loop against a real SMTP sink (aiosmtpd), on SQLite and PostgreSQL:
sending, retry with back-off (451 then 250), dead letters (550), timer failures, each
crash point of docs/worker.md, and graceful stop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.channels.email_out import SendResult, SmtpConfig
from sopdesk.store import session_factory
from sopdesk.store.tables import OutboxRow, TimerRow
from sopdesk.worker.claim import claim_outbox, claim_timers
from sopdesk.worker.delivery import OneShot
from sopdesk.worker.outbox import build_message
from sopdesk.worker.policy import RetryPolicy, decide_for
from sopdesk.worker.runner import (
    HOUSEKEEPING_EVERY,
    MIN_IDLE_WAIT,
    Deliver,
    RoundStats,
    Worker,
    idle_wait,
    next_timer_due,
    smtp_deliver,
)
from sopdesk.worker.status import outbox_status, retry_dead, timer_status, webhook_status
from tests.worker.support import (
    SECRET,
    Clock,
    Sink,
    add_emails,
    add_timers,
    config,
    fake_fire_timer,
    fired_counts,
    smtp_sink,
)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, SmtpConfig]]:
    with smtp_sink() as pair:
        yield pair


def make_worker(
    sessions: sessionmaker[Session],
    clock: Clock,
    deliver: Deliver | None,
    worker_id: str = "w1",
    **changes: object,
) -> Worker:
    return Worker(
        sessions,
        config(worker_id, **changes),  # type: ignore[arg-type]
        deliver=deliver,
        fire_timer=fake_fire_timer,
        clock=clock,
        jitter=lambda: 0.0,
    )


def outbox_rows(session: Session) -> list[OutboxRow]:
    session.expire_all()
    return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_due_timers_fire_and_email_is_sent_once(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    add_timers(session, 3, now - timedelta(minutes=1))
    add_timers(session, 1, now + timedelta(hours=1), prefix="later")
    add_emails(session, 2, now - timedelta(minutes=1))
    worker = make_worker(sessions, Clock(now), smtp_deliver(smtp))

    stats = worker.run_once()
    assert (stats.fired, stats.sent) == (3, 2)
    assert worker.run_once().worked == 0
    assert fired_counts(session) == {"t:0": 1, "t:1": 1, "t:2": 1}
    rows = outbox_rows(session)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert sorted(handler.message_ids) == sorted(r.message_id for r in rows)
    assert set(handler.message_ids.values()) == {1}
    sent = message_from_bytes(handler.messages[0])
    assert sent["In-Reply-To"] == "<cust-1@customer.example>"
    assert sent["Date"] == "Mon, 02 Mar 2026 09:29:00 +0000"  # the row's created_at
    assert handler.connections == 1  # the batch went over one SMTP connection


def test_451_then_250_retries_with_backoff(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    handler.replies.append("451 4.7.1 greylisted, try again later")
    add_emails(session, 1, now)
    clock = Clock(now)
    worker = make_worker(sessions, clock, smtp_deliver(smtp))

    assert worker.run_once().email_failures == 1
    [row] = outbox_rows(session)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.next_attempt_at == now + timedelta(seconds=30)  # base 60 s, jitter 0 → d/2
    assert "451" in (row.last_error or "")
    clock.advance(seconds=29)
    assert worker.run_once().worked == 0  # not before its retry time
    clock.advance(seconds=1)
    assert worker.run_once().sent == 1
    [row] = outbox_rows(session)
    assert (row.status, row.attempts) == ("sent", 2)
    assert handler.connections == 2  # one connection per batch
    assert list(handler.message_ids.values()) == [1]


def test_550_is_dead_at_once_and_retry_dead_requeues_it(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    handler.replies.append("550 5.1.1 no such user")
    add_emails(session, 1, now)
    worker = make_worker(sessions, Clock(now), smtp_deliver(smtp))
    assert worker.run_once().dead == 1
    [row] = outbox_rows(session)
    assert row.status == "dead"
    assert "550" in (row.last_error or "")
    assert outbox_status(session, now).dead == 1

    assert retry_dead(session, now, queue="outbox") == {"timers": 0, "outbox": 1}
    assert worker.run_once().sent == 1
    assert list(handler.message_ids.values()) == [1]


def test_a_transient_error_goes_dead_after_max_attempts(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    handler.replies.extend(["421 4.3.2 shutting down"] * 3)
    add_emails(session, 1, now)
    clock = Clock(now)
    policy = RetryPolicy(base=timedelta(seconds=10), max_attempts=3)
    worker = make_worker(sessions, clock, smtp_deliver(smtp), email_policy=policy)
    for _ in range(3):
        worker.run_once()
        clock.advance(hours=1)
    [row] = outbox_rows(session)
    assert (row.status, row.attempts) == ("dead", 3)
    assert (row.last_error or "").startswith("gave up after 3 attempts")
    assert not handler.message_ids


def test_an_unsendable_payload_is_dead_without_touching_smtp(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    add_emails(session, 1, now, to="not an address")
    worker = make_worker(sessions, Clock(now), smtp_deliver(smtp))
    assert worker.run_once().dead == 1
    [row] = outbox_rows(session)
    assert row.status == "dead"
    assert "InvalidAddressError" in (row.last_error or "")
    assert not handler.message_ids


def test_a_failing_timer_backs_off_then_goes_dead(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    add_timers(session, 1, now - timedelta(minutes=1))
    clock = Clock(now)

    def broken(session: Session, timer_id: int, /, *, now: datetime, worker_id: str) -> None:
        raise RuntimeError("engine bug")

    policy = RetryPolicy(base=timedelta(seconds=30), max_attempts=2)
    worker = Worker(
        sessions,
        config(timer_policy=policy),
        deliver=None,
        fire_timer=broken,
        clock=clock,
        jitter=lambda: 0.0,
    )
    assert worker.run_once().timer_failures == 1
    session.expire_all()
    row = session.scalars(select(TimerRow)).one()
    assert (row.status, row.attempts, row.locked_by) == ("pending", 1, None)
    assert row.locked_until == now + timedelta(seconds=15)
    assert row.due_at == now - timedelta(minutes=1)  # the real due time is kept
    assert timer_status(session, now).scheduled == 1
    clock.advance(seconds=15)
    assert worker.run_once().dead == 1
    session.expire_all()
    assert session.scalars(select(TimerRow.status)).one() == "dead"


# --- crash points (docs/worker.md, "What a crash can do") ------------------------------


def test_crash_after_claim_before_send_sends_once(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    """E1: the worker dies holding the claim; after the lease the row is sent once."""
    handler, smtp = sink
    add_emails(session, 1, now)
    add_timers(session, 1, now - timedelta(seconds=1))
    assert claim_outbox(session, now, "dead-worker") and claim_timers(session, now, "dead-worker")
    clock = Clock(now)
    worker = make_worker(sessions, clock, smtp_deliver(smtp), worker_id="w2")
    assert worker.run_once().worked == 0  # leased to the dead worker
    clock.advance(seconds=60)
    stats = worker.run_once()
    assert (stats.reclaimed.emails, stats.reclaimed.timers, stats.sent, stats.fired) == (1, 1, 1, 1)
    assert list(handler.message_ids.values()) == [1]
    assert fired_counts(session) == {"t:0": 1}


def test_a_busy_worker_looks_for_expired_leases_once_a_second(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    """The look scans the claimed rows' index entries: once per round would cost the
    server more than the claim when rounds are small. The first round always looks."""
    clock = Clock(now)
    worker = make_worker(sessions, clock, None, lease=timedelta(seconds=30))
    add_timers(session, 1, now - timedelta(minutes=10), prefix="first")
    assert claim_timers(session, now - timedelta(minutes=5), "dead-worker")
    assert worker.run_once().reclaimed.timers == 1  # the first round looks
    add_timers(session, 1, now - timedelta(minutes=10), prefix="second")
    assert claim_timers(session, now - timedelta(minutes=5), "dead-worker")
    clock.advance(seconds=0.5)
    assert worker.run_once().reclaimed.timers == 0  # too soon to look again
    clock.advance(seconds=0.5)
    assert worker.run_once().reclaimed.timers == 1
    clock.advance(seconds=0.5)
    assert fired_counts(session) == {"first:0": 1, "second:0": 1}


def test_crash_after_smtp_accept_resends_with_the_same_message_id(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    """E3: the one window that duplicates: accepted by SMTP, killed before `sent`."""
    handler, smtp = sink
    add_emails(session, 1, now)
    real = smtp_deliver(smtp)

    def send_then_die(message: EmailMessage) -> SendResult:
        real(message)
        raise SystemExit(137)  # what SIGKILL looks like from the database's side

    with pytest.raises(SystemExit):
        make_worker(sessions, Clock(now), OneShot(send_then_die)).run_once()
    assert [r.status for r in outbox_rows(session)] == ["sending"]

    restarted = make_worker(sessions, Clock(now), real, reclaim_all_at_start=True)
    assert restarted.run_once().sent == 1
    [(message_id, count)] = handler.message_ids.items()
    assert count == 2  # a duplicate, recognisable: both copies carry one Message-ID
    assert outbox_rows(session)[0].message_id == message_id


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_new_owner(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    """E5: a stalled worker wakes up after its row was re-claimed and re-sent."""
    handler, smtp = sink
    add_emails(session, 1, now)
    stale = claim_outbox(session, now, "stalled")
    clock = Clock(now + timedelta(seconds=61))
    make_worker(sessions, clock, smtp_deliver(smtp), worker_id="w2").run_once()
    stalled = make_worker(sessions, clock, smtp_deliver(smtp), worker_id="stalled")
    stats = RoundStats()
    stalled._send(session, stale[0], stats)  # it wakes up mid-batch and sends its stale claim
    stalled.deliver.close()  # type: ignore[union-attr]
    [row] = outbox_rows(session)
    assert (row.status, row.attempts) == ("sent", 2)  # w2's outcome stands
    assert stats.sent == 1
    assert list(handler.message_ids.values()) == [2]  # same Message-ID both times


def test_the_same_row_always_gives_the_same_bytes(session: Session, now: datetime) -> None:
    add_emails(session, 1, now)
    [row] = outbox_rows(session)

    def build() -> bytes:
        message = build_message(row.key, row.payload, created_at=row.created_at, secret=SECRET)
        return message.as_bytes()

    assert build() == build()


def test_stop_releases_what_is_left_of_the_batch(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    add_timers(session, 5, now - timedelta(minutes=1))
    fired: list[int] = []
    worker: Worker

    def fire_then_stop(
        session: Session, timer_id: int, /, *, now: datetime, worker_id: str
    ) -> None:
        fake_fire_timer(session, timer_id, now=now, worker_id=worker_id)
        fired.append(timer_id)
        if len(fired) == 2:
            worker.request_stop()

    worker = Worker(
        sessions,
        config(shutdown_grace=0.0),
        deliver=None,
        fire_timer=fire_then_stop,
        clock=Clock(now),
    )
    stats = worker.run_once()
    assert (stats.fired, stats.released) == (2, 3)
    session.expire_all()
    statuses = sorted((r.status, r.attempts) for r in session.scalars(select(TimerRow)))
    assert statuses == [("done", 1)] * 2 + [("pending", 0)] * 3
    worker.run()  # returns at once: a stop was requested


def test_run_shows_each_round_to_its_hook_until_stopped(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    add_timers(session, 3, now - timedelta(minutes=1))
    seen: list[RoundStats] = []
    worker: Worker

    def note(stats: RoundStats) -> None:
        seen.append(stats)
        if len(seen) == 2:
            worker.request_stop()

    worker = Worker(
        sessions,
        config(poll_interval=0.01),
        deliver=None,
        fire_timer=fake_fire_timer,
        clock=Clock(now),
    )
    worker.run(on_round=note)
    assert [stats.fired for stats in seen] == [3, 0]  # the second round found nothing
    session.expire_all()
    assert {row.status for row in session.scalars(select(TimerRow))} == {"done"}


def test_a_stop_within_the_grace_finishes_the_batch(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    add_timers(session, 4, now - timedelta(minutes=1))
    worker: Worker

    def fire_and_stop(session: Session, timer_id: int, /, *, now: datetime, worker_id: str) -> None:
        fake_fire_timer(session, timer_id, now=now, worker_id=worker_id)
        worker.request_stop()

    worker = Worker(sessions, config(), deliver=None, fire_timer=fire_and_stop, clock=Clock(now))
    assert worker.run_once().fired == 4


def test_status_reports_depth_and_lag(session: Session, now: datetime) -> None:
    add_timers(session, 3, now - timedelta(minutes=10))
    add_timers(session, 2, now + timedelta(minutes=10), prefix="later")
    add_emails(session, 1, now - timedelta(seconds=30))
    timers = timer_status(session, now)
    assert (timers.due, timers.scheduled, timers.in_flight, timers.dead) == (3, 2, 0, 0)
    assert timers.lag_seconds == pytest.approx(600)
    emails = outbox_status(session, now)
    assert (emails.due, emails.lag_seconds) == (1, 30)
    assert emails.as_json()["oldest_due_at"] == (now - timedelta(seconds=30)).isoformat()


def test_webhook_deliveries_are_their_own_queue(session: Session, now: datetime) -> None:
    add_emails(session, 1, now - timedelta(seconds=30))
    session.add(
        OutboxRow(
            key="webhook:1:evt_a",
            kind="webhook",
            payload={"webhook_id": 1, "event": "ping", "data": {}},
            status="pending",
            attempts=0,
            next_attempt_at=now - timedelta(seconds=5),
            created_at=now - timedelta(seconds=5),
        )
    )
    session.commit()
    hooks = webhook_status(session, now)
    assert (hooks.name, hooks.due, hooks.lag_seconds) == ("webhooks", 1, 5)
    assert (outbox_status(session, now).due, outbox_status(session, now).name) == (1, "outbox")


def test_without_smtp_email_stays_queued(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    add_emails(session, 1, now)
    assert make_worker(sessions, Clock(now), None).run_once().worked == 0
    assert [r.status for r in outbox_rows(session)] == ["pending"]


def test_an_error_drops_the_connection_and_the_batch_goes_on(
    sessions: sessionmaker[Session], session: Session, now: datetime, sink: tuple[Sink, SmtpConfig]
) -> None:
    handler, smtp = sink
    add_emails(session, 3, now)
    handler.replies.append("452 4.2.2 mailbox full")  # the first message of the batch
    stats = make_worker(sessions, Clock(now), smtp_deliver(smtp)).run_once()
    assert (stats.sent, stats.email_failures) == (2, 1)
    assert handler.connections == 2  # reconnected after the error
    assert [r.status for r in outbox_rows(session)] == ["failed", "sent", "sent"]


def test_a_secret_mismatch_is_logged_but_the_mail_still_goes(
    sessions: sessionmaker[Session],
    session: Session,
    now: datetime,
    sink: tuple[Sink, SmtpConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, smtp = sink
    add_emails(session, 1, now)
    [row] = outbox_rows(session)
    row.payload = {**row.payload, "message_id": "sd.queued-with-another-secret@shop.example"}
    session.commit()
    assert make_worker(sessions, Clock(now), smtp_deliver(smtp)).run_once().sent == 1
    assert "is SOPDESK_SECRET_KEY the same" in caplog.text
    assert sum(handler.message_ids.values()) == 1


def test_a_stale_timer_failure_cannot_overwrite_a_claim_with_the_same_attempt_number(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    """The engine moving a timer starts `attempts` again at 0, so a new claim can get
    the stalled worker's number back; the owner check still fences the stale write."""
    add_timers(session, 1, now - timedelta(minutes=1))
    [stale] = claim_timers(session, now, "stalled")
    later = now + timedelta(minutes=5)
    session.execute(  # what schedule_timer does when the engine moves the timer
        update(TimerRow).values(
            status="pending", attempts=0, due_at=later, locked_by=None, locked_until=None
        )
    )
    session.commit()
    [fresh] = claim_timers(session, later, "w2")
    assert fresh.attempts == stale.attempts  # the number alone no longer fences
    stalled = make_worker(sessions, Clock(later), None, worker_id="stalled")
    failure = decide_for(
        RuntimeError("stale"),
        attempts=stale.attempts,
        policy=stalled.config.timer_policy,
        now=later,
        jitter=0.0,
    )
    assert stalled._record_timer_failure(session, stale, failure) == 0
    session.expire_all()
    row = session.scalars(select(TimerRow)).one()
    assert (row.status, row.locked_by, row.last_error) == ("running", "w2", None)


def test_an_idle_worker_sleeps_until_the_next_timer_is_due_at_most_a_poll(
    session: Session, now: datetime
) -> None:
    assert idle_wait(now, None, 1.0) == 1.0
    assert idle_wait(now, now + timedelta(seconds=0.25), 1.0) == 0.25
    assert idle_wait(now, now + timedelta(minutes=5), 1.0) == 1.0
    assert idle_wait(now, now, 1.0) == MIN_IDLE_WAIT  # never a busy loop
    assert next_timer_due(session, now) is None
    add_timers(session, 1, now - timedelta(seconds=5), prefix="late")  # due: the poll's job
    add_timers(session, 2, now + timedelta(seconds=3), prefix="soon")
    add_timers(session, 1, now + timedelta(seconds=1), prefix="done")
    session.execute(update(TimerRow).where(TimerRow.key == "done:0").values(status="done"))
    session.commit()
    assert next_timer_due(session, now) == now + timedelta(seconds=3)


def test_a_round_holds_one_connection(
    engine: Engine, sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    """Each slice commits, but the round does not give its connection back in between
    (which on PostgreSQL costs a ping at every checkout)."""
    add_timers(session, 5, now - timedelta(minutes=1))
    session.commit()
    checkouts: list[object] = []

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    event.listen(engine, "checkout", checked_out)
    try:
        stats = make_worker(sessions, Clock(now), None, batch=5).run_once()
    finally:
        event.remove(engine, "checkout", checked_out)
    assert stats.fired == 5
    assert len(checkouts) == 1


def test_housekeeping_runs_at_most_once_a_minute(
    sessions: sessionmaker[Session], session: Session, now: datetime
) -> None:
    calls: list[datetime] = []

    def housekeeping(_session: Session, at: datetime) -> int:
        calls.append(at)
        return 2

    clock = Clock(now)
    worker = Worker(
        sessions, config(), deliver=None, fire_timer=fake_fire_timer, clock=clock,
        jitter=lambda: 0.0, housekeeping=housekeeping,
    )  # fmt: skip
    assert worker.run_once().closed == 2  # the first round does it
    clock.advance(seconds=59)
    assert worker.run_once().closed == 0
    clock.advance(seconds=1)
    stats = worker.run_once()
    assert stats.closed == 2 and stats.worked == 2
    assert calls == [now, now + HOUSEKEEPING_EVERY]
    worker.request_stop()
    clock.advance(minutes=5)
    assert worker.run_once().closed == 0  # a stopping worker leaves it for the next
