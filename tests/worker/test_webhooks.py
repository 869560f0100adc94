"""Webhook delivery by the worker against a real HTTP receiver on 127.0.0.1, on SQLite
and PostgreSQL: a signed case.created, retries after 500s, 410 Gone, dead letters,
cancelled rows of removed or inactive endpoints, and URLs that are never POSTed to."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.actions import webhook_events
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.sop_files import do_load_library
from sopdesk.actions.timers import do_fire_timer
from sopdesk.actions.webhooks import do_create_webhook, do_ping_webhook, get_webhook
from sopdesk.channels.webhook_out import verify_signature
from sopdesk.settings import Settings
from sopdesk.store import session_factory
from sopdesk.store.tables import OutboxRow, WebhookRow
from sopdesk.worker.claim import claim_webhooks
from sopdesk.worker.runner import Worker
from sopdesk.worker.status import dead_letters, retry_dead
from sopdesk.worker.webhooks import (
    WEBHOOK_POLICY,
    Answer,
    Dead,
    Gone,
    Retry,
    Sent,
    WebhookStats,
    deliver_claimed,
    outcome,
)
from tests.worker.support import Clock, config
from tests.worker.webhook_receiver import Receiver, running_receiver

SETTINGS = Settings(
    company_name="Shop Example",
    support_address="support@shop.example",
    public_base_url="https://help.shop.example",
    secret_key="test-secret",
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    webhook_events.invalidate_subscriptions()
    yield session_factory(engine)
    webhook_events.invalidate_subscriptions()


def make_worker(sessions: sessionmaker[Session], clock: Clock) -> Worker:
    return Worker(
        sessions,
        config("w1"),
        deliver=None,  # no SMTP: e-mail stays queued, webhooks still go out
        fire_timer=partial(do_fire_timer, settings=SETTINGS),
        clock=clock,
        jitter=lambda: 0.0,
    )


def hook(session: Session, url: str, *events: str) -> tuple[int, str]:
    created = do_create_webhook(session, url, events or ("case.created",), created_by="o@x.example")
    return created.row.id, created.secret


def deliveries(session: Session) -> list[OutboxRow]:
    session.expire_all()
    query = select(OutboxRow).where(OutboxRow.kind == "webhook").order_by(OutboxRow.id)
    return list(session.scalars(query))


def test_a_new_case_is_delivered_signed(
    sessions: sessionmaker[Session], session: Session, now: datetime, receiver: Receiver
) -> None:
    do_load_library(session, now=now - timedelta(days=30))
    webhook_id, secret = hook(session, receiver.url, "case.created", "sla.breached")
    case = do_open_case(
        session,
        customer_email="ann@customer.example",
        subject="Where is my refund?",
        body="I returned the boots last week and want my refund.",
        now=now,
        settings=SETTINGS,
    )
    clock = Clock(now)
    stats = make_worker(sessions, clock).run_once()
    assert stats.dead == 0

    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert payload["event"] == "case.created" and payload["webhook_id"] == webhook_id
    assert payload["data"]["case"]["reference"] == case.reference
    assert payload["data"]["case"]["customer"]["email"] == "ann@customer.example"
    assert headers["Sopdesk-Event"] == "case.created"
    assert headers["Sopdesk-Delivery"] == payload["id"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("sopdesk/")
    assert verify_signature(secret, headers["Sopdesk-Signature"], body, now=clock())
    assert not verify_signature(secret, headers["Sopdesk-Signature"], body + b" ", now=clock())
    [row] = deliveries(session)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 1, now, None)
    assert make_worker(sessions, clock).run_once().dead == 0
    assert len(receiver.requests) == 1  # sent once


def test_500_twice_then_200_is_delivered_once_after_backoff(
    sessions: sessionmaker[Session], session: Session, now: datetime, receiver: Receiver
) -> None:
    webhook_id, _ = hook(session, receiver.url)
    do_ping_webhook(session, webhook_id, now=now)
    receiver.replies += [500, 500]
    clock = Clock(now)
    worker = make_worker(sessions, clock)

    worker.run_once()
    [row] = deliveries(session)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.next_attempt_at == now + timedelta(seconds=30)  # base 60 s, jitter 0 → d/2
    assert row.last_error == "the receiver answered HTTP 500"
    clock.advance(seconds=29)
    worker.run_once()
    assert len(receiver.requests) == 1  # not before its retry time
    clock.advance(seconds=1)
    worker.run_once()
    [row] = deliveries(session)
    assert (row.status, row.attempts) == ("failed", 2)
    clock.advance(seconds=60)
    worker.run_once()
    [row] = deliveries(session)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    ids = {headers["Sopdesk-Delivery"] for headers, _ in receiver.requests}
    assert len(receiver.requests) == 3 and ids == {row.payload["id"]}  # one id to dedupe on
    assert receiver.events() == ["ping"] * 3


def test_410_deactivates_the_endpoint_and_cancels_what_waits(
    sessions: sessionmaker[Session], session: Session, now: datetime, receiver: Receiver
) -> None:
    webhook_id, _ = hook(session, receiver.url)
    do_ping_webhook(session, webhook_id, now=now)
    do_ping_webhook(session, webhook_id, now=now + timedelta(minutes=5))  # due later
    receiver.replies.append(410)
    clock = Clock(now)
    assert make_worker(sessions, clock).run_once().dead == 1

    first, second = deliveries(session)
    assert first.status == "dead" and "410" in (first.last_error or "")
    assert second.status == "cancelled" and (second.last_error or "").startswith("cancelled:")
    session.expire_all()
    assert get_webhook(session, webhook_id).active is False
    clock.advance(minutes=10)
    make_worker(sessions, clock).run_once()
    assert len(receiver.requests) == 1
    do_load_library(session, now=now)
    do_open_case(
        session, customer_email="bo@customer.example", subject="Hi", now=now, settings=SETTINGS
    )
    assert len(deliveries(session)) == 2  # an inactive endpoint gets no new events


def test_connection_errors_retry_and_go_dead_after_the_last_attempt(
    sessions: sessionmaker[Session], session: Session, now: datetime, receiver: Receiver
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/hooks"
    webhook_id, _ = hook(session, closed)
    do_ping_webhook(session, webhook_id, now=now)
    clock = Clock(now)
    worker = make_worker(sessions, clock)
    worker.run_once()
    [row] = deliveries(session)
    assert row.status == "failed" and "ConnectError" in (row.last_error or "")

    session.execute(update(OutboxRow).values(attempts=WEBHOOK_POLICY.max_attempts - 1))
    session.commit()
    clock.advance(hours=1)
    assert worker.run_once().dead == 1
    [row] = deliveries(session)
    assert row.status == "dead" and row.last_error.startswith("gave up after 12 attempts")
    [letter] = dead_letters(session)
    assert (letter.queue, letter.id) == ("outbox", row.id)

    session.execute(update(WebhookRow).values(url=receiver.url))
    session.commit()
    assert retry_dead(session, clock(), queue="outbox") == {"timers": 0, "outbox": 1}
    worker.run_once()
    assert [r.status for r in deliveries(session)] == ["sent"]
    assert receiver.events() == ["ping"]


def test_rows_of_removed_inactive_or_non_http_endpoints_are_never_posted(
    sessions: sessionmaker[Session], session: Session, now: datetime, receiver: Receiver
) -> None:
    removed, _ = hook(session, receiver.url)
    inactive, _ = hook(session, receiver.url)
    odd, _ = hook(session, receiver.url)
    for webhook_id in (removed, inactive, odd):
        do_ping_webhook(session, webhook_id, now=now)
    # as another process would see it: the endpoint changed after the rows were queued
    session.execute(update(WebhookRow).where(WebhookRow.id == inactive).values(active=False))
    session.execute(update(WebhookRow).where(WebhookRow.id == odd).values(url="file:///etc/passwd"))
    session.delete(session.get(WebhookRow, removed))
    session.commit()

    make_worker(sessions, Clock(now)).run_once()
    assert receiver.requests == []
    rows = {row.payload["webhook_id"]: row for row in deliveries(session)}
    assert set(rows) == {inactive, odd}  # the removed endpoint's row is gone
    assert rows[inactive].status == "cancelled"
    assert (rows[inactive].last_error or "").startswith("cancelled:")
    assert rows[odd].status == "dead" and "only http(s)" in (rows[odd].last_error or "")


def test_outcomes_pure() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    decide = partial(outcome, attempts=1, policy=WEBHOOK_POLICY, now=now, jitter=0.0)
    assert decide(Answer(status=204)) == Sent("HTTP 204")
    assert isinstance(decide(Answer(status=410)), Gone)
    for answer in (Answer(status=301), Answer(status=404), Answer(status=503), Answer(error="x")):
        assert isinstance(decide(answer), Retry)
    last = outcome(Answer(status=500), attempts=12, policy=WEBHOOK_POLICY, now=now, jitter=0.0)
    assert isinstance(last, Dead)


def test_a_stop_releases_the_deliveries_not_yet_posted(
    session: Session, now: datetime, receiver: Receiver
) -> None:
    webhook_id, _ = hook(session, receiver.url)
    for _ in range(3):
        do_ping_webhook(session, webhook_id, now=now)
    claimed = claim_webhooks(session, now, "w1", 10, timedelta(seconds=60))
    found = WebhookStats()
    deliver_claimed(session, claimed, lambda: now, lambda: 0.0, found, stopping=lambda: True)
    assert (found.released, found.sent) == (3, 0) and receiver.requests == []
    rows = deliveries(session)
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}  # at once, not counted
    assert len(claim_webhooks(session, now, "w2", 10, timedelta(seconds=60))) == 3
