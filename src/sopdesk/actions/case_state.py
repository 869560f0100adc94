"""A case as the actions see it: its rows, its SOP run, and the engine state to decide on.

`load_case` reads the case (writers to one case queue up: the row is locked on
PostgreSQL, and on SQLite every write action holds the write lock),
its active SOP run, the pinned SOP version's front matter and the business calendar,
and decodes the engine's `CaseState`. `save_state` writes a new state back and keeps
the projections in step: the case row (status, priority, assignee, resolution,
`next_due_at`) and the `step_states` rows. `log_event` appends to `case_events`.
These helpers never commit; the `do_*` action around them does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache, wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Text, bindparam, cast, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload

from sopdesk.actions.base import collect, collecting
from sopdesk.actions.context import KnownConversation
from sopdesk.actions.sops import require_document
from sopdesk.actions.webhook_events import queue_case_events
from sopdesk.calendar import Calendar, default_calendar
from sopdesk.engine import CaseState, PlannedStep, World, project
from sopdesk.engine.anchors import first_response_at
from sopdesk.engine.state import FINISHED_STATUSES, CaseStatus, closings, resolutions
from sopdesk.errors import Conflict, NotFound
from sopdesk.settings import Settings
from sopdesk.sop.model import FrontMatter
from sopdesk.store.codec import decode_state, encode_state
from sopdesk.store.engine import begin_write
from sopdesk.store.queries import append_rows, insert_into, is_postgres, one_of
from sopdesk.store.tables import (
    CalendarRow,
    CaseEventRow,
    CaseRow,
    CustomerRow,
    OutboxRow,
    RunStatus,
    SopRunRow,
    SopVersion,
    StepStateRow,
    TimerRow,
)

P = ParamSpec("P")
R = TypeVar("R")


class CaseTimers(dict[str, TimerRow]):
    """A case's timer rows by key, read up front for applying decisions: all of them,
    or, when `asked` is a set, those whose keys were asked for (`load_cases`). A key
    outside `asked` is looked up when first needed (`lookup`)."""

    def __init__(self, asked: set[str] | None = None) -> None:
        super().__init__()
        self.asked = asked

    def lookup(self, session: Session, key: str) -> TimerRow | None:
        """The case's timer `key`, or None when there is none. The row is locked out of
        id order: actions write a case's timers under the case's lock, which the caller
        holds, and the worker's claim skips locked rows; should the reclaim of expired
        leases deadlock with it, the batch fails and its cases are fired one by one."""
        row = self.get(key)
        if row is not None or self.asked is None or key in self.asked:
            return row
        query = select(TimerRow).where(TimerRow.key == key).with_for_update()
        row = session.scalar(query.execution_options(populate_existing=True))
        self.asked.add(key)
        if row is not None:
            self[key] = row
        return row


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
    timers: CaseTimers | None = None  # the case's timers by key, while applying
    outbox_keys: set[str] | None = None  # the case's outbox keys, while applying
    version: int | None = None  # the pinned version's number, when known without a query
    known: KnownConversation | None = None  # a case opened in this transaction, until it mails
    steps: dict[str, tuple[Any, ...]] | None = None  # the run's step rows, when known
    # the case's timers by key and outbox keys, read with the case by `load_cases`;
    # every `apply_decisions` keeps them current
    prefetched: tuple[CaseTimers, set[str]] | None = None

    def version_number(self) -> int | None:
        """The number of the SOP version the run is pinned to (None without a run)."""
        if self.run is None:
            return None
        if self.version is None:
            self.version = self.run.sop_version.version
        return self.version

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
            hint="choose the SOP it should run: Run this SOP on the case page, "
            f"POST /api/v1/cases/{self.case.reference}/sop or sopdesk case start-sop",
        )


MAX_CACHED = 256
_CALENDARS: dict[tuple[str, str], Calendar] = {}
_FRONT_MATTER: dict[tuple[int, str], FrontMatter] = {}


_CALENDAR = select(CalendarRow.name, CalendarRow.config).where(
    CalendarRow.name == bindparam("name")
)
"""Built once; two columns: no ORM object to build."""


def calendar_for(session: Session, sop: FrontMatter, settings: Settings) -> Calendar:
    """The SOP's calendar as stored; the built-in default (business timezone) otherwise.

    Calendars are values: one built from the same configuration is reused, with the
    opening-hours tables it has already computed.
    """
    row = session.execute(_CALENDAR, {"name": sop.calendar}).first()
    if row is None:
        return _default_calendar(settings.timezone)
    name, config = row
    key = (name, json.dumps(config, sort_keys=True, default=str))
    found = _CALENDARS.get(key)
    if found is None:
        if len(_CALENDARS) >= MAX_CACHED:
            _CALENDARS.clear()
        found = _CALENDARS[key] = Calendar.from_config(name, config)
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


def pinned_front_matter(session: Session, version_id: int, content_hash: str) -> FrontMatter:
    """The front matter of version `version_id`, from the cache when its hash is known
    there (no query), else parsed from the version's text."""
    found = cached_front_matter(version_id, content_hash)
    if found is None:
        version = session.get(SopVersion, version_id)
        assert version is not None  # the caller read the id from a foreign key
        found = front_matter(version)
    return found


def _calendar_once(
    session: Session, sop: FrontMatter, settings: Settings, seen: dict[str, Calendar]
) -> Calendar:
    """`calendar_for`, looked up once per calendar name among the cases of one read."""
    found = seen.get(sop.calendar)
    if found is None:
        found = seen[sop.calendar] = calendar_for(session, sop, settings)
    return found


MAX_CACHED_STATES = 4096
_STATES: dict[int, tuple[FrontMatter, dict[str, Any], CaseState]] = {}


def remember_state(
    run_id: int, sop: FrontMatter, document: dict[str, Any], state: CaseState
) -> None:
    """Keep `state` as the decoding of `document`, the run's stored state (bounded)."""
    if len(_STATES) >= MAX_CACHED_STATES:
        _STATES.clear()
    _STATES[run_id] = (sop, document, state)


def run_state(run: SopRunRow, sop: FrontMatter) -> CaseState:
    """`decode_state(run.state, sop)`, reusing the last state this process stored or read.

    Decoding is a pure function of the document and the SOP, so when the document read
    now equals the one kept for the run (compared as JSON values, so a stale entry —
    another process saved the run since — is never used) and the SOP is the same
    object, the kept state is that decoding. A worker firing several timers of one case
    decodes its state once. States are immutable values; the cache is bounded and only
    ever read and replaced whole (safe under the GIL).
    """
    document = run.state
    kept = _STATES.get(run.id)
    if kept is not None and kept[0] is sop and kept[1] == document:
        return kept[2]
    state = decode_state(document, sop)
    remember_state(run.id, sop, document, state)
    return state


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
    """The case, its customer and its active run, decoded; `NotFound` if there is none.

    Two queries: the case with its customer (only the case row is locked), and the
    active run with its version's number and content hash, which find the parsed front
    matter without loading the version's source text.
    """
    query = select(CaseRow).options(joinedload(CaseRow.customer)).where(CaseRow.id == case_id)
    if lock:
        query = query.with_for_update(of=CaseRow)
    case = session.scalars(query).unique().one_or_none()
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    loaded = LoadedCase(case, case.customer, settings)
    found = session.execute(_active_runs(session, [case.id]).limit(1)).first()
    if found is not None:
        run, number, content_hash = found
        sop = pinned_front_matter(session, run.sop_version_id, content_hash)
        loaded.run, loaded.sop, loaded.version = run, sop, number
        loaded.calendar = calendar_for(session, sop, settings)
        loaded.state = run_state(run, sop)
    return loaded


def load_cases(
    session: Session,
    case_ids: list[int],
    timer_ids: list[int],
    settings: Settings,
    *,
    looks: Mapping[int, RunLook | None] | None = None,
    timer_keys: Mapping[int, Collection[str]] | None = None,
) -> tuple[dict[int, LoadedCase], dict[int, TimerRow]]:
    """`load_case` for several cases at once, in a fixed number of queries, with what
    applying decisions to them reads: their step rows, timers and outbox keys.

    Returns the loaded cases (a case that does not exist is left out) and the locked
    timers by id: the timers `timer_ids` names, and every timer of the cases or, with
    `timer_keys` (`{case id: keys}`), only those of the keys given (the keys the
    decisions about to be applied name; another is looked up when asked for, see
    `CaseTimers`). Locks in `load_case`'s order: the cases (in id order), then the
    timers (in id order).

    `looks`: what `look_at_runs` read in this transaction, under the same case locks;
    a run found there takes its state from it instead of reading and decoding the
    stored document again.
    """
    if not case_ids:
        return {}, {}
    query = (
        select(CaseRow)
        .options(joinedload(CaseRow.customer))
        .where(one_of(session, CaseRow.id, case_ids))
        .order_by(CaseRow.id)
        .with_for_update(of=CaseRow)
    )
    timers_of: dict[int, CaseTimers] = {}
    keys_of: dict[int, set[str]] = {}
    loaded: dict[int, LoadedCase] = {}
    for case in session.scalars(query).unique():
        asked = None if timer_keys is None else set(timer_keys.get(case.id, ()))
        timers_of[case.id], keys_of[case.id] = CaseTimers(asked), set()
        prefetched = (timers_of[case.id], keys_of[case.id])
        loaded[case.id] = LoadedCase(case, case.customer, settings, prefetched=prefetched)
    calendars: dict[str, Calendar] = {}
    steps_of: dict[int, dict[str, tuple[Any, ...]]] = {}
    runs = _active_runs(session, list(loaded))
    if looks is not None:  # the states come from the looks: no document to read
        runs = runs.options(defer(SopRunRow.state))
    for run, number, content_hash in session.execute(runs):
        item = loaded[run.case_id]
        if item.run is None:  # the newest active run of the case
            sop = pinned_front_matter(session, run.sop_version_id, content_hash)
            item.run, item.sop, item.version = run, sop, number
            item.steps = steps_of[run.id] = {}
            item.calendar = _calendar_once(session, sop, settings, calendars)
            look = looks.get(run.case_id) if looks is not None else None
            if look is not None and look.run_id == run.id and look.sop is sop:
                item.state = look.state
            else:
                item.state = run_state(run, sop)
    if steps_of:
        for run_id, step_id, *values in session.execute(_step_rows(session, list(steps_of))):
            steps_of[run_id][step_id] = tuple(values)
    if timer_keys is None:
        mine = one_of(session, TimerRow.case_id, loaded)
    else:
        mine = one_of(
            session, TimerRow.key, sorted({k for c in loaded for k in timer_keys.get(c, ())})
        )
    timers = (
        select(TimerRow)
        .where(or_(mine, one_of(session, TimerRow.id, timer_ids)))
        .order_by(TimerRow.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    by_id: dict[int, TimerRow] = {}
    for timer in session.scalars(timers):
        by_id[timer.id] = timer
        if timer.case_id in timers_of:
            timers_of[timer.case_id][timer.key] = timer
    on_cases = one_of(session, OutboxRow.case_id, loaded)
    keys = select(OutboxRow.case_id, OutboxRow.key).where(on_cases)
    for case_id, key in session.execute(keys):
        keys_of[case_id].add(key)
    return loaded, by_id


@dataclass(frozen=True)
class RunLook:
    """A case's active run as the engine needs it, read without ORM objects."""

    run_id: int
    sop: FrontMatter
    calendar: Calendar
    state: CaseState


def look_at_runs(
    session: Session, case_ids: list[int], settings: Settings, *, skip_locked: bool = False
) -> dict[int, RunLook | None]:
    """Lock the cases and read their active runs' states: `{case id: RunLook, or None
    for a case without a run}`; a case that does not exist is left out, and so is, with
    `skip_locked`, a case another transaction holds (PostgreSQL). The cases are locked
    in id order, so callers whose sets overlap queue up instead of deadlocking.

    Plain queries and no ORM object: enough to ask the engine whether a case has
    anything to do, before paying for the objects an action needs to change it. A state
    this process has read before is not read or parsed again while its stamp is the same
    (`_state_stamp`).
    """
    query = select(CaseRow.id).where(one_of(session, CaseRow.id, case_ids)).order_by(CaseRow.id)
    found: dict[int, RunLook | None] = dict.fromkeys(
        session.scalars(query.with_for_update(of=CaseRow, skip_locked=skip_locked))
    )
    runs = (
        select(
            SopRunRow.id,
            SopRunRow.case_id,
            SopRunRow.sop_version_id,
            SopVersion.content_hash,
            _state_stamp(session),
        )
        .join(SopVersion, SopVersion.id == SopRunRow.sop_version_id)
        .where(one_of(session, SopRunRow.case_id, found))
        .where(SopRunRow.status == RunStatus.ACTIVE.value)
        .order_by(SopRunRow.case_id, SopRunRow.id.desc())
    )
    calendars: dict[str, Calendar] = {}
    chosen: dict[int, tuple[int, FrontMatter, Calendar]] = {}
    stamps: dict[int, tuple[FrontMatter, str]] = {}
    for run_id, case_id, version_id, content_hash, stamp in session.execute(runs):
        if case_id in chosen:
            continue  # an older active run
        sop = pinned_front_matter(session, version_id, content_hash)
        chosen[case_id] = (run_id, sop, _calendar_once(session, sop, settings, calendars))
        stamps[run_id] = (sop, stamp)
    states = _stamped_states(session, stamps)
    for case_id, (run_id, sop, calendar) in chosen.items():
        found[case_id] = RunLook(run_id, sop, calendar, states[run_id])
    return found


def _state_stamp(session: Session) -> Any:
    """A column that changes whenever a run's state is saved.

    On PostgreSQL, the row version's transaction id (`xmin`): a few bytes, where the
    state itself is kilobytes of JSONB to turn into text. Every save writes a new row
    version in a transaction of its own, and ids are unique across the server until
    they wrap after about 4 billion transactions, far longer than this process keeps a
    stamp (`MAX_CACHED_STATES`, cleared when full). Elsewhere, the state's text itself.
    """
    if is_postgres(session):
        return cast(literal_column("sop_runs.xmin"), Text)
    return cast(SopRunRow.state, Text)


def _stamped_states(
    session: Session, stamps: dict[int, tuple[FrontMatter, str]]
) -> dict[int, CaseState]:
    """The runs' states: the one last read where the stamp is the same, else read now."""
    states: dict[int, CaseState] = {}
    missing: list[int] = []
    for run_id, (sop, stamp) in stamps.items():
        kept = _STATE_TEXTS.get(run_id)
        if kept is not None and kept[0] is sop and kept[1] == stamp:
            states[run_id] = kept[2]
        else:
            missing.append(run_id)
    if not missing:
        return states
    if not is_postgres(session):  # the stamp is the text itself
        for run_id in missing:
            sop, text = stamps[run_id]
            states[run_id] = state_from_text(run_id, sop, text)
        return states
    query = select(SopRunRow.id, _state_stamp(session), cast(SopRunRow.state, Text)).where(
        one_of(session, SopRunRow.id, missing)
    )
    for run_id, stamp, text in session.execute(query):
        states[run_id] = state_from_text(run_id, stamps[run_id][0], text, stamp)
    return states


_STATE_TEXTS: dict[int, tuple[FrontMatter, str, CaseState]] = {}


def state_from_text(
    run_id: int, sop: FrontMatter, text: str, stamp: str | None = None
) -> CaseState:
    """`run_state` for a state read as JSON text (see `look_at_runs`), kept under
    `stamp` (default: the text itself)."""
    stamp = text if stamp is None else stamp
    kept = _STATE_TEXTS.get(run_id)
    if kept is not None and kept[0] is sop and kept[1] == stamp:
        return kept[2]
    document = json.loads(text)
    known = _STATES.get(run_id)
    if known is not None and known[0] is sop and known[1] == document:
        state = known[2]
    else:
        state = decode_state(document, sop)
        remember_state(run_id, sop, document, state)
    if len(_STATE_TEXTS) >= MAX_CACHED_STATES:
        _STATE_TEXTS.clear()
    _STATE_TEXTS[run_id] = (sop, stamp, state)
    return state


def _active_runs(session: Session, case_ids: list[int]) -> Any:
    """The active runs of the cases with their version's number and content hash, the
    newest of each case first."""
    return (
        select(SopRunRow, SopVersion.version, SopVersion.content_hash)
        .join(SopVersion, SopVersion.id == SopRunRow.sop_version_id)
        .where(one_of(session, SopRunRow.case_id, case_ids))
        .where(SopRunRow.status == RunStatus.ACTIVE.value)
        .order_by(SopRunRow.case_id, SopRunRow.id.desc())
    )


def load_for_work(session: Session, case_id: int, settings: Settings) -> LoadedCase:
    """`load_case` for an action that works on the case. A case merged into another
    takes no more work (`Conflict`): the work goes on in that case."""
    loaded = load_case(session, case_id, settings)
    into = loaded.case.merged_into
    if into is not None:
        raise Conflict(
            f"{loaded.case.reference} was merged into SD-{into}",
            hint=f"work on SD-{into} instead",
        )
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


def save_state(
    session: Session,
    loaded: LoadedCase,
    state: CaseState,
    now: datetime,
    *,
    new_run: bool = False,
) -> None:
    """Store `state` in the run and bring the case row and step projections up to date.

    `new_run`: the run was created in this transaction, so it has no step rows yet.
    """
    run, sop, calendar = loaded.run, loaded.sop, loaded.calendar
    assert run is not None and sop is not None and calendar is not None
    changed = state is not loaded.state and state != loaded.state
    if changed:
        # An unchanged state (a timer that found nothing to do) keeps its stored
        # document: it decodes to this very state, so encoding it again is wasted work.
        run.state = encode_state(state)
        remember_state(run.id, sop, run.state, state)
        run.updated_at = now
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
    case.first_response_at = first_response_at(state)
    projection = project(state, sop, calendar, now)
    case.next_due_at = projection.next_due_at
    if changed or new_run or session.is_modified(case):
        # A save that changes nothing (a timer with nothing left to do) leaves the
        # rows as they were, `updated_at` included: nothing happened to the case.
        case.updated_at = now
    _project_steps(session, loaded, state, projection.steps, new_run=new_run)


STEP_COLUMNS = ("status", "due_at", "owner", "actor", "reason", "completed_at")


def _project_steps(
    session: Session,
    loaded: LoadedCase,
    state: CaseState,
    plan: tuple[PlannedStep, ...],
    *,
    new_run: bool = False,
) -> None:
    """Bring the run's `step_states` rows in line with `state` (`plan` is its planned
    steps, `engine.project`), writing only what changed.

    The rows are a projection nobody holds as ORM objects while an action runs (only
    `case_reads` loads them, for pages), so they are read as plain tuples and written
    with Core statements: one multi-row INSERT for the steps that have no row yet, one
    executemany UPDATE for the rows whose values differ, nothing for the rest. The rows
    are read only when `loaded.steps` does not hold them already (a save keeps what it
    wrote there, for the next save in the same action); a run started in this
    transaction (`new_run`) has none.
    """
    run = loaded.run
    assert run is not None
    table = StepStateRow.__table__
    existing = {} if new_run else loaded.steps
    if existing is None:
        rows = session.execute(_step_rows(session, [run.id]))
        existing = {step_id: tuple(values) for _, step_id, *values in rows}
    projected = dict(existing)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for planned in plan:
        recorded = state.step(planned.step_id)
        values = (
            planned.status.value,
            planned.due_at if planned.applies and not recorded.settled else None,
            planned.owner,
            recorded.by,
            recorded.reason,
            recorded.completed_at,
        )
        old = existing.get(planned.step_id)
        if old is None:
            inserts.append({"run_id": run.id, "step_id": planned.step_id, **zip_columns(values)})
        elif old != values:
            updates.append(
                {"b_run_id": run.id, "b_step_id": planned.step_id, **zip_columns(values)}
            )
        projected[planned.step_id] = values
    if inserts:
        session.execute(insert_into(table), inserts)
    if updates:
        statement = (
            update(table)
            .where(table.c.run_id == bindparam("b_run_id"))
            .where(table.c.step_id == bindparam("b_step_id"))
        )
        session.execute(statement, updates)
    loaded.steps = projected


def _step_rows(session: Session, run_ids: list[int]) -> Any:
    """The runs' step projections as (run id, step id, *STEP_COLUMNS) rows."""
    table = StepStateRow.__table__
    columns = [table.c[name] for name in STEP_COLUMNS]
    return select(table.c.run_id, table.c.step_id, *columns).where(
        one_of(session, table.c.run_id, run_ids)
    )


def zip_columns(values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(STEP_COLUMNS, values, strict=True))


def with_case(state: CaseState, **changes: Any) -> CaseState:
    """`state` with fields of its `Case` changed (assignee, priority, fields, tags)."""
    return replace(state, case=replace(state.case, **changes))


_EVENT_BUFFER = "sopdesk.case_events"


def log_event(
    session: Session,
    kind: str,
    at: datetime,
    *,
    case_id: int | None = None,
    customer_id: int | None = None,
    actor: str | None = None,
    **data: Any,
) -> None:
    """Append one event; `data` values are made JSON-safe (instants as ISO 8601).

    Inside `buffered_events` the row is kept in a list and written with the others in
    one statement; otherwise it is added to the session. Either way, the events that
    webhook endpoints subscribe to are queued for delivery in the same transaction
    (`webhook_events.queue_case_events`; nothing is read when no endpoint exists).
    """
    values = {
        "case_id": case_id,
        "customer_id": customer_id,
        "at": at,
        "actor": actor or "system",
        "kind": kind,
        "data": {key: json_safe(value) for key, value in data.items()},
    }
    if not collect(session, _EVENT_BUFFER, values):
        session.add(CaseEventRow(**values))
        queue_case_events(session, (values,))


@contextmanager
def buffered_events(session: Session) -> Iterator[None]:
    """Collect the events logged inside the block and insert them in one statement.

    The event log is append-only and nothing reads it back while an action runs, so
    its rows need no ORM objects: they are written together when the block ends, in
    the order they were logged (`store.queries.append_rows`: COPY on PostgreSQL, one
    executemany INSERT elsewhere), instead of one unit-of-work object each. Events
    already pending in the session are flushed first, so ids keep following the order
    of logging. The rows' case and customer are flushed before any
    event can name them (their ids come from a flush). Nested blocks join the outer
    one; on an error the buffer is dropped with the transaction. Webhook deliveries for
    the block's events are queued after them, so their payloads show the case as the
    whole block left it.
    """
    outermost = session.info.get(_EVENT_BUFFER) is None
    if outermost and any(isinstance(obj, CaseEventRow) for obj in session.new):
        session.flush()
    with collecting(session, _EVENT_BUFFER) as rows:
        yield
    if rows:
        session.flush()  # the rows' cases and customers first (as an INSERT's autoflush)
        append_rows(session, CaseEventRow.__table__, rows)
        queue_case_events(session, rows)


_PLAIN = (str, int, float, type(None))


def json_safe(value: Any) -> Any:
    if isinstance(value, _PLAIN):  # most event values: nothing to convert
        return value
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
    On SQLite the transaction starts with the write lock (`store.engine.begin_write`),
    as the case row lock serialises writers to one case on PostgreSQL.
    """

    @wraps(fn)
    def wrapper(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        session.expire_all()
        try:
            begin_write(session)
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
