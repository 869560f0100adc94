"""Carrying out engine decisions on a case: outbox rows, timers, events, assignments.

`apply_decisions` is the one place a `Decision` becomes rows, inside the caller's
transaction. Every effect is keyed by the decision's `key` (the outbox and the timer
table are unique on it), so applying the same decision twice adds nothing:

| decision | rows |
| --- | --- |
| `SendTemplate` | an outbound `messages` row and an `outbox` row (rendered in the sandbox) |
| `RecordBreach` | a `sla.breached` event |
| `Escalate` | a `sla.warning` or `escalated` event; one notice per recipient and fire |
| `ScheduleFollowup` / `CancelFollowup` | `followup.scheduled` / `followup.cancelled` |
| `ScheduleTimer` / `CancelTimer` | the `timers` row upserted / cancelled |
| `LogStep` | `step.completed`, `step.skipped` or `step.overridden` |

A template that cannot be rendered (a placeholder nothing fills) is not sent; a
`message.failed` event says why, and the case page shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.case_state import CaseTimers, LoadedCase, log_event
from sopdesk.actions.groups import Contacts, escalation_contacts
from sopdesk.actions.notices import queue_notices
from sopdesk.actions.outbound import queue_template
from sopdesk.actions.unsubscribe import optional_mail_stopped
from sopdesk.engine import (
    CancelFollowup,
    CancelTimer,
    Decision,
    Escalate,
    LogStep,
    OpenTask,
    RecordBreach,
    ScheduleFollowup,
    ScheduleTimer,
    SendTemplate,
)
from sopdesk.store.queries import insert_into
from sopdesk.store.tables import OutboxRow, TimerRow, TimerStatus

LIVE_TIMER_STATUSES = (TimerStatus.PENDING.value, TimerStatus.RUNNING.value)


def apply_decisions(
    session: Session,
    loaded: LoadedCase,
    decisions: Iterable[Decision],
    now: datetime,
    *,
    new_case: bool = False,
) -> None:
    """Carry out `decisions`; the case's timer and outbox keys are read once, up front
    (unless `load_cases` read them with the case).

    `new_case`: the case was created in this transaction and has none yet.
    """
    decisions = list(decisions)
    if not decisions:
        return
    case_id = loaded.case.id
    new_timers: dict[str, dict[str, Any]] | None = None
    if new_case:
        loaded.timers, loaded.outbox_keys, new_timers = CaseTimers(), set(), {}
    elif loaded.prefetched is not None:
        loaded.timers, loaded.outbox_keys = loaded.prefetched
    else:
        query = select(TimerRow).where(TimerRow.case_id == case_id)
        loaded.timers = CaseTimers()
        loaded.timers.update((row.key, row) for row in session.scalars(query))
        loaded.outbox_keys = set(
            session.scalars(select(OutboxRow.key).where(OutboxRow.case_id == case_id))
        )
    contacts = _escalation_contacts(session, decisions)
    try:
        with session.no_autoflush:
            escalations = [d for d in decisions if isinstance(d, Escalate)]
            told = queue_notices(session, loaded, escalations, now, contacts=contacts)
            for decision in decisions:
                if new_timers is not None and isinstance(decision, ScheduleTimer | CancelTimer):
                    _new_case_timer(new_timers, decision, case_id, now)
                else:
                    _apply(session, loaded, decision, now, contacts, told)
        if new_timers:
            session.execute(insert_into(TimerRow.__table__), list(new_timers.values()))
    finally:
        loaded.timers = loaded.outbox_keys = None


def _new_case_timer(
    rows: dict[str, dict[str, Any]],
    decision: ScheduleTimer | CancelTimer,
    case_id: int,
    now: datetime,
) -> None:
    """`schedule_timer` / `cancel_timer` for a case created in this transaction.

    Such a case has no timer rows and nothing else reads them before the transaction
    ends, so its timers are kept as plain rows and inserted together in one statement
    (the same values `schedule_timer` gives a new row; a key scheduled twice keeps its
    first creation and takes the last instant, a cancelled one is stored cancelled).
    """
    if isinstance(decision, CancelTimer):
        row = rows.get(decision.key)
        if row is not None and row["status"] in LIVE_TIMER_STATUSES:
            row.update(status=TimerStatus.CANCELLED.value, locked_by=None, locked_until=None)
        return
    row = rows.setdefault(
        decision.key,
        {"key": decision.key, "created_at": now, "case_id": case_id, "customer_id": None},
    )
    row.update(
        kind=timer_kind(decision.target),
        due_at=decision.at,
        status=TimerStatus.PENDING.value,
        attempts=0,
        locked_by=None,
        locked_until=None,
        last_error=None,
        payload={"target": decision.target},
        fired_at=None,
    )


def _escalation_contacts(session: Session, decisions: list[Decision]) -> dict[str, Contacts]:
    """The groups every escalation among `decisions` names (notified or assigned): one
    query for all of them, however many levels a fire crosses; none for the groups
    already looked up inside `shared_contacts`."""
    named = escalated_roles(decisions)
    if not named:
        return {}
    shared: dict[str, Contacts | None] | None = session.info.get(_CONTACTS)
    if shared is None:
        return escalation_contacts(session, named)
    if missing := named - shared.keys():
        found = escalation_contacts(session, missing)
        shared.update((name, found.get(name)) for name in missing)
    return {name: contacts for name in named if (contacts := shared[name]) is not None}


def timer_keys(decisions: Iterable[Decision]) -> set[str]:
    """The keys of the timers `decisions` schedule or cancel."""
    return {d.key for d in decisions if isinstance(d, ScheduleTimer | CancelTimer)}


def escalated_roles(decisions: Iterable[Decision]) -> set[str]:
    """The roles (group names) the escalations among `decisions` notify or assign to."""
    return {
        role
        for decision in decisions
        if isinstance(decision, Escalate)
        for role in (*decision.notify, *([decision.assign] if decision.assign else []))
    }


_CONTACTS = "sopdesk.escalation_contacts"


@contextmanager
def shared_contacts(session: Session, names: Iterable[str] = ()) -> Iterator[None]:
    """Inside the block, the escalation contacts of a group are looked up once; those
    of `names` at the start, in one query.

    For an action that applies decisions to many cases in one transaction (the
    worker's batch of timers): the answer is as old as the transaction's first look.
    """
    wanted = set(names)
    found = escalation_contacts(session, wanted) if wanted else {}
    session.info[_CONTACTS] = {name: found.get(name) for name in wanted}
    try:
        yield
    finally:
        session.info.pop(_CONTACTS, None)


def _apply(
    session: Session,
    loaded: LoadedCase,
    decision: Decision,
    now: datetime,
    contacts: Mapping[str, Contacts],
    told: Mapping[str, list[str]],
) -> None:
    case = loaded.case
    ids = {"case_id": case.id, "customer_id": case.customer_id}
    match decision:
        case SendTemplate():
            _send(session, loaded, decision, now)
        case RecordBreach(target=target, due_at=due_at):
            log_event(session, "sla.breached", now, **ids, target=target, due_at=due_at)
        case Escalate():
            _escalate(session, loaded, decision, now, contacts, told[decision.key])
        case ScheduleFollowup():
            log_event(
                session,
                "followup.scheduled",
                now,
                **ids,
                key=decision.key,
                followup_id=decision.followup_id,
                template=decision.template,
                send_at=decision.send_at,
            )
        case CancelFollowup():
            log_event(
                session,
                "followup.cancelled",
                now,
                **ids,
                key=decision.key,
                followup_id=decision.followup_id,
                reason=decision.reason,
            )
        case ScheduleTimer():
            schedule_timer(
                session,
                decision.key,
                decision.at,
                decision.target,
                now,
                case_id=case.id,
                known=loaded.timers,
            )
        case CancelTimer():
            cancel_timer(session, decision.key, known=loaded.timers)
        case LogStep():
            log_event(
                session,
                f"step.{decision.what}",
                decision.at,
                **ids,
                actor=decision.by,
                step_id=decision.step_id,
                reason=decision.reason,
            )
        case OpenTask():
            log_event(
                session,
                "task.opened",
                now,
                **ids,
                step_id=decision.step_id,
                title=decision.title,
                owner=decision.owner,
                due_at=decision.due_at,
            )


def _send(session: Session, loaded: LoadedCase, decision: SendTemplate, now: datetime) -> None:
    case = loaded.case
    kind, _, name = decision.target.partition(":")
    if kind == "step":
        log_event(
            session,
            "step.completed",
            now,
            case_id=case.id,
            customer_id=case.customer_id,
            step_id=name,
            by="system",
            template=decision.template,
        )
    elif kind == "followup":
        if stopped := optional_mail_stopped(loaded.customer):
            log_event(
                session,
                "followup.cancelled",
                now,
                case_id=case.id,
                customer_id=case.customer_id,
                key=decision.key,
                followup_id=name.partition(":")[0],
                reason=stopped,
            )
            return
        log_event(
            session,
            "followup.sent",
            now,
            case_id=case.id,
            customer_id=case.customer_id,
            key=decision.key,
            followup_id=name.partition(":")[0],
            template=decision.template,
        )
    step = _step_context(loaded, name) if kind == "step" else None
    queue_template(session, loaded, decision, now, step=step)


def _step_context(loaded: LoadedCase, step_id: str) -> dict[str, object] | None:
    sop = loaded.sop
    step = next((s for s in sop.steps if s.id == step_id), None) if sop else None
    if step is None:
        return None
    return {"id": step.id, "title": step.title, "owner": step.owner, "due_at": None}


def _escalate(
    session: Session,
    loaded: LoadedCase,
    decision: Escalate,
    now: datetime,
    contacts: Mapping[str, Contacts],
    notified: list[str],
) -> None:
    """`contacts`: the groups the escalation names (a name without a group is absent);
    `notified`: the roles a notice about it was queued for (`queue_notices`)."""
    case = loaded.case
    log_event(
        session,
        "sla.warning" if decision.warning else "escalated",
        now,
        case_id=case.id,
        customer_id=case.customer_id,
        key=decision.key,
        target=decision.target,
        level=decision.level,
        due_at=decision.due_at,
        notify=list(decision.notify),
        notified=notified,
        assign=decision.assign,
        priority=decision.priority,
        respond_within=decision.respond_within,
        note=decision.note,
    )
    if decision.assign in contacts:
        # A group takes the case over: its name goes on the case for the team to pick
        # up. The assignee is the engine's to record (save_state projects it).
        case.group_name = decision.assign
    elif decision.assign:
        case.assignee = decision.assign
    if decision.priority:
        case.priority = decision.priority


def timer_kind(target: str) -> str:
    return target.partition(":")[0] or "case"


def schedule_timer(
    session: Session,
    key: str,
    at: datetime,
    target: str,
    now: datetime,
    *,
    case_id: int | None = None,
    customer_id: int | None = None,
    kind: str | None = None,
    payload: dict[str, object] | None = None,
    known: CaseTimers | None = None,
) -> TimerRow:
    """Insert the timer `key`, or move it to `at` and make it pending again.

    `known`: the case's timers read up front (`CaseTimers`), which saves a query per timer.
    """
    row = _timer(session, key, known)
    if row is None:
        row = TimerRow(key=key, created_at=now, case_id=case_id, customer_id=customer_id)
        session.add(row)
        if known is not None:
            known[key] = row
    row.kind = kind or timer_kind(target)
    row.due_at = at
    row.status = TimerStatus.PENDING.value
    row.attempts = 0
    row.locked_by = row.locked_until = row.last_error = None
    row.payload = {"target": target, **(payload or {})}
    return row


def cancel_timer(session: Session, key: str, *, known: CaseTimers | None = None) -> None:
    row = _timer(session, key, known)
    if row is not None and row.status in LIVE_TIMER_STATUSES:
        row.status = TimerStatus.CANCELLED.value
        row.locked_by = row.locked_until = None


def _timer(session: Session, key: str, known: CaseTimers | None) -> TimerRow | None:
    if known is not None:
        return known.lookup(session, key)
    return session.scalar(select(TimerRow).where(TimerRow.key == key))
