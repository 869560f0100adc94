"""Claim semantics on SQLite and PostgreSQL: due rows only, oldest first, leases,
fencing by attempt number, expired leases reclaimed, and the statement count per batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from sopdesk.store.tables import OutboxRow, TimerRow
from sopdesk.worker.claim import (
    claim_outbox,
    claim_timers,
    reclaim_expired,
    release_outbox,
    release_timers,
    renew_outbox,
    renew_timers,
)
from sopdesk.worker.policy import RetryPolicy
from tests.worker.support import add_emails, add_timers

LEASE = timedelta(seconds=60)
POLICY = RetryPolicy(max_attempts=3)


def reclaim(session: Session, now: datetime, *, force: bool = False) -> Any:
    return reclaim_expired(session, now, timer_policy=POLICY, email_policy=POLICY, force=force)


def test_claims_due_timers_oldest_first_up_to_the_batch(session: Session, now: datetime) -> None:
    add_timers(session, 5, now - timedelta(minutes=5), prefix="due")
    add_timers(session, 3, now + timedelta(minutes=5), prefix="later")

    first = claim_timers(session, now, "w1", batch=3, lease=LEASE)
    second = claim_timers(session, now, "w2", batch=3, lease=LEASE)
    third = claim_timers(session, now, "w3", batch=3, lease=LEASE)

    assert [c.key for c in first] == ["due:0", "due:1", "due:2"]
    assert [c.key for c in second] == ["due:3", "due:4"]
    assert third == []
    row = session.scalars(select(TimerRow).where(TimerRow.key == "due:0")).one()
    assert (row.status, row.locked_by, row.attempts) == ("running", "w1", 1)
    assert row.locked_until == now + LEASE
    assert {c.attempts for c in first + second} == {1}


def test_a_timer_backing_off_waits_for_its_not_before_time(session: Session, now: datetime) -> None:
    add_timers(session, 1, now - timedelta(hours=1))
    session.execute(update(TimerRow).values(locked_until=now + timedelta(seconds=30)))
    session.commit()
    assert claim_timers(session, now, "w1") == []
    assert [c.key for c in claim_timers(session, now + timedelta(seconds=30), "w1")] == ["t:0"]


def test_expired_leases_come_back_and_poison_rows_go_dead(session: Session, now: datetime) -> None:
    add_timers(session, 2, now - timedelta(minutes=1))
    claimed = claim_timers(session, now, "w1", lease=LEASE)
    assert reclaim(session, now + LEASE - timedelta(seconds=1)).timers == 0  # still leased

    result = reclaim(session, now + LEASE)
    assert (result.timers, result.timers_dead) == (2, 0)
    again = claim_timers(session, now + LEASE, "w2")
    assert [c.attempts for c in again] == [2, 2]
    # the first claim's fence no longer matches: it can neither renew nor release
    assert renew_timers(session, claimed, "w1", now + 2 * LEASE) == set()
    assert release_timers(session, claimed, "w1") == 0

    # a third crash on the same rows: attempts reach max_attempts=3, the rows go dead
    reclaim(session, now + 3 * LEASE)
    claim_timers(session, now + 3 * LEASE, "w3")
    result = reclaim(session, now + 5 * LEASE)
    assert (result.timers, result.timers_dead) == (0, 2)
    rows = session.scalars(select(TimerRow)).all()
    assert {r.status for r in rows} == {"dead"}
    assert "w3 stopped while handling this row 3 times" in (rows[0].last_error or "")


def test_force_reclaims_every_claimed_row_at_once(session: Session, now: datetime) -> None:
    add_timers(session, 2, now - timedelta(seconds=1))
    add_emails(session, 2, now)
    claim_timers(session, now, "w1")
    claim_outbox(session, now, "w1")
    result = reclaim(session, now, force=True)
    assert (result.timers, result.emails) == (2, 2)
    assert len(claim_timers(session, now, "w2")) == 2
    assert len(claim_outbox(session, now, "w2")) == 2


def test_release_gives_rows_back_without_counting_the_attempt(
    session: Session, now: datetime
) -> None:
    add_timers(session, 2, now - timedelta(seconds=1))
    add_emails(session, 2, now)
    timers = claim_timers(session, now, "w1")
    emails = claim_outbox(session, now, "w1")
    assert release_timers(session, timers, "w1") == 2
    assert release_outbox(session, emails, now) == 2
    session.expire_all()
    assert {(r.status, r.attempts) for r in session.scalars(select(TimerRow))} == {("pending", 0)}
    assert {(r.status, r.attempts) for r in session.scalars(select(OutboxRow))} == {("pending", 0)}


def test_outbox_claims_pending_and_failed_email_that_is_due(
    session: Session, now: datetime
) -> None:
    add_emails(session, 3, now - timedelta(minutes=1))
    add_emails(session, 1, now + timedelta(minutes=1), prefix="later")
    session.execute(update(OutboxRow).where(OutboxRow.key == "m:1").values(status="failed"))
    session.execute(update(OutboxRow).where(OutboxRow.key == "m:2").values(kind="webhook"))
    session.commit()

    claimed = claim_outbox(session, now, "w1", lease=LEASE)
    assert [c.key for c in claimed] == ["m:0", "m:1"]
    assert claimed[0].payload["subject"] == "Hello"
    assert claimed[0].created_at == now - timedelta(minutes=1)
    row = session.get(OutboxRow, claimed[0].id)
    assert row is not None
    assert (row.status, row.attempts, row.next_attempt_at) == ("sending", 1, now + LEASE)
    assert claim_outbox(session, now + LEASE - timedelta(seconds=1), "w2") == []
    assert renew_outbox(session, claimed, now + 2 * LEASE) == {c.id for c in claimed}


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]).split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_claim_batch_costs_a_fixed_number_of_statements(
    session: Session, now: datetime, statements: list[str]
) -> None:
    add_timers(session, 150, now - timedelta(minutes=1))
    statements.clear()
    assert len(claim_timers(session, now, "w1", batch=100)) == 100
    assert statements == ["UPDATE"]  # choose, lock and claim in one statement
