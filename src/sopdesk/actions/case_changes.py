"""Agents' changes to an open case: steps, events, fields, assignment and status.

Each `do_*` is one transaction: load the case and its run (`case_state.load_case`),
ask the engine for the transition (`sopdesk.engine.transitions`), carry out its
decisions and store the new state with its projections (`case_runs.transition`). A
case in triage (no SOP run) still takes assignment and status changes; step changes
need a run. Engine refusals (`Conflict`, `InvalidInput`, `NotFound`) reach the caller
unchanged, e.g. resolving through a closed completion gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_runs import Transition, redecide, status_events, transition
from sopdesk.actions.case_state import (
    LoadedCase,
    atomic_case,
    load_for_work,
    log_event,
    with_case,
)
from sopdesk.engine import (
    CaseState,
    CaseStatus,
    Outcome,
    World,
    change_status,
    complete_step,
    override_step,
    record_event,
    skip_step,
)
from sopdesk.engine.state import FINISHED_STATUSES
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow


def _step_action(
    session: Session,
    case_id: int,
    now: datetime | None,
    settings: Settings | None,
    actor: str | None,
    step: Transition,
) -> CaseRow:
    moment = resolve_now(now)
    loaded = load_for_work(session, case_id, settings or Settings())
    return transition(session, loaded, step, moment, actor)


@atomic_case
def do_complete_step(
    session: Session,
    case_id: int,
    step_id: str,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    return _step_action(
        session, case_id, now, settings, by, lambda s, w: complete_step(s, w, step_id, by)
    )


@atomic_case
def do_skip_step(
    session: Session,
    case_id: int,
    step_id: str,
    *,
    reason: str,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    return _step_action(
        session, case_id, now, settings, by, lambda s, w: skip_step(s, w, step_id, reason, by)
    )


@atomic_case
def do_override_step(
    session: Session,
    case_id: int,
    step_id: str,
    *,
    reason: str,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Let the case resolve without a non-critical step; the reason is logged."""
    return _step_action(
        session, case_id, now, settings, by, lambda s, w: override_step(s, w, step_id, reason, by)
    )


@atomic_case
def do_record_event(
    session: Session,
    case_id: int,
    name: str,
    *,
    by: str,
    at: datetime | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Record a declared SOP event (e.g. `item_received`); a field of that name is set."""
    moment = resolve_now(now)
    loaded = load_for_work(session, case_id, settings or Settings())

    def step(state: CaseState, world: World) -> Outcome:
        if name in world.sop.fields:
            state = with_case(state, fields={**state.case.fields, name: True})
        return record_event(state, world, name, at or moment, by)

    log_event(
        session,
        "event.recorded",
        moment,
        case_id=case_id,
        customer_id=loaded.case.customer_id,
        actor=by,
        name=name,
        happened_at=at or moment,
    )
    return transition(session, loaded, step, moment, by)


@atomic_case
def do_set_fields(
    session: Session,
    case_id: int,
    fields: Mapping[str, Any],
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Merge `fields` into the case's fields; conditional steps may start or stop."""
    moment = resolve_now(now)
    loaded = load_for_work(session, case_id, settings or Settings())
    merged = {**(loaded.case.fields or {}), **fields}
    log_event(
        session,
        "fields.changed",
        moment,
        case_id=case_id,
        customer_id=loaded.case.customer_id,
        actor=by,
        fields=dict(fields),
    )
    if loaded.state is None:
        loaded.case.fields, loaded.case.updated_at = merged, moment
        return loaded.case
    return transition(
        session, loaded, lambda s, w: redecide(with_case(s, fields=merged), w), moment, by
    )


@atomic_case
def do_assign(
    session: Session,
    case_id: int,
    assignee: str | None,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    moment = resolve_now(now)
    loaded = load_for_work(session, case_id, settings or Settings())
    log_event(
        session,
        "case.assigned",
        moment,
        case_id=case_id,
        customer_id=loaded.case.customer_id,
        actor=by,
        before=loaded.case.assignee,
        after=assignee,
    )
    if loaded.state is None:
        loaded.case.assignee, loaded.case.updated_at = assignee, moment
        return loaded.case
    return transition(
        session, loaded, lambda s, w: redecide(with_case(s, assignee=assignee), w), moment, by
    )


@atomic_case
def do_change_status(
    session: Session,
    case_id: int,
    status: str,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Move the case to `status`; resolving or closing goes through the completion gate."""
    try:
        wanted = CaseStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in CaseStatus)
        raise InvalidInput(f"unknown status {status!r}", hint=f"use one of {known}") from None
    moment = resolve_now(now)
    loaded = load_for_work(session, case_id, settings or Settings())
    return change_case_status(session, loaded, wanted, moment, by)


def change_case_status(
    session: Session, loaded: LoadedCase, wanted: CaseStatus, now: datetime, by: str
) -> CaseRow:
    """Move a case loaded for work to `wanted`: through its SOP's engine (the completion
    gate) when it runs one, directly when it is in triage."""
    if loaded.state is None:
        return change_without_run(session, loaded.case, wanted, now, by)
    return transition(session, loaded, lambda s, w: change_status(s, w, wanted, by), now, by)


def do_resolve(
    session: Session,
    case_id: int,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Resolve the case; a closed completion gate is a `Conflict` naming the blocking steps."""
    return do_change_status(session, case_id, "resolved", by=by, now=now, settings=settings)


def do_reopen(
    session: Session,
    case_id: int,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Reopen a resolved or closed case; follow-ups not yet sent are cancelled."""
    case = session.get(CaseRow, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    if case.status not in {s.value for s in FINISHED_STATUSES}:
        raise Conflict(f"case {case.reference} is {case.status}, not resolved or closed")
    return do_change_status(session, case_id, "open", by=by, now=now, settings=settings)


def change_without_run(
    session: Session, case: CaseRow, wanted: CaseStatus, now: datetime, by: str
) -> CaseRow:
    before = case.status
    finished = {s.value for s in FINISHED_STATUSES}
    if before in finished and wanted.value not in finished:
        case.reopen_count += 1
    case.status, case.updated_at = wanted.value, now
    if wanted is CaseStatus.RESOLVED:
        case.resolved_at = now
    if wanted is CaseStatus.CLOSED:
        case.closed_at = now
    if wanted.value not in finished:
        case.resolved_at = case.closed_at = None
    status_events(session, case, before, now, by)
    return case
