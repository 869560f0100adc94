"""Firing a due timer: the one action the worker calls for each claimed `timers` row.

A case timer (`kind` step, metric or followup) wakes the engine: `decide` works out
everything due by `now` (warnings, breaches, escalations, follow-up sends), the
decisions are carried out and the timer is marked done — or left pending at its new
instant when the engine moved it (the next escalation level). A `sequence` timer
releases a customer sequence's follow-up (or cancels it, by its `unless`).

All of it is one transaction, so a worker killed at any instant either did all of
it or none of it. Firing a timer that is not due, already done or cancelled, or
locked by another live worker does nothing, so calling it twice is a no-op.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_runs import redecide, transition
from sopdesk.actions.case_state import atomic_case, front_matter, load_case
from sopdesk.actions.customers import engine_customer
from sopdesk.actions.effects import LIVE_TIMER_STATUSES
from sopdesk.actions.sequences import SEQUENCE_TIMER, apply_sequence_decision
from sopdesk.engine import ScheduleFollowup, release_sequence_followup
from sopdesk.settings import Settings
from sopdesk.store.tables import CustomerRow, SopVersion, TimerRow, TimerStatus


@atomic_case
def do_fire_timer(
    session: Session,
    timer_id: int,
    *,
    now: datetime | None = None,
    worker_id: str | None = None,
    settings: Settings | None = None,
) -> None:
    """Carry out what timer `timer_id` stands for, at `now`; a no-op unless it is due."""
    moment, settings = resolve_now(now), settings or Settings()
    peek = session.get(TimerRow, timer_id)
    if peek is None or not _may_fire(peek, moment, worker_id):
        return
    if peek.case_id is not None:
        loaded = load_case(session, peek.case_id, settings)  # case lock first, then timer
        timer = session.get(TimerRow, timer_id, with_for_update=True, populate_existing=True)
        if timer is None or not _may_fire(timer, moment, worker_id):
            return
        due = timer.due_at
        if loaded.state is not None:
            transition(session, loaded, redecide, moment, "system")
    else:
        timer = session.get(TimerRow, timer_id, with_for_update=True, populate_existing=True)
        if timer is None or not _may_fire(timer, moment, worker_id):
            return
        due = timer.due_at
        if timer.kind == SEQUENCE_TIMER:
            _release_sequence_followup(session, timer, moment, settings)
    _finish(timer, due, moment)


def _may_fire(timer: TimerRow, now: datetime, worker_id: str | None) -> bool:
    if timer.status not in LIVE_TIMER_STATUSES or timer.due_at > now:
        return False
    held_by_other = timer.locked_by is not None and timer.locked_by != worker_id
    return not (held_by_other and timer.locked_until is not None and timer.locked_until > now)


def _finish(timer: TimerRow, due: datetime, now: datetime) -> None:
    """Done, unless the engine moved the timer to a new instant while it fired.

    `attempts` is left alone: the worker counts claims there (its fencing token).
    """
    moved = timer.status == TimerStatus.PENDING.value and timer.due_at != due
    if not moved:
        timer.status = TimerStatus.DONE.value
    timer.fired_at = now
    timer.locked_by = timer.locked_until = None


def _release_sequence_followup(
    session: Session, timer: TimerRow, now: datetime, settings: Settings
) -> None:
    payload = timer.payload
    version = session.get(SopVersion, payload["sop_version_id"])
    customer = session.get(CustomerRow, timer.customer_id) if timer.customer_id else None
    if version is None or customer is None:
        return
    sop = front_matter(version)
    scheduled = ScheduleFollowup(
        timer.key, payload["followup_id"], payload["template"], payload["channel"], timer.due_at
    )
    decision = release_sequence_followup(sop, engine_customer(customer), scheduled)
    apply_sequence_decision(session, customer, sop, version, decision, now, settings)
