"""A case as the actions see it: its rows, its SOP run, and the engine state to decide on.

`load_case` reads the case (locked on PostgreSQL, so writers to one case queue up),
its active SOP run, the pinned SOP version's front matter and the business calendar,
and decodes the engine's `CaseState`. `save_state` writes a new state back and keeps
the projections in step: the case row (status, priority, assignee, resolution,
`next_due_at`) and the `step_states` rows. `log_event` appends to `case_events`.
These helpers never commit; the `do_*` action around them does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache, wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sopdesk.actions.sops import require_document
from sopdesk.calendar import Calendar, default_calendar
from sopdesk.engine import CaseState, World, clock_statuses, plan_steps
from sopdesk.engine.conditions import case_context
from sopdesk.engine.state import FINISHED_STATUSES, CaseStatus, closings, resolutions
from sopdesk.errors import Conflict, NotFound
from sopdesk.settings import Settings
from sopdesk.sop.model import FrontMatter
from sopdesk.store.codec import decode_state, encode_state
from sopdesk.store.tables import (
    CalendarRow,
    CaseEventRow,
    CaseRow,
    CustomerRow,
    RunStatus,
    SopRunRow,
    SopVersion,
    StepStateRow,
    TimerRow,
)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class LoadedCase:
    """A case with everything needed to decide on it; `run` is None for a case in triage."""

    case: CaseRow
    customer: CustomerRow
    settings: Settings
    run: SopRunRow | None = None
    sop: FrontMatter | None = None
    calendar: Calendar | None = None
    state: CaseState | None = None
    timers: dict[str, TimerRow] | None = None  # the case's timers by key, while applying
    outbox_keys: set[str] | None = None  # the case's outbox keys, while applying

    def world(self, now: datetime) -> World:
        if self.sop is None or self.calendar is None:
            raise self._no_run()
        return World(self.sop, self.calendar, now)

    def require_state(self) -> CaseState:
        if self.state is None:
            raise self._no_run()
        return self.state

    def _no_run(self) -> Conflict:
        return Conflict(
            f"case {self.case.reference} has no SOP run",
            hint="start one from the triage queue (do_start_sop / the case page)",
        )


MAX_CACHED = 256
_CALENDARS: dict[tuple[str, str], Calendar] = {}
_FRONT_MATTER: dict[tuple[int, str], FrontMatter] = {}


def calendar_for(session: Session, sop: FrontMatter, settings: Settings) -> Calendar:
    """The SOP's calendar as stored; the built-in default (business timezone) otherwise.

    Calendars are values: one built from the same configuration is reused, with the
    opening-hours tables it has already computed.
    """
    row = session.get(CalendarRow, sop.calendar)
    if row is None:
        return _default_calendar(settings.timezone)
    key = (row.name, json.dumps(row.config, sort_keys=True, default=str))
    found = _CALENDARS.get(key)
    if found is None:
        if len(_CALENDARS) >= MAX_CACHED:
            _CALENDARS.clear()
        found = _CALENDARS[key] = Calendar.from_config(row.name, row.config)
    return found


@lru_cache(maxsize=16)
def _default_calendar(timezone: str) -> Calendar:
    return default_calendar(timezone)


def cached_front_matter(version_id: int, content_hash: str) -> FrontMatter | None:
    return _FRONT_MATTER.get((version_id, content_hash))


def front_matter(version: SopVersion) -> FrontMatter:
    """The parsed front matter of a version; published text never changes, so it is kept."""
    key = (version.id, version.content_hash)
    found = _FRONT_MATTER.get(key)
    if found is None:
        if len(_FRONT_MATTER) >= MAX_CACHED:
            _FRONT_MATTER.clear()
        found = _FRONT_MATTER[key] = require_document(version).meta
    return found


def active_run(session: Session, case_id: int) -> SopRunRow | None:
    query = (
        select(SopRunRow)
        .where(SopRunRow.case_id == case_id, SopRunRow.status == RunStatus.ACTIVE.value)
        .order_by(SopRunRow.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def load_case(
    session: Session, case_id: int, settings: Settings, *, lock: bool = True
) -> LoadedCase:
    """The case, its customer and its active run, decoded; `NotFound` if there is none."""
    case = session.get(CaseRow, case_id, with_for_update=lock)
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    loaded = LoadedCase(case, case.customer, settings)
    run = active_run(session, case.id)
    if run is not None:
        sop = front_matter(run.sop_version)
        loaded.run, loaded.sop = run, sop
        loaded.calendar = calendar_for(session, sop, settings)
        loaded.state = decode_state(run.state, sop)
    return loaded


def find_case_id(session: Session, reference: str) -> int:
    """The id of the case with `reference` ("SD-1042"), or of case number 1042."""
    text = reference.strip()
    query = select(CaseRow.id).where(CaseRow.reference == text.upper())
    found = session.scalar(query)
    if found is None and text.isdigit():
        found = session.scalar(select(CaseRow.id).where(CaseRow.id == int(text)))
    if found is None:
        raise NotFound(f"no case {reference!r}", hint="'sopdesk case list' shows the references")
    return found


def save_state(session: Session, loaded: LoadedCase, state: CaseState, now: datetime) -> None:
    """Store `state` in the run and bring the case row and step projections up to date."""
    run, sop, calendar = loaded.run, loaded.sop, loaded.calendar
    assert run is not None and sop is not None and calendar is not None
    run.state, run.updated_at = encode_state(state), now
    loaded.state = state
    case = loaded.case
    case.status = state.case.status.value
    case.priority = state.case.priority
    case.assignee = state.case.assignee
    case.fields = dict(state.case.fields)
    case.tags = list(state.case.tags)
    case.reopen_count = state.case.reopened
    finished = state.case.status in FINISHED_STATUSES
    resolved, closed = resolutions(state), closings(state)
    case.resolved_at = resolved[-1] if finished and resolved else None
    case.closed_at = closed[-1] if state.case.status is CaseStatus.CLOSED and closed else None
    case.first_response_at = case_context(state)["case"]["first_response_at"]
    dues = [c.due_at for c in clock_statuses(state, sop, calendar, now) if c.open and c.due_at]
    case.next_due_at = min(dues, default=None)
    case.updated_at = now
    _project_steps(session, run, state, sop, calendar, now)


def _project_steps(
    session: Session,
    run: SopRunRow,
    state: CaseState,
    sop: FrontMatter,
    calendar: Calendar,
    now: datetime,
) -> None:
    existing = {row.step_id: row for row in session.scalars(_steps_of(run.id))}
    for planned in plan_steps(state, sop, calendar, now):
        row = existing.get(planned.step_id)
        if row is None:
            row = StepStateRow(run_id=run.id, step_id=planned.step_id)
            session.add(row)
        recorded = state.step(planned.step_id)
        row.status = planned.status.value
        row.due_at = planned.due_at if planned.applies and not recorded.settled else None
        row.owner = planned.owner
        row.actor = recorded.by
        row.reason = recorded.reason
        row.completed_at = recorded.completed_at


def _steps_of(run_id: int) -> Any:
    return select(StepStateRow).where(StepStateRow.run_id == run_id)


def with_case(state: CaseState, **changes: Any) -> CaseState:
    """`state` with fields of its `Case` changed (assignee, priority, fields, tags)."""
    return replace(state, case=replace(state.case, **changes))


def log_event(
    session: Session,
    kind: str,
    at: datetime,
    *,
    case_id: int | None = None,
    customer_id: int | None = None,
    actor: str | None = None,
    **data: Any,
) -> CaseEventRow:
    """Append one event; `data` values are made JSON-safe (instants as ISO 8601)."""
    row = CaseEventRow(
        case_id=case_id,
        customer_id=customer_id,
        at=at,
        actor=actor or "system",
        kind=kind,
        data={key: json_safe(value) for key, value in data.items()},
    )
    session.add(row)
    return row


def json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    return value


def atomic_case(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """Run a case action in one transaction; a unique-key collision is a `Conflict`.

    Callers must not hold uncommitted writes in the session: the action commits them.
    """

    @wraps(fn)
    def wrapper(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        session.expire_all()
        try:
            result = fn(session, *args, **kwargs)
            session.commit()
        except IntegrityError:
            session.rollback()
            raise Conflict(
                "another change to the same case was saved at the same moment",
                hint="load the case again and retry",
            ) from None
        except BaseException:
            session.rollback()
            raise
        return result

    return wrapper
