"""Queue depth, lag and dead letters for `sopdesk worker status`, and `retry-dead`.

Lag is `now - oldest due time` among rows that could be claimed now: 0 when the
workers keep up, growing when they fall behind or are not running at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sopdesk.store.queries import one_of
from sopdesk.store.tables import OutboxKind, OutboxRow, OutboxStatus, TimerRow, TimerStatus


@dataclass(frozen=True)
class QueueStatus:
    """One queue. `due`: claimable now; `scheduled`: due later (or backing off);
    `in_flight`: claimed by a worker; `retrying`: failed before and waiting."""

    name: str
    due: int
    scheduled: int
    in_flight: int
    retrying: int
    dead: int
    done: int
    oldest_due_at: datetime | None
    lag_seconds: float

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["oldest_due_at"] = self.oldest_due_at.isoformat() if self.oldest_due_at else None
        return data


def _count(session: Session, *where: Any, table: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def _lag(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def timer_status(session: Session, now: datetime) -> QueueStatus:
    pending = TimerRow.status == TimerStatus.PENDING.value
    due_now = (
        pending,
        TimerRow.due_at <= now,
        (TimerRow.locked_until.is_(None)) | (TimerRow.locked_until <= now),
    )
    oldest = session.scalar(select(func.min(TimerRow.due_at)).where(*due_now))
    due = _count(session, *due_now, table=TimerRow)
    return QueueStatus(
        name="timers",
        due=due,
        scheduled=_count(session, pending, table=TimerRow) - due,
        in_flight=_count(session, TimerRow.status == TimerStatus.RUNNING.value, table=TimerRow),
        retrying=_count(session, pending, TimerRow.attempts > 0, table=TimerRow),
        dead=_count(session, TimerRow.status == TimerStatus.DEAD.value, table=TimerRow),
        done=_count(session, TimerRow.status == TimerStatus.DONE.value, table=TimerRow),
        oldest_due_at=oldest,
        lag_seconds=_lag(now, oldest),
    )


def outbox_status(
    session: Session, now: datetime, *, kind: OutboxKind = OutboxKind.EMAIL
) -> QueueStatus:
    """The outbox rows of one kind: e-mail (the queue named "outbox") or webhook."""
    of_kind = OutboxRow.kind == kind.value
    waiting = OutboxRow.status.in_([OutboxStatus.PENDING.value, OutboxStatus.FAILED.value])
    due_now = (of_kind, waiting, OutboxRow.next_attempt_at <= now)
    oldest = session.scalar(select(func.min(OutboxRow.next_attempt_at)).where(*due_now))
    due = _count(session, *due_now, table=OutboxRow)
    status = OutboxRow.status
    return QueueStatus(
        name="outbox" if kind is OutboxKind.EMAIL else f"{kind.value}s",
        due=due,
        scheduled=_count(session, of_kind, waiting, table=OutboxRow) - due,
        in_flight=_count(session, of_kind, status == OutboxStatus.SENDING.value, table=OutboxRow),
        retrying=_count(session, of_kind, status == OutboxStatus.FAILED.value, table=OutboxRow),
        dead=_count(session, of_kind, status == OutboxStatus.DEAD.value, table=OutboxRow),
        done=_count(session, of_kind, status == OutboxStatus.SENT.value, table=OutboxRow),
        oldest_due_at=oldest,
        lag_seconds=_lag(now, oldest),
    )


def webhook_status(session: Session, now: datetime) -> QueueStatus:
    """Webhook deliveries waiting, in flight, retrying, dead and sent (queue "webhooks")."""
    return outbox_status(session, now, kind=OutboxKind.WEBHOOK)


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    id: int
    key: str
    attempts: int
    last_error: str | None


def dead_letters(session: Session, limit: int = 20) -> list[DeadLetter]:
    """The most recent dead rows of both queues (newest id first)."""
    timers = session.execute(
        select(TimerRow.id, TimerRow.key, TimerRow.attempts, TimerRow.last_error)
        .where(TimerRow.status == TimerStatus.DEAD.value)
        .order_by(TimerRow.id.desc())
        .limit(limit)
    )
    emails = session.execute(
        select(OutboxRow.id, OutboxRow.key, OutboxRow.attempts, OutboxRow.last_error)
        .where(OutboxRow.status == OutboxStatus.DEAD.value)
        .order_by(OutboxRow.id.desc())
        .limit(limit)
    )
    found = [DeadLetter("timers", *row) for row in timers]
    found += [DeadLetter("outbox", *row) for row in emails]
    return found


def retry_dead(
    session: Session, now: datetime, *, queue: str = "all", ids: tuple[int, ...] = ()
) -> dict[str, int]:
    """Put dead rows back in their queue with a fresh attempt count; commits.

    `queue` is "timers", "outbox" or "all"; `ids` limits it to those rows.
    """
    counts = {"timers": 0, "outbox": 0}
    if queue in ("timers", "all"):
        statement = update(TimerRow).where(TimerRow.status == TimerStatus.DEAD.value)
        if ids:
            statement = statement.where(one_of(session, TimerRow.id, ids))
        result = session.execute(
            statement.values(
                status=TimerStatus.PENDING.value, attempts=0, locked_by=None, locked_until=None
            )
        )
        counts["timers"] = result.rowcount  # type: ignore[attr-defined]
    if queue in ("outbox", "all"):
        statement = update(OutboxRow).where(OutboxRow.status == OutboxStatus.DEAD.value)
        if ids:
            statement = statement.where(one_of(session, OutboxRow.id, ids))
        result = session.execute(
            statement.values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now)
        )
        counts["outbox"] = result.rowcount  # type: ignore[attr-defined]
    session.commit()
    return counts
