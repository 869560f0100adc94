"""`record`: fold decisions into the case state, as the shell commits them.

The shell writes the same facts to storage in one transaction (outbox rows, timers,
the escalation log); this pure fold is what the engine reads back next time, and what
tests use to check that deciding again yields nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from functools import singledispatch

from sopdesk.engine.decisions import (
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
from sopdesk.engine.state import (
    CaseState,
    FiredEscalation,
    FollowupStatus,
    LogEntry,
    RecordedBreach,
    ScheduledFollowup,
    StepState,
    StepStatus,
    Timer,
    with_step,
)
from sopdesk.sop.model import SYSTEM_OWNER


def record(state: CaseState, decisions: Iterable[Decision], now: datetime) -> CaseState:
    """The state after the shell has carried out `decisions` at `now`."""
    for decision in decisions:
        state = _apply(decision, state, now)
    return state


@singledispatch
def _apply(decision: object, state: CaseState, now: datetime) -> CaseState:
    raise TypeError(f"not a decision: {decision!r}")


@_apply.register
def _(decision: ScheduleTimer, state: CaseState, now: datetime) -> CaseState:
    kept = tuple(t for t in state.timers if t.key != decision.key)
    return replace(state, timers=(*kept, Timer(decision.key, decision.at, decision.target)))


@_apply.register
def _(decision: CancelTimer, state: CaseState, now: datetime) -> CaseState:
    return replace(state, timers=tuple(t for t in state.timers if t.key != decision.key))


@_apply.register
def _(decision: SendTemplate, state: CaseState, now: datetime) -> CaseState:
    state = replace(state, sent=state.sent | {decision.key})
    kind, _, name = decision.target.partition(":")
    if kind == "step":
        return with_step(state, StepState(name, StepStatus.DONE, now, SYSTEM_OWNER))
    existing = state.followup(decision.key)
    sent = (
        replace(existing, status=FollowupStatus.SENT)
        if existing
        else ScheduledFollowup(
            decision.key, name, decision.template, decision.channel, now, FollowupStatus.SENT
        )
    )
    return _put_followup(state, sent)


@_apply.register
def _(decision: RecordBreach, state: CaseState, now: datetime) -> CaseState:
    breach = RecordedBreach(decision.target, decision.due_at, now)
    return replace(state, breaches=(*state.breaches, breach))


@_apply.register
def _(decision: Escalate, state: CaseState, now: datetime) -> CaseState:
    fired = FiredEscalation(decision.target, decision.level, now, decision.warning)
    case = state.case
    if decision.assign:
        case = replace(case, assignee=decision.assign)
    if decision.priority:
        case = replace(case, priority=decision.priority)
    return replace(state, case=case, escalations=(*state.escalations, fired))


@_apply.register
def _(decision: ScheduleFollowup, state: CaseState, now: datetime) -> CaseState:
    scheduled = ScheduledFollowup(
        decision.key, decision.followup_id, decision.template, decision.channel, decision.send_at
    )
    return _put_followup(state, scheduled)


@_apply.register
def _(decision: CancelFollowup, state: CaseState, now: datetime) -> CaseState:
    existing = state.followup(decision.key) or ScheduledFollowup(
        decision.key, decision.followup_id, "", "", now
    )
    cancelled = replace(existing, status=FollowupStatus.CANCELLED, reason=decision.reason)
    return _put_followup(state, cancelled)


@_apply.register
def _(decision: LogStep, state: CaseState, now: datetime) -> CaseState:
    entry = LogEntry(decision.at, f"step_{decision.what}", decision.step_id, decision.by)
    entry = replace(entry, reason=decision.reason)
    return replace(state, log=(*state.log, entry))


@_apply.register
def _(decision: OpenTask, state: CaseState, now: datetime) -> CaseState:
    return state  # tasks of customer sequences live outside any case


def _put_followup(state: CaseState, followup: ScheduledFollowup) -> CaseState:
    others = tuple(f for f in state.followups if f.key != followup.key)
    return replace(state, followups=(*others, followup))
