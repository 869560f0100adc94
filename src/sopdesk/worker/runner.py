"""The worker loop (the shell): reclaim, claim a batch, run it, record the outcome.

`Worker.run_once()` does one round (expired leases back to the queue, one batch each
of timers, e-mails and webhook deliveries) and returns what it did; `sopdesk worker --once` and the
tests call it. `Worker.run()` repeats it until `request_stop()` (SIGTERM / SIGINT);
when a round found nothing it sleeps until the next timer comes due, at most
`poll_interval` (so a timer is not left waiting out a whole poll). On a stop request the current
batch is finished if it can be within `shutdown_grace` seconds; what is left of it is
released (claimable at once, attempt not counted).

A failing row never stops the loop: its error is recorded (`last_error`), it is
retried with back-off or dead-lettered (`policy`), and the next row runs.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.actions.base import utcnow
from sopdesk.actions.delivery import record_relay_refusal, record_sent
from sopdesk.actions.outbound import outbox_attachments
from sopdesk.channels.email_out import SendResult, SmtpConfig
from sopdesk.settings import Settings
from sopdesk.store.tables import OutboxRow, OutboxStatus, TimerRow, TimerStatus
from sopdesk.worker.claim import (
    DEFAULT_BATCH,
    DEFAULT_LEASE,
    DEFAULT_TIMER_BATCH,
    ClaimedEmail,
    ClaimedTimer,
    Reclaimed,
    claim_outbox,
    claim_timers,
    reclaim_expired,
    release_outbox,
    release_timers,
    renew_outbox,
    renew_timers,
)
from sopdesk.worker.delivery import Delivery, SmtpBatch
from sopdesk.worker.outbox import build_message
from sopdesk.worker.policy import Dead, Decision, RetryPolicy, decide_for, describe
from sopdesk.worker.webhooks import webhook_round

log = logging.getLogger("sopdesk.worker")

FIRE_SLICE = DEFAULT_TIMER_BATCH
"""Timers handed to one `fire_timers` call (one transaction): the whole default batch, for
the reasons `DEFAULT_TIMER_BATCH` gives. A larger `--timer-batch` is fired in several,
with the lease and a stop request checked in between."""
RECLAIM_EVERY = timedelta(seconds=1)
"""How often a busy worker looks for expired leases: a lease lasts far longer, and the
look scans every claimed row's index entry, so once per round would cost the server
more than the claim itself when rounds are small."""

HOUSEKEEPING_EVERY = timedelta(minutes=1)
"""How often a worker does its housekeeping (closing resolved cases past their reopen
window): the rule is exact at any instant, so the sweep only has to catch up."""
Housekeeping = Callable[[Session, datetime], int]

TIMER_POLICY = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=8)
EMAIL_POLICY = RetryPolicy(base=timedelta(seconds=60), cap=timedelta(hours=4), max_attempts=12)


class FireTimer(Protocol):
    """`sopdesk.actions.timers.do_fire_timer`: one transaction, idempotent."""

    def __call__(
        self, session: Session, timer_id: int, /, *, now: datetime, worker_id: str
    ) -> Any: ...


class FireTimers(Protocol):
    """`sopdesk.actions.timers.do_fire_timers`: `{timer id: None or the error}`.

    The same outcome as `FireTimer` per id in order; errors are returned, not raised.
    """

    def __call__(
        self, session: Session, timer_ids: list[int], /, *, now: datetime, worker_id: str
    ) -> dict[int, Exception | None]: ...


Deliver = Delivery


def smtp_deliver(config: SmtpConfig) -> Delivery:
    """Send over SMTP with aiosmtplib, one connection per batch."""
    return SmtpBatch(config)


def default_fire_timer(settings: Settings | None = None) -> FireTimer:
    """`do_fire_timer` with the server settings bound (read once, not per timer)."""
    from sopdesk.actions.timers import do_fire_timer  # the actions layer owns the effects

    return partial(do_fire_timer, settings=settings or Settings())


def default_housekeeping(settings: Settings | None = None) -> Housekeeping:
    """Close the resolved cases past their reopen window (`actions.auto_close`)."""
    from sopdesk.actions.auto_close import do_close_resolved

    bound = settings or Settings()

    def close_resolved(session: Session, now: datetime) -> int:
        return do_close_resolved(session, now, settings=bound)

    return close_resolved


def default_fire_timers(settings: Settings | None = None) -> FireTimers:
    """`do_fire_timers` with the server settings bound: a case's timers in one go."""
    from sopdesk.actions.timers import do_fire_timers

    return partial(do_fire_timers, settings=settings or Settings())


def one_by_one(fire_timer: FireTimer) -> FireTimers:
    """A `FireTimers` that calls `fire_timer` per id, rolling back after a failure."""

    def fire_each(
        session: Session, timer_ids: list[int], /, *, now: datetime, worker_id: str
    ) -> dict[int, Exception | None]:
        results: dict[int, Exception | None] = {}
        for timer_id in timer_ids:
            try:
                fire_timer(session, timer_id, now=now, worker_id=worker_id)
            except Exception as exc:
                session.rollback()
                results[timer_id] = exc
            else:
                results[timer_id] = None
        return results

    return fire_each


MIN_IDLE_WAIT = 0.005
"""Seconds: the shortest sleep after an idle round (no busy loop on a due instant)."""


def idle_wait(now: datetime, upcoming: datetime | None, poll_interval: float) -> float:
    """How long an idle worker sleeps: until `upcoming` (the next timer's due instant),
    but never longer than `poll_interval` (e-mail, retries and webhooks are polled) nor
    shorter than `MIN_IDLE_WAIT`."""
    if upcoming is None:
        return poll_interval
    until = (upcoming - now).total_seconds()
    return min(poll_interval, max(MIN_IDLE_WAIT, until))


def next_timer_due(session: Session, now: datetime) -> datetime | None:
    """The earliest due instant of a pending timer after `now` (one index seek).

    Timers already due but not claimable (held back after a failure) are left to the
    regular poll, so this never points a worker at an instant that has passed.
    """
    query = select(func.min(TimerRow.due_at)).where(
        TimerRow.status == TimerStatus.PENDING.value, TimerRow.due_at > now
    )
    return session.scalar(query)


@dataclass(frozen=True)
class WorkerConfig:
    """How one worker runs. `deliver=None`: no SMTP configured, e-mail stays queued."""

    worker_id: str
    secret: str
    batch: int = DEFAULT_BATCH  # e-mails and webhook deliveries claimed per round
    timer_batch: int = DEFAULT_TIMER_BATCH
    lease: timedelta = DEFAULT_LEASE
    poll_interval: float = 1.0
    shutdown_grace: float = 10.0
    send_timeout: float = 30.0
    timer_policy: RetryPolicy = TIMER_POLICY
    email_policy: RetryPolicy = EMAIL_POLICY
    reclaim_all_at_start: bool = False  # SQLite with the worker lock: nobody else runs


@dataclass
class RoundStats:
    """What one `run_once` did."""

    fired: int = 0
    timer_failures: int = 0
    sent: int = 0
    email_failures: int = 0
    dead: int = 0
    released: int = 0
    webhooks_sent: int = 0
    webhook_failures: int = 0  # retried later, dead or cancelled
    closed: int = 0  # resolved cases the housekeeping closed
    reclaimed: Reclaimed = field(default_factory=Reclaimed)

    @property
    def worked(self) -> int:
        """Rows this round handled; 0 makes `run()` sleep before the next round."""
        return (
            self.fired
            + self.timer_failures
            + self.sent
            + self.email_failures
            + self.webhooks_sent
            + self.webhook_failures
            + self.closed
        )


class Worker:
    """Runs timers and the e-mail outbox against one database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: WorkerConfig,
        *,
        deliver: Deliver | None,
        fire_timer: FireTimer | None = None,
        fire_timers: FireTimers | None = None,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
        housekeeping: Housekeeping | None = None,
    ) -> None:
        self.sessions = sessions
        self.housekeeping = housekeeping
        self._housekeeping_after: datetime | None = None
        self.config = config
        self.deliver = deliver
        self._fire_timer = fire_timer
        self._fire_timers = fire_timers or (one_by_one(fire_timer) if fire_timer else None)
        self._slice = 1 if fire_timer and not fire_timers else FIRE_SLICE
        self.clock = clock
        self.jitter = jitter
        self._stop = threading.Event()
        self._stop_at: float | None = None
        self._reclaim_after: datetime | None = None  # None: not reclaimed yet

    @property
    def fire_timer(self) -> FireTimer:
        if self._fire_timer is None:
            self._fire_timer = default_fire_timer()
        return self._fire_timer

    @property
    def fire_timers(self) -> FireTimers:
        if self._fire_timers is None:
            self._fire_timers = default_fire_timers()
        return self._fire_timers

    # -- control -------------------------------------------------------------------

    def request_stop(self) -> None:
        """Finish (or, after `shutdown_grace`, release) the current batch, then return."""
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _abandon(self) -> bool:
        """True once a stop was requested longer than `shutdown_grace` ago."""
        return (
            self._stop_at is not None
            and time.monotonic() - self._stop_at >= self.config.shutdown_grace
        )

    def run(self, on_round: Callable[[RoundStats], None] | None = None) -> None:
        """Loop until `request_stop()`; a round that raises is logged and retried.

        `on_round`, if given, sees what each round did (the timers benchmark counts it).
        """
        while not self.stopping:
            try:
                stats = self.run_once()
            except Exception:
                log.exception("worker %s: round failed; retrying", self.config.worker_id)
                self._stop.wait(max(self.config.poll_interval, 1.0))
                continue
            if on_round is not None:
                on_round(stats)
            if not stats.worked:
                self._stop.wait(self.idle_seconds())

    def idle_seconds(self) -> float:
        """Seconds to sleep after an idle round: until the next pending timer is due."""
        try:
            with self.sessions() as session:
                upcoming = next_timer_due(session, self.clock())
        except Exception:  # a database hiccup: the next round reports it
            upcoming = None
        return idle_wait(self.clock(), upcoming, self.config.poll_interval)

    @contextmanager
    def _round_session(self) -> Iterator[Session]:
        """A session that keeps one connection for the whole round.

        A session on the engine gives its connection back at every commit and checks one
        out (with the pool's ping) at the next; a round commits once per slice, so the
        round holds one connection instead.
        """
        engine = self.sessions.kw.get("bind")
        if not isinstance(engine, Engine):
            with self.sessions() as session:
                yield session
            return
        with engine.connect() as connection, self.sessions(bind=connection) as session:
            yield session

    def run_once(self) -> RoundStats:
        """One round: reclaim expired leases, then one batch each of timers, e-mail and
        webhook deliveries, then the housekeeping when it is due."""
        stats = RoundStats()
        with self._round_session() as session:
            now = self.clock()
            if self._reclaim_after is None or now >= self._reclaim_after:
                force = self.config.reclaim_all_at_start and self._reclaim_after is None
                stats.reclaimed = reclaim_expired(
                    session,
                    now,
                    timer_policy=self.config.timer_policy,
                    email_policy=self.config.email_policy,
                    force=force,
                )
                self._reclaim_after = now + RECLAIM_EVERY
            stats.dead += stats.reclaimed.timers_dead + stats.reclaimed.emails_dead
            if not self.stopping:
                self._timer_batch(session, stats)
            if not self.stopping and self.deliver is not None:
                self._email_batch(session, stats)
            hooks = webhook_round(session, self, stats)
            stats.webhooks_sent = hooks.sent
            stats.webhook_failures = hooks.failed + hooks.dead + hooks.cancelled
            stats.closed = self._housekeep(session, now)
        if stats.worked:
            log.info(
                "round done",
                extra={
                    "batch": self.config.batch,
                    "timer_batch": self.config.timer_batch,
                    "fired": stats.fired,
                    "sent": stats.sent,
                    "webhooks_sent": stats.webhooks_sent,
                    "failed": stats.timer_failures + stats.email_failures + stats.webhook_failures,
                    "dead": stats.dead,
                    "released": stats.released,
                    "closed": stats.closed,
                },
            )
        return stats

    def _housekeep(self, session: Session, now: datetime) -> int:
        """The housekeeping, at most once per `HOUSEKEEPING_EVERY`; what it closed."""
        if self.housekeeping is None or self.stopping:
            return 0
        if self._housekeeping_after is not None and now < self._housekeeping_after:
            return 0
        self._housekeeping_after = now + HOUSEKEEPING_EVERY
        return self.housekeeping(session, now)

    # -- timers --------------------------------------------------------------------

    def _timer_batch(self, session: Session, stats: RoundStats) -> None:
        """Fire the claimed timers in slices (`FIRE_SLICE`; 1 for a per-timer `fire_timer`),
        checking the lease and a stop request between slices; a case's timers within a
        slice fire together."""
        me = self.config.worker_id
        batch, lease = self.config.timer_batch, self.config.lease
        claimed = claim_timers(session, self.clock(), me, batch, lease)
        lease_until = self.clock() + self.config.lease
        for start in range(0, len(claimed), self._slice):
            if self._abandon():
                stats.released += release_timers(session, claimed[start:], me)
                return
            chunk = claimed[start : start + self._slice]
            if self._lease_short(lease_until, margin=self.config.lease / 4):
                lease_until = self.clock() + self.config.lease
                held = renew_timers(session, claimed[start:], me, lease_until)
                chunk = [item for item in chunk if item.id in held]
            self._fire(session, chunk, stats)

    def _fire(self, session: Session, chunk: list[ClaimedTimer], stats: RoundStats) -> None:
        if not chunk:
            return
        ids = [item.id for item in chunk]
        try:
            results = self.fire_timers(
                session, ids, now=self.clock(), worker_id=self.config.worker_id
            )
        except Exception as exc:  # the batch itself failed: every timer of it gets the error
            session.rollback()
            results = dict.fromkeys(ids, exc)
        for item in chunk:
            error = results.get(item.id)
            if error is None:
                stats.fired += 1
                continue
            stats.timer_failures += 1
            decision = decide_for(
                error,
                attempts=item.attempts,
                policy=self.config.timer_policy,
                now=self.clock(),
                jitter=self.jitter(),
            )
            stats.dead += self._record_timer_failure(session, item, decision)
            log.warning(
                "timer %s (%s) failed: %s",
                item.id,
                item.key,
                describe(error),
                extra={"timer_id": item.id, "timer_key": item.key, "error": describe(error)},
            )

    def _record_timer_failure(
        self, session: Session, item: ClaimedTimer, decision: Decision
    ) -> int:
        values: dict[str, Any] = {"locked_by": None, "last_error": decision.error}
        if isinstance(decision, Dead):
            values |= {"status": TimerStatus.DEAD.value, "locked_until": None}
        else:  # back to the queue, not before decision.at (due_at keeps the real due time)
            values |= {"status": TimerStatus.PENDING.value, "locked_until": decision.at}
        # Fenced on the owner too: when the engine moves a timer it starts `attempts`
        # again at 0, so a later claim can reach our number; it cannot take our id.
        session.execute(
            update(TimerRow)
            .where(
                TimerRow.id == item.id,
                TimerRow.status == TimerStatus.RUNNING.value,
                TimerRow.attempts == item.attempts,
                TimerRow.locked_by == self.config.worker_id,
            )
            .values(**values)
        )
        session.commit()
        return int(isinstance(decision, Dead))

    # -- e-mail --------------------------------------------------------------------

    def _email_batch(self, session: Session, stats: RoundStats) -> None:
        now = self.clock()
        claimed = claim_outbox(
            session, now, self.config.worker_id, self.config.batch, self.config.lease
        )
        lease_until = now + self.config.lease
        try:
            self._send_all(session, claimed, lease_until, stats)
        finally:
            assert self.deliver is not None
            self.deliver.close()

    def _send_all(
        self,
        session: Session,
        claimed: list[ClaimedEmail],
        lease_until: datetime,
        stats: RoundStats,
    ) -> None:
        for index, item in enumerate(claimed):
            if self._abandon():
                stats.released += release_outbox(session, claimed[index:], self.clock())
                return
            margin = timedelta(seconds=self.config.send_timeout + 5)
            if self._lease_short(lease_until, margin=margin):
                lease_until = self.clock() + max(self.config.lease, margin)
                if item.id not in renew_outbox(session, claimed[index:], lease_until):
                    continue
            self._send(session, item, stats)

    def _lease_short(self, lease_until: datetime, *, margin: timedelta) -> bool:
        return lease_until - self.clock() < margin

    def _send(self, session: Session, item: ClaimedEmail, stats: RoundStats) -> None:
        assert self.deliver is not None
        try:
            message = build_message(
                item.key,
                item.payload,
                created_at=item.created_at,
                secret=self.config.secret,
                attachments=outbox_attachments(session, item.payload),
            )
            _check_message_id(item, message["Message-ID"])
            result = self.deliver(message)
        except Exception as exc:
            stats.email_failures += 1
            decision = decide_for(
                exc,
                attempts=item.attempts,
                policy=self.config.email_policy,
                now=self.clock(),
                jitter=self.jitter(),
            )
            stats.dead += self._record_email_failure(session, item, decision)
            log.warning(
                "e-mail %s (%s) not sent: %s",
                item.id,
                item.key,
                describe(exc),
                extra={"outbox_id": item.id, "outbox_key": item.key, "error": describe(exc)},
            )
            return
        stats.sent += 1
        self._record_sent(session, item, result)

    def _record_sent(self, session: Session, item: ClaimedEmail, result: SendResult) -> None:
        note = _refused_note(result)
        changed = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == item.id,
                OutboxRow.status == OutboxStatus.SENDING.value,
                OutboxRow.attempts == item.attempts,
            )
            .values(
                status=OutboxStatus.SENT.value,
                message_id=f"<{result.message_id}>",
                sent_at=self.clock(),
                last_error=note,
            )
        ).rowcount  # type: ignore[attr-defined]
        message_row_id = item.payload.get("message_row_id")
        if message_row_id is not None:
            record_sent(session, int(message_row_id), self.clock())
        session.commit()
        if not changed:
            log.warning(
                "e-mail %s (%s) was sent after this worker's lease ran out; another worker "
                "may send it again with the same Message-ID",
                item.id,
                item.key,
            )

    def _record_email_failure(
        self, session: Session, item: ClaimedEmail, decision: Decision
    ) -> int:
        values: dict[str, Any] = {"last_error": decision.error}
        if isinstance(decision, Dead):
            values["status"] = OutboxStatus.DEAD.value
        else:
            values |= {"status": OutboxStatus.FAILED.value, "next_attempt_at": decision.at}
        changed = session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == item.id,
                OutboxRow.status == OutboxStatus.SENDING.value,
                OutboxRow.attempts == item.attempts,
            )
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]
        message_row_id = item.payload.get("message_row_id")
        if changed and isinstance(decision, Dead) and message_row_id is not None:
            record_relay_refusal(session, int(message_row_id), decision.error, self.clock())
        session.commit()
        return int(isinstance(decision, Dead))


def _check_message_id(item: ClaimedEmail, sent_id: str) -> None:
    """Warn when the Message-ID we send is not the one intake stored for threading:
    the worker's SOPDESK_SECRET_KEY differs from the one that queued the message."""
    stored = str(item.payload.get("message_id") or "").strip("<> ")
    if stored and stored != sent_id.strip("<> "):
        log.warning(
            "e-mail %s (%s): its Message-ID differs from the one stored when it was queued; "
            "is SOPDESK_SECRET_KEY the same for the worker and the web server?",
            item.id,
            item.key,
        )


def _refused_note(result: SendResult) -> str | None:
    """Recipients the server turned down while it took the message for the others."""
    if not result.refused:
        return None
    details = "; ".join(f"{a}: {c} {m}" for a, (c, m) in sorted(result.refused.items()))
    return f"sent, but {len(result.refused)} recipient(s) refused: {details}"[:2000]
