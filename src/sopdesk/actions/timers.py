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
`do_fire_timer` for each id in turn, but in one transaction that locks and loads the
batch's cases together (falling back to a transaction per case, then per timer, when
it fails). A fire whose decision changes nothing saves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_runs import redecide, transition
from sopdesk.actions.case_state import (
    MAX_CACHED_STATES,
    LoadedCase,
    RunLook,
    atomic_case,
    buffered_events,
    front_matter,
    load_case,
    load_cases,
    look_at_runs,
)
from sopdesk.actions.context import buffered_outbox
from sopdesk.actions.customers import engine_customer
from sopdesk.actions.effects import (
    LIVE_TIMER_STATUSES,
    escalated_roles,
    shared_contacts,
    timer_keys,
)
from sopdesk.actions.sequences import SEQUENCE_TIMER, apply_sequence_decision
from sopdesk.engine import (
    CaseState,
    Outcome,
    ScheduleFollowup,
    World,
    quiet_until,
    release_sequence_followup,
)
from sopdesk.settings import Settings
from sopdesk.store.queries import one_of, send_whole
from sopdesk.store.tables import CustomerRow, SopVersion, TimerRow, TimerStatus

log = logging.getLogger("sopdesk.worker")


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
            _wake(session, loaded, moment)
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

    The outcome is that of `do_fire_timer` for each id in the order given, but the
    batch's case timers are fired in one transaction: their cases are locked (in id
    order) and loaded together, then their timers are locked (by id), and each timer
    that may still fire is fired in order. Cases that another transaction holds (on
    PostgreSQL, usually another worker firing the same case) are passed over rather
    than waited for, and fired in a second transaction once the rest is committed.
    On a case, the first timer's fire decides everything due by `now`; for the next
    ones the engine is asked again (unless the case was found quiet until later, see
    `_decide`) and, when it has nothing new (the usual case: deciding is idempotent),
    the unchanged state is not saved again. A timer without a case is fired on its own
    by `do_fire_timer`.

    If the batch's transaction fails, it is rolled back and each case's timers are
    fired in a transaction of their own; if that fails too, one by one with
    `do_fire_timer`, so each failure belongs to the timer that caused it, as with
    single fires. `now` is read once for the batch when not given.

    Workers call this with the ids they claimed (see `sopdesk.worker`); errors are
    returned, not raised, so the caller records them per timer (retry, dead letter).
    """
    settings = settings or Settings()
    order = list(dict.fromkeys(timer_ids))
    if not order:
        return {}
    moment = resolve_now(now)
    try:
        plan, contended = _fire_slice(
            session, order, now=moment, worker_id=worker_id, settings=settings
        )
    except Exception as exc:
        plan = _plan(session.execute(_peek_many(session, order)), order, moment, worker_id)
        session.rollback()  # a read only; the fires are transactions of their own
        _warn_batch_failed(exc, len(plan.groups))
        plan.alone.extend(_fire_cases_apart(session, plan.groups, now, worker_id, settings))
    else:
        if contended:  # their cases were locked by another worker: wait for them now
            groups = {case_id: plan.groups[case_id] for case_id in contended}
            try:
                left = _fire_waiting(
                    session, groups, now=moment, worker_id=worker_id, settings=settings
                )
            except Exception as exc:
                _warn_batch_failed(exc, len(groups))
                left = _fire_cases_apart(session, groups, now, worker_id, settings)
            plan.alone.extend(left)
    results: FireResults = dict.fromkeys(order)
    for timer_id in plan.alone:
        results[timer_id] = _fire_one(session, timer_id, now, worker_id, settings)
    return results


@dataclass
class _Plan:
    """A batch sorted out by a look at its timers: the case timers by case, and the ids
    to fire alone (timers without a case, ids that are not timers; later also the
    timers found no longer on their case). A timer that may not fire (cancelled by an
    earlier fire of its case, done, or held by another worker) is in neither: it is
    what `do_fire_timer` would peek at and leave alone."""

    groups: dict[int, list[int]] = field(default_factory=dict)
    alone: list[int] = field(default_factory=list)


def _plan(peeks: Iterable[Any], order: list[int], now: datetime, worker_id: str | None) -> _Plan:
    found = {row.id: row for row in peeks}
    plan = _Plan()
    for timer_id in order:
        peek = found.get(timer_id)
        if peek is None or peek.case_id is None:
            plan.alone.append(timer_id)
        elif _may_fire(peek, now, worker_id):
            plan.groups.setdefault(peek.case_id, []).append(timer_id)
    return plan


@atomic_case
def _fire_slice(
    session: Session,
    order: list[int],
    *,
    now: datetime,
    worker_id: str | None,
    settings: Settings,
) -> tuple[_Plan, list[int]]:
    """Look at the timers and fire their cases in one transaction, passing over the
    cases another transaction holds; returns the plan and those cases."""
    plan = _plan(session.execute(_peek_many(session, order)), order, now, worker_id)
    if not plan.groups:
        return plan, []
    left, contended = _fire_cases(
        session, plan.groups, now=now, worker_id=worker_id, settings=settings, skip_locked=True
    )
    plan.alone.extend(left)
    return plan, contended


@atomic_case
def _fire_waiting(
    session: Session,
    groups: dict[int, list[int]],
    *,
    now: datetime,
    worker_id: str | None,
    settings: Settings,
) -> list[int]:
    """Fire the timers of several cases in one transaction, waiting for their locks."""
    left, _ = _fire_cases(session, groups, now=now, worker_id=worker_id, settings=settings)
    return left


def _warn_batch_failed(exc: Exception, cases: int) -> None:
    # e.g. one case's decision failed, or a deadlock with a concurrent action
    log.warning(
        "a batch of timers failed as a whole; firing its cases one by one",
        extra={"cases": cases, "error": f"{type(exc).__name__}: {exc}"},
    )


def _fire_cases_apart(
    session: Session,
    groups: dict[int, list[int]],
    now: datetime | None,
    worker_id: str | None,
    settings: Settings,
) -> list[int]:
    """Fire each case's timers in a transaction of its own; returns the ids left to fire
    alone (a case whose transaction failed, or timers no longer on their case)."""
    left: list[int] = []
    for case_id, group in groups.items():
        try:
            left.extend(
                _fire_case_timers(
                    session,
                    case_id,
                    group,
                    now=resolve_now(now),
                    worker_id=worker_id,
                    settings=settings,
                )
            )
        except Exception:
            left.extend(group)
    return left


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


def _fire_cases(
    session: Session,
    groups: dict[int, list[int]],
    *,
    now: datetime,
    worker_id: str | None,
    settings: Settings,
    skip_locked: bool = False,
) -> tuple[list[int], list[int]]:
    """Fire the timers of several cases, in the caller's transaction; returns the ids
    left to fire alone (a case that no longer exists, a timer no longer on its case)
    and, with `skip_locked`, the cases passed over because another transaction holds
    them.

    Locks as `do_fire_timer` does, for all the cases at once: the cases first (in id
    order, see `look_at_runs`), then their timers (in id order). A case on which the
    engine has nothing to do at `now` (`_decide`: what an earlier fire already did, or a
    case without a run) only gets its timers marked done, in one statement for the
    batch; the others are loaded and fired as `do_fire_timer` fires them.
    """
    looks = look_at_runs(session, sorted(groups), settings, skip_locked=skip_locked)
    contended = [case_id for case_id in groups if case_id not in looks] if skip_locked else []
    groups = {case_id: group for case_id, group in groups.items() if case_id not in contended}
    decided = {case_id: _decide(look, now) for case_id, look in looks.items()}
    quiet = {case_id for case_id, outcome in decided.items() if outcome is None}
    busy = [case_id for case_id in groups if case_id in looks and case_id not in quiet]
    named = {case_id: timer_keys(o.decisions) for case_id in busy if (o := decided[case_id])}
    fired = [i for case_id in busy for i in groups[case_id]]
    loaded, timers = load_cases(session, busy, fired, settings, looks=looks, timer_keys=named)
    left: list[int] = []
    roles = escalated_roles(d for outcome in decided.values() if outcome for d in outcome.decisions)
    with buffered_events(session), buffered_outbox(session), shared_contacts(session, roles):
        for case_id, group in groups.items():
            if case_id not in looks:
                left.extend(group)
            elif case_id not in quiet:
                look, outcome = looks[case_id], decided[case_id]
                assert look is not None and outcome is not None  # busy: decided on its run
                known = (look.state, outcome)
                fire = _fire_loaded(session, loaded[case_id], group, timers, now, worker_id, known)
                left.extend(fire)
        send_whole(session, TimerRow, _TIMER_STATE)  # one executemany for the batch
    quiet_groups = {case_id: groups[case_id] for case_id in groups if case_id in quiet}
    left.extend(_finish_quiet(session, quiet_groups, now, worker_id))
    return left, contended


def _finish_quiet(
    session: Session, groups: dict[int, list[int]], now: datetime, worker_id: str | None
) -> list[int]:
    """Mark done the timers of the cases found quiet (locked by the caller), in one
    UPDATE that takes their row locks and checks `_may_fire` itself; returns the ids no
    longer on any of these cases (fired alone by the caller).

    A timer the UPDATE leaves alone either may not fire (an earlier fire finished or
    cancelled it, another worker holds it: what `do_fire_timer` would peek at and
    leave) or is no longer on these cases; only when there are such timers are they
    read, to tell the two apart.
    """
    expected = [timer_id for group in groups.values() for timer_id in group]
    if not expected:
        return []
    table = TimerRow.__table__  # a plain UPDATE: no ORM object holds these rows
    c = table.c
    may_fire = and_(
        c.status.in_(LIVE_TIMER_STATUSES),
        c.due_at <= now,
        or_(c.locked_by.is_(None), c.locked_by == worker_id, c.locked_until.is_(None),
            c.locked_until <= now),
    )  # fmt: skip
    on_cases = and_(one_of(session, c.id, expected), one_of(session, c.case_id, groups))
    done = {"status": TimerStatus.DONE.value, "locked_by": None, "locked_until": None}
    statement = update(table).where(on_cases, may_fire).values(fired_at=now, **done)
    finished = set(session.scalars(statement.returning(c.id)))
    rest = [timer_id for timer_id in expected if timer_id not in finished]
    if not rest:
        return []
    where = select(c.id, c.case_id).where(one_of(session, c.id, rest))
    return [timer_id for timer_id, case_id in session.execute(where) if case_id not in groups]


_TIMER_STATE = (
    "status",
    "due_at",
    "attempts",
    "locked_by",
    "locked_until",
    "last_error",
    "fired_at",
)
"""What a fire changes on a timer. A fired, a cancelled and a moved timer each change
other columns of these; sent whole (`send_whole`, the rows are locked), a batch's timers
go out in one statement instead of about two per case."""


def _decide(look: RunLook | None, now: datetime) -> Outcome | None:
    """What a timer's fire would do to the case at `now`; None when that is nothing
    (see `_wake`), as for a case without a run.

    A state found quiet is not decided on again before its `quiet_until` (a case's
    other timers, fired after its first, usually find it so).
    """
    if look is None or _known_quiet(look, now):
        return None
    outcome = redecide(look.state, World(look.sop, look.calendar, now))
    if _changes(outcome, look.state):
        return outcome
    if len(_QUIET) >= MAX_CACHED_STATES:
        _QUIET.clear()
    _QUIET[id(look.state)] = (look, now, quiet_until(look.state))
    return None


_QUIET: dict[int, tuple[RunLook, datetime, datetime | None]] = {}
"""States this process found quiet: `{id(state): (look, decided at, quiet until)}`."""


def _known_quiet(look: RunLook, now: datetime) -> bool:
    kept = _QUIET.get(id(look.state))
    if kept is None:
        return False
    seen, since, until = kept
    same = seen.state is look.state and seen.sop is look.sop and seen.calendar == look.calendar
    return same and since <= now and (until is None or now < until)


def _changes(outcome: Outcome, state: CaseState) -> bool:
    """Whether carrying out `outcome` (decided on `state`) would change anything."""
    return bool(outcome.decisions) or outcome.state != state


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
    return _fire_loaded(
        session, loaded, timer_ids, _lock_timers(session, timer_ids), now, worker_id
    )


def _lock_timers(session: Session, timer_ids: list[int]) -> dict[int, TimerRow]:
    query = (
        select(TimerRow)
        .where(one_of(session, TimerRow.id, timer_ids))
        .order_by(TimerRow.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {timer.id: timer for timer in session.scalars(query)}


def _fire_loaded(
    session: Session,
    loaded: LoadedCase,
    timer_ids: list[int],
    timers: dict[int, TimerRow],
    now: datetime,
    worker_id: str | None,
    known: tuple[CaseState, Outcome] | None = None,
) -> list[int]:
    """Fire a loaded case's locked timers in order; returns the ids that are no longer
    on the case (fired alone by the caller).

    `known`: a state and the engine's outcome on it at `now`, which the first wake uses
    instead of deciding again when the loaded state is that state (it is, inside one
    transaction that holds the case lock since `look_at_runs` read it).
    """
    case_id = loaded.case.id
    left = [i for i in timer_ids if i in timers and timers[i].case_id != case_id]
    for timer_id in timer_ids:
        timer = timers.get(timer_id)
        if timer is None or timer_id in left or not _may_fire(timer, now, worker_id):
            continue
        due = timer.due_at
        if loaded.state is not None:
            state, ready = loaded.state, None
            if known is not None and (known[0] is state or known[0] == state):
                ready = known[1]  # decided on this very state (identity: no deep compare)
            _wake(session, loaded, now, ready)
            known = None
        _finish(timer, due, now)
    return left


def _wake(
    session: Session, loaded: LoadedCase, now: datetime, outcome: Outcome | None = None
) -> None:
    """What a timer does to its case: the engine decides what is due by `now`.

    An outcome without decisions that leaves the state as it was (a timer whose work
    an earlier fire already did, or a second timer of the case at the same `now`)
    changes nothing, so nothing is saved: the step projections and the case's next
    due instant are functions of the state, and `updated_at` stays put.
    """
    if outcome is None:  # else decided already, on this very state at `now`
        outcome = redecide(loaded.require_state(), loaded.world(now))
    if _changes(outcome, loaded.require_state()):
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


def _peek_many(session: Session, timer_ids: list[int]) -> Any:
    return select(TimerRow.id, *_PEEK_COLUMNS).where(one_of(session, TimerRow.id, timer_ids))


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
