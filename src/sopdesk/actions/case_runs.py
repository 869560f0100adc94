"""SOP runs on cases: starting one, carrying out a transition, re-timing open cases.

`start_sop_run` pins a case to a published SOP version and carries out the engine's
first decisions; `transition` is the shell around every engine transition (decide,
carry out the decisions, store the state, log a status change); `do_start_sop` takes a
case out of triage; `do_retime_open_cases` re-decides open cases after a calendar or
SOP change, one transaction per case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import (
    LoadedCase,
    atomic_case,
    buffered_events,
    calendar_for,
    front_matter,
    load_case,
    load_for_work,
    log_event,
    save_state,
)
from sopdesk.actions.context import KnownConversation
from sopdesk.actions.customers import engine_customer
from sopdesk.actions.effects import apply_decisions
from sopdesk.actions.published import Published, published_version
from sopdesk.engine import (
    Case,
    CaseState,
    Message,
    MessageKind,
    Outcome,
    World,
    add_message,
    decide,
    record,
    retime,
    start_run,
)
from sopdesk.engine.state import FINISHED_STATUSES, CaseStatus, StatusChange
from sopdesk.errors import Conflict
from sopdesk.settings import Settings
from sopdesk.store.codec import encode_state
from sopdesk.store.queries import insert_loaded
from sopdesk.store.tables import (
    CaseRow,
    CaseStatusValue,
    MessageRow,
    RunStatus,
    SopRunRow,
    SopVersion,
)

Transition = Callable[[CaseState, World], Outcome]


def start_sop_run(
    session: Session,
    case: CaseRow,
    version: SopVersion | Published,
    now: datetime,
    settings: Settings,
    *,
    first_message: MessageRow | None = None,
    new_case: bool = False,
    known: KnownConversation | None = None,
) -> LoadedCase:
    """Start the SOP of `version` on the case; its first decisions are carried out.

    `version` may be the row or, from routing, the `Published` summary of the version
    in force (its front matter is already parsed, so the row and its source text are not
    loaded). `new_case`: the case was created in this transaction, so it has no timers
    or outbox rows yet and they need not be read; `known`, what it holds (its first
    e-mail is then rendered and threaded without reading the case back).
    """
    with buffered_events(session):
        return _start_sop_run(session, case, version, now, settings, first_message, new_case, known)


def _start_sop_run(
    session: Session,
    case: CaseRow,
    version: SopVersion | Published,
    now: datetime,
    settings: Settings,
    first_message: MessageRow | None,
    new_case: bool,
    known: KnownConversation | None,
) -> LoadedCase:
    sop = version.meta if isinstance(version, Published) else front_matter(version)
    calendar = calendar_for(session, sop, settings)
    engine_case = Case(
        id=case.reference or str(case.id),
        opened_at=case.opened_at,
        status=CaseStatus(case.status),
        type=case.case_type,
        channel=case.channel,
        priority=case.priority,
        subject=case.subject,
        assignee=case.assignee,
        fields=dict(case.fields or {}),
        tags=tuple(case.tags or ()),
    )
    customer = engine_customer(case.customer)
    message = (
        Message(str(first_message.id), MessageKind.INBOUND, first_message.created_at)
        if first_message is not None
        else None
    )
    # A new case starts with its first message: one `decide` instead of two, the same
    # decisions (`start_run`'s `messages`). A case out of triage may wait on the
    # customer, whose message then wakes it: it goes through `add_message`.
    with_first = (message,) if message is not None and new_case else ()
    plan = start_run(
        sop,
        engine_case,
        calendar,
        now,
        version=version.version,
        customer=customer,
        messages=with_first,
    )
    state, decisions = plan.state, list(plan.decisions)
    if case.status != CaseStatus.NEW.value:  # a case taken out of triage keeps its status
        history = (StatusChange(now, CaseStatus(case.status), None),)
        state = replace(state, status_history=history)
    if message is not None and not with_first:
        outcome = add_message(state, World(sop, calendar, now), message)
        state, decisions = outcome.state, [*decisions, *outcome.decisions]
    run = insert_loaded(
        session,
        SopRunRow,
        {
            "case_id": case.id,
            "sop_version_id": version.id,
            "state": encode_state(state),  # save_state below finds it unchanged
            "started_at": now,
            "status": RunStatus.ACTIVE.value,
            "updated_at": now,
        },
    )
    case.sop_id, case.group_name = sop.id, None
    loaded = LoadedCase(case, case.customer, settings, run, sop, calendar, state)
    loaded.version, loaded.known = version.version, known
    log_event(
        session,
        "sop.started",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        sop_id=sop.id,
        version=version.version,
    )
    apply_decisions(session, loaded, decisions, now, new_case=new_case)
    save_state(session, loaded, state, now, new_run=True)
    return loaded


def transition(
    session: Session,
    loaded: LoadedCase,
    step: Transition,
    now: datetime,
    actor: str | None,
) -> CaseRow:
    """Carry out one engine transition on a loaded case and log any status change."""
    before = loaded.case.status
    outcome = step(loaded.require_state(), loaded.world(now))
    with buffered_events(session):
        apply_decisions(session, loaded, outcome.decisions, now)
        save_state(session, loaded, outcome.state, now)
        status_events(session, loaded.case, before, now, actor)
    return loaded.case


def status_events(
    session: Session, case: CaseRow, before: str, now: datetime, actor: str | None
) -> None:
    after = case.status
    if after == before:
        return
    ids = {"case_id": case.id, "customer_id": case.customer_id, "actor": actor}
    log_event(session, "status.changed", now, **ids, before=before, after=after)
    finished = {s.value for s in FINISHED_STATUSES}
    if before in finished and after not in finished:
        log_event(session, "case.reopened", now, **ids, reopen_count=case.reopen_count)
    elif after in finished and before not in finished:
        log_event(session, f"case.{after}", now, **ids)


def redecide(state: CaseState, world: World) -> Outcome:
    decisions = tuple(decide(state, world.sop, world.calendar, world.now, world.policy))
    return Outcome(record(state, decisions, world.now), decisions)


@atomic_case
def do_start_sop(
    session: Session,
    case_id: int,
    sop_id: str,
    *,
    by: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseRow:
    """Run `sop_id` on a case that has no SOP run: a person takes it out of triage.

    The SOP starts as routing would have started it (its acknowledgement goes out, its
    clocks count from now); the case's route says who chose it, and `case.triaged` is
    logged. A case that runs an SOP already, or is closed, is a `Conflict`; an SOP that
    does not exist is `NotFound`, one with no published version a `Conflict`.
    """
    moment, settings = resolve_now(now), settings or Settings()
    loaded = load_for_work(session, case_id, settings)
    if loaded.run is not None:
        raise Conflict(f"case {loaded.case.reference} already runs {loaded.sop.id}")  # type: ignore[union-attr]
    if loaded.case.status == CaseStatusValue.CLOSED.value:
        raise Conflict(
            f"case {loaded.case.reference} is closed",
            hint="a closed case is history; open a new case for the customer",
        )
    version = published_version(session, sop_id)
    title = front_matter(version).title
    first = session.scalars(
        select(MessageRow)
        .where(MessageRow.case_id == case_id, MessageRow.kind == "inbound")
        .order_by(MessageRow.created_at, MessageRow.id)
        .limit(1)
    ).first()
    loaded.case.route = {
        **(loaded.case.route or {}),
        "source": "manual",
        "sop_id": sop_id,
        "explain": f"{title}, chosen by {by} from the triage queue",
    }
    log_event(
        session,
        "case.triaged",
        moment,
        case_id=loaded.case.id,
        customer_id=loaded.case.customer_id,
        actor=by,
        sop_id=sop_id,
        version=version.version,
    )
    start_sop_run(session, loaded.case, version, moment, settings, first_message=first)
    loaded.case.updated_at = moment
    return loaded.case


def do_retime_open_cases(
    session: Session,
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    repin: bool = False,
) -> int:
    """Re-time every open case after a calendar (or, with `repin`, an SOP) change.

    One transaction per case; history is never rewritten. Returns how many were re-timed.
    """
    moment, settings = resolve_now(now), settings or Settings()
    query = (
        select(SopRunRow.case_id)
        .join(CaseRow, CaseRow.id == SopRunRow.case_id)
        .where(SopRunRow.status == RunStatus.ACTIVE.value, CaseRow.status != "closed")
        .order_by(SopRunRow.case_id)
    )
    case_ids = list(session.scalars(query))
    session.rollback()
    for case_id in case_ids:
        _retime_one(session, case_id, moment, settings, repin)
    return len(case_ids)


@atomic_case
def _retime_one(
    session: Session, case_id: int, now: datetime, settings: Settings, repin: bool
) -> None:
    loaded = load_case(session, case_id, settings)
    if loaded.run is None or loaded.sop is None:
        return
    sop, version = loaded.sop, loaded.run.sop_version
    if repin:
        current = published_version(session, loaded.sop.id)
        if current.id != version.id:
            sop, version = front_matter(current), current
            loaded.run.sop_version, loaded.sop = current, sop
            loaded.version = current.version
    pinned = version.version

    def step(state: CaseState, world: World) -> Outcome:
        return retime(state, sop, world.calendar, now, version=pinned)

    transition(session, loaded, step, now, "system")
    log_event(session, "case.retimed", now, case_id=case_id, sop_id=sop.id, version=pinned)
