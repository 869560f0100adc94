"""Firing a due timer: the one action the worker calls for each claimed `timers` row.

A case timer (`kind` step, metric or followup) wakes the engine: `decide` works out
everything due by `now` (warnings, breaches, escalations, follow-up sends), the
decisions are carried out and the timer is marked done — or left pending at its new
instant when the engine moved it (the next escalation level). A `sequence` timer
releases a customer sequence's follow-up (or cancels it, by its `unless`).

All of it is one transaction, so a worker killed at any instant either did all of
it or none of it. Firing a timer that is not due, already done or cancelled, or
locked by another live worker does nothing, so calling it twice is a no-op.

`do_fire_timers` fires a claimed batch with the same outcome as calling
`do_fire_timer` for each id in turn, but the timers of one case are fired in one
transaction that loads and decides the case once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_runs import redecide, transition
from sopdesk.actions.case_state import LoadedCase, atomic_case, front_matter, load_case
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
    peek = session.execute(_peek(timer_id)).first()  # a look without an ORM object
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


FireResults = dict[int, Exception | None]


def do_fire_timers(
    session: Session,
    timer_ids: Iterable[int],
    *,
    now: datetime | None = None,
    worker_id: str | None = None,
    settings: Settings | None = None,
) -> FireResults:
    """Fire a batch of timers; `{timer id: None when carried out, else the error}`.

    The outcome is that of `do_fire_timer` for each id in the order given. The timers
    of one case are fired in one transaction: the case is locked and loaded once, then
    its timers are locked (by id), and each one that may still fire is fired in order.
    The first one's fire decides everything due by `now`; for the next ones the engine
    is asked again and, when it has nothing new (the usual case: deciding is
    idempotent), the unchanged state is not saved again. A timer without a case is
    fired on its own by `do_fire_timer`. If a case's transaction fails, it is rolled
    back and that case's timers are fired one by one with `do_fire_timer`, so each
    failure belongs to the timer that caused it, as with single fires. `now` is read
    per case when not given.

    Workers call this with the ids they claimed (see `sopdesk.worker`); errors are
    returned, not raised, so the caller records them per timer (retry, dead letter).
    """
    settings = settings or Settings()
    order = list(dict.fromkeys(timer_ids))
    results: FireResults = {}
    if not order:
        return results
    session.expire_all()
    peeks = {row.id: row for row in session.execute(_peek_many(order))}
    session.rollback()  # a read only; each case's fire is its own transaction
    moment = resolve_now(now)
    # A timer that may not fire (cancelled by an earlier fire of its case, done, or
    # held by another worker) is what `do_fire_timer` would peek at and leave alone:
    # it is left alone here too, without loading its case.
    idle = {i for i, peek in peeks.items() if not _may_fire(peek, moment, worker_id)}
    results.update((timer_id, None) for timer_id in idle)
    cases = {i: peek.case_id for i, peek in peeks.items() if i not in idle}
    groups: dict[int, list[int]] = {}
    for timer_id in order:
        case_id = cases.get(timer_id)
        if case_id is not None:
            groups.setdefault(case_id, []).append(timer_id)
    for timer_id in order:
        if timer_id in idle:
            continue
        case_id = cases.get(timer_id)
        if case_id is None:
            results[timer_id] = _fire_one(session, timer_id, now, worker_id, settings)
            continue
        group = groups.pop(case_id, None)
        if group is None:  # already fired with its case's first timer
            continue
        try:
            left = _fire_case_timers(
                session,
                case_id,
                group,
                now=resolve_now(now),
                worker_id=worker_id,
                settings=settings,
            )
        except Exception:
            left = group
        else:
            results.update((timer_id, None) for timer_id in group if timer_id not in left)
        for timer_id in left:
            results[timer_id] = _fire_one(session, timer_id, now, worker_id, settings)
    return {timer_id: results[timer_id] for timer_id in order}


def _fire_one(
    session: Session,
    timer_id: int,
    now: datetime | None,
    worker_id: str | None,
    settings: Settings,
) -> Exception | None:
    try:
        do_fire_timer(session, timer_id, now=now, worker_id=worker_id, settings=settings)
    except Exception as exc:
        return exc
    return None


@atomic_case
def _fire_case_timers(
    session: Session,
    case_id: int,
    timer_ids: list[int],
    *,
    now: datetime,
    worker_id: str | None,
    settings: Settings,
) -> list[int]:
    """Fire the timers of one case in one transaction; returns the ids left to fire alone.

    Locks as `do_fire_timer` does: the case first, then its timers (in id order).
    """
    loaded = load_case(session, case_id, settings)
    query = (
        select(TimerRow)
        .where(TimerRow.id.in_(timer_ids))
        .order_by(TimerRow.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    timers = {timer.id: timer for timer in session.scalars(query)}
    left = [i for i in timer_ids if i in timers and timers[i].case_id != case_id]
    decided = False
    for timer_id in timer_ids:
        timer = timers.get(timer_id)
        if timer is None or timer_id in left or not _may_fire(timer, now, worker_id):
            continue
        due = timer.due_at
        if loaded.state is not None:
            if not decided:
                transition(session, loaded, redecide, now, "system")
                decided = True
            else:
                _decide_again(session, loaded, now)
        _finish(timer, due, now)
    return left


def _decide_again(session: Session, loaded: LoadedCase, now: datetime) -> None:
    """What a second `do_fire_timer` on the case would do at the same `now`.

    With no decisions its transition would store the same state and the same
    projections at the same instant, i.e. change nothing, so it is skipped.
    """
    outcome = redecide(loaded.require_state(), loaded.world(now))
    if outcome.decisions:
        transition(session, loaded, lambda _state, _world: outcome, now, "system")


_PEEK_COLUMNS = (
    TimerRow.case_id,
    TimerRow.status,
    TimerRow.due_at,
    TimerRow.locked_by,
    TimerRow.locked_until,
)


def _peek(timer_id: int) -> Any:
    return select(*_PEEK_COLUMNS).where(TimerRow.id == timer_id)


def _peek_many(timer_ids: list[int]) -> Any:
    return select(TimerRow.id, *_PEEK_COLUMNS).where(TimerRow.id.in_(timer_ids))


def _may_fire(timer: Any, now: datetime, worker_id: str | None) -> bool:
    """`timer`: a `TimerRow` or a row with its status, due and lock columns."""
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
