"""Claiming due rows in batches, with leases: the only place the worker locks rows.

PostgreSQL: one transaction selects up to `batch` due ids `ORDER BY due_at ... FOR UPDATE
SKIP LOCKED`, marks them claimed with a lease, and commits, so any number of workers on
any number of machines share the queue and never claim the same row twice
(docs/worker.md; batches of 100 reach ~14k claims/s on a 2-core machine).

SQLite: one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING` statement, which
takes the write lock at once (no stale read snapshot to upgrade). Only one worker runs
per SQLite file; `single_worker_lock` (a file lock next to the database) enforces it.

Each claim adds one to `attempts`; the claimer remembers the new value and every later
write to the row is fenced on it (`attempts = :seen`), so a worker whose lease ran out
and whose row was re-claimed cannot overwrite the new owner's outcome.

Leases: timers keep theirs in `locked_until`; outbox rows have no lease columns, so a
row in `sending` keeps its lease expiry in `next_attempt_at` (the time it may be tried
again). A row whose lease expired belonged to a worker that died: `reclaim_expired`
makes it claimable again, or dead after `max_attempts` (see `policy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, any_, func, or_, select, update
from sqlalchemy.orm import Session

from sopdesk.store.queries import is_postgres
from sopdesk.store.tables import (
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    TimerRow,
    TimerStatus,
)
from sopdesk.worker.policy import RetryPolicy, lease_expired_decision

DEFAULT_BATCH = 100
DEFAULT_TIMER_BATCH = 300
"""Timers claimed per round, and fired in one transaction (`runner.FIRE_SLICE`). The
round's and the slice's fixed costs (the claims and their commits, the look at the
timers, their cases and runs, the final UPDATE) are shared by their timers: with a
backlog of timers that find nothing new to do, 300 cost about a third less CPU per
timer than 100. The price is a longer transaction when many cases have real work: a
slice of 300 cases that each owe days of escalations holds their locks for about a
second."""
DEFAULT_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class ClaimedTimer:
    id: int
    key: str
    attempts: int  # the fencing token: our claim's attempt number


@dataclass(frozen=True)
class ClaimedEmail:
    id: int
    key: str
    attempts: int
    payload: dict[str, Any]
    created_at: datetime


def _timer_due(now: datetime) -> Any:
    return and_(
        TimerRow.status == TimerStatus.PENDING.value,
        TimerRow.due_at <= now,
        or_(TimerRow.locked_until.is_(None), TimerRow.locked_until <= now),
    )


def _outbox_due(now: datetime, kind: OutboxKind = OutboxKind.EMAIL) -> Any:
    return and_(
        OutboxRow.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value]),
        OutboxRow.kind == kind.value,
        OutboxRow.next_attempt_at <= now,
    )


def claim_timers(
    session: Session,
    now: datetime,
    worker_id: str,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> list[ClaimedTimer]:
    """Claim up to `batch` due timers (oldest due first) for `lease`; commits."""
    ids = (
        select(TimerRow.id)
        .where(_timer_due(now))
        .order_by(TimerRow.due_at, TimerRow.id)
        .limit(batch)
    )
    claim = update(TimerRow).values(
        status=TimerStatus.RUNNING.value,
        locked_by=worker_id,
        locked_until=now + lease,
        attempts=TimerRow.attempts + 1,
    )
    rows = _claim(session, ids, claim, TimerRow, (TimerRow.id, TimerRow.key, TimerRow.attempts))
    return sorted((ClaimedTimer(*row) for row in rows), key=lambda c: c.id)


def claim_outbox(
    session: Session,
    now: datetime,
    worker_id: str,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
    *,
    kind: OutboxKind = OutboxKind.EMAIL,
) -> list[ClaimedEmail]:
    """Claim up to `batch` outbox rows of `kind` that are due (oldest first) for `lease`;
    commits.

    `worker_id` is not stored (the outbox has no owner column): the fence is `attempts`.
    """
    del worker_id  # kept in the signature so both queues are claimed alike
    ids = (
        select(OutboxRow.id)
        .where(_outbox_due(now, kind))
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(batch)
    )
    claim = update(OutboxRow).values(
        status=OutboxStatus.SENDING.value,
        next_attempt_at=now + lease,
        attempts=OutboxRow.attempts + 1,
    )
    columns = (
        OutboxRow.id,
        OutboxRow.key,
        OutboxRow.attempts,
        OutboxRow.payload,
        OutboxRow.created_at,
    )
    rows = _claim(session, ids, claim, OutboxRow, columns)
    return sorted((ClaimedEmail(*row) for row in rows), key=lambda c: c.id)


def claim_webhooks(
    session: Session,
    now: datetime,
    worker_id: str,
    batch: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
) -> list[ClaimedEmail]:
    """Claim up to `batch` due webhook deliveries: `claim_outbox` for kind `webhook`.

    A `ClaimedEmail` is simply a claimed outbox row, so `renew_outbox` and
    `release_outbox` work on these too.
    """
    return claim_outbox(session, now, worker_id, batch, lease, kind=OutboxKind.WEBHOOK)


def _claim(session: Session, ids: Any, claim: Any, table: Any, columns: Sequence[Any]) -> list[Any]:
    try:
        if is_postgres(session):
            # One statement: the ids are chosen once (an InitPlan), rows another worker
            # holds are passed over, and the chosen rows are updated and returned.
            chosen = func.array(ids.with_for_update(skip_locked=True).scalar_subquery())
            statement = claim.where(table.id == any_(chosen)).returning(*columns)
        else:
            statement = claim.where(table.id.in_(ids.scalar_subquery())).returning(*columns)
        rows = list(session.execute(statement))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return rows


def renew_timers(
    session: Session, claimed: Sequence[ClaimedTimer], worker_id: str, until: datetime
) -> set[int]:
    """Extend our lease on `claimed`; returns the ids we still hold. Commits."""
    held: set[int] = set()
    for item in claimed:
        result = session.execute(
            update(TimerRow)
            .where(
                TimerRow.id == item.id,
                TimerRow.status == TimerStatus.RUNNING.value,
                TimerRow.attempts == item.attempts,
                TimerRow.locked_by == worker_id,
            )
            .values(locked_until=until)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            held.add(item.id)
    session.commit()
    return held


def renew_outbox(session: Session, claimed: Sequence[ClaimedEmail], until: datetime) -> set[int]:
    """Extend our lease on `claimed` e-mails; returns the ids we still hold. Commits."""
    held: set[int] = set()
    for item in claimed:
        result = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == item.id,
                OutboxRow.status == OutboxStatus.SENDING.value,
                OutboxRow.attempts == item.attempts,
            )
            .values(next_attempt_at=until)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            held.add(item.id)
    session.commit()
    return held


def release_timers(session: Session, claimed: Sequence[ClaimedTimer], worker_id: str) -> int:
    """Give back timers we claimed but did not run (shutdown): claimable at once, and
    the attempt is not counted. Commits; returns how many were released."""
    released = 0
    for item in claimed:
        result = session.execute(
            update(TimerRow)
            .where(
                TimerRow.id == item.id,
                TimerRow.status == TimerStatus.RUNNING.value,
                TimerRow.attempts == item.attempts,
                TimerRow.locked_by == worker_id,
            )
            .values(
                status=TimerStatus.PENDING.value,
                locked_by=None,
                locked_until=None,
                attempts=TimerRow.attempts - 1,
            )
        )
        released += result.rowcount  # type: ignore[attr-defined]
    session.commit()
    return released


def release_outbox(session: Session, claimed: Sequence[ClaimedEmail], now: datetime) -> int:
    """Give back e-mails we claimed but did not send (shutdown). Commits."""
    released = 0
    for item in claimed:
        result = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == item.id,
                OutboxRow.status == OutboxStatus.SENDING.value,
                OutboxRow.attempts == item.attempts,
            )
            .values(
                status=OutboxStatus.PENDING.value
                if item.attempts == 1
                else OutboxStatus.FAILED.value,
                next_attempt_at=now,
                attempts=OutboxRow.attempts - 1,
            )
        )
        released += result.rowcount  # type: ignore[attr-defined]
    session.commit()
    return released


@dataclass(frozen=True)
class Reclaimed:
    """Rows whose worker vanished: made claimable again, or dead-lettered."""

    timers: int = 0
    timers_dead: int = 0
    emails: int = 0
    emails_dead: int = 0


def reclaim_expired(
    session: Session,
    now: datetime,
    *,
    timer_policy: RetryPolicy,
    email_policy: RetryPolicy,
    force: bool = False,
) -> Reclaimed:
    """Return rows whose lease ran out to the queue (all claimed rows when `force`:
    the caller knows no other worker runs, e.g. it holds the SQLite worker lock).
    Commits."""
    timers, timers_dead = _reclaim_timers(session, now, timer_policy, force=force)
    emails, emails_dead = _reclaim_outbox(session, now, email_policy, force=force)
    session.commit()
    return Reclaimed(timers, timers_dead, emails, emails_dead)


def _locked(session: Session, statement: Any) -> Any:
    return statement.with_for_update(skip_locked=True) if is_postgres(session) else statement


def _reclaim_timers(
    session: Session, now: datetime, policy: RetryPolicy, *, force: bool
) -> tuple[int, int]:
    expired = select(TimerRow.id, TimerRow.attempts, TimerRow.locked_by).where(
        TimerRow.status == TimerStatus.RUNNING.value
    )
    if not force:
        expired = expired.where(TimerRow.locked_until <= now)
    back, dead = 0, 0
    for row_id, attempts, holder in session.execute(_locked(session, expired)):
        verdict = lease_expired_decision(attempts, holder, policy=policy)
        values: dict[str, Any] = {"locked_by": None, "locked_until": None}
        if verdict is None:
            values |= {"status": TimerStatus.PENDING.value}
            values |= {"last_error": f"lease of {holder or 'a worker'} expired; retried"}
            back += 1
        else:
            values |= {"status": TimerStatus.DEAD.value, "last_error": verdict.error}
            dead += 1
        session.execute(update(TimerRow).where(TimerRow.id == row_id).values(**values))
    return back, dead


def _reclaim_outbox(
    session: Session, now: datetime, policy: RetryPolicy, *, force: bool
) -> tuple[int, int]:
    expired = select(OutboxRow.id, OutboxRow.attempts).where(
        OutboxRow.status == OutboxStatus.SENDING.value
    )
    if not force:
        expired = expired.where(OutboxRow.next_attempt_at <= now)
    back, dead = 0, 0
    for row_id, attempts in session.execute(_locked(session, expired)):
        verdict = lease_expired_decision(attempts, None, policy=policy)
        if verdict is None:
            values = {
                "status": OutboxStatus.FAILED.value,
                "next_attempt_at": now,
                "last_error": "the worker sending this stopped before recording the result; "
                "resent with the same Message-ID",
            }
            back += 1
        else:
            values = {"status": OutboxStatus.DEAD.value, "last_error": verdict.error}
            dead += 1
        session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(**values))
    return back, dead
