"""`record`: fold decisions into the case state, as the shell commits them.

The shell writes the same facts to storage in one transaction (outbox rows, timers,
the escalation log); this pure fold is what the engine reads back next time, and what
tests use to check that deciding again yields nothing new.

The decisions are folded into a `_Draft` of the state's fields and the new `CaseState`
is built once at the end: a heavy decision (a case that owes days of escalations) holds
a dozen decisions or more, and building a frozen state per decision cost more than the
fold itself.
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
    find_followup,
    put_step,
)
from sopdesk.sop.model import SYSTEM_OWNER


def record(state: CaseState, decisions: Iterable[Decision], now: datetime) -> CaseState:
    """The state after the shell has carried out `decisions` at `now`."""
    draft: _Draft | None = None
    for decision in decisions:
        draft = draft or _Draft(state)
        _apply(decision, draft, now)
    return state if draft is None else draft.build()


class _Draft:
    """The fields of a case state that decisions change, changed in place by the fold."""

    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.case_changes: dict[str, str] = {}  # the case's fields escalations set
        self.steps = state.steps
        self.escalations = state.escalations
        self.breaches = state.breaches
        self.followups = state.followups
        self.timers = state.timers
        self.sent = state.sent
        self.log = state.log

    def build(self) -> CaseState:
        case = self.state.case
        if self.case_changes:
            case = replace(case, **self.case_changes)
        return replace(
            self.state,
            case=case,
            steps=self.steps,
            escalations=self.escalations,
            breaches=self.breaches,
            followups=self.followups,
            timers=self.timers,
            sent=self.sent,
            log=self.log,
        )


@singledispatch
def _apply(decision: object, draft: _Draft, now: datetime) -> None:
    raise TypeError(f"not a decision: {decision!r}")


@_apply.register
def _(decision: ScheduleTimer, draft: _Draft, now: datetime) -> None:
    kept = tuple(t for t in draft.timers if t.key != decision.key)
    draft.timers = (*kept, Timer(decision.key, decision.at, decision.target))


@_apply.register
def _(decision: CancelTimer, draft: _Draft, now: datetime) -> None:
    draft.timers = tuple(t for t in draft.timers if t.key != decision.key)


@_apply.register
def _(decision: SendTemplate, draft: _Draft, now: datetime) -> None:
    draft.sent = draft.sent | {decision.key}
    kind, _, name = decision.target.partition(":")
    if kind == "step":
        draft.steps = put_step(draft.steps, StepState(name, StepStatus.DONE, now, SYSTEM_OWNER))
        return
    existing = find_followup(draft.followups, decision.key)
    sent = (
        replace(existing, status=FollowupStatus.SENT)
        if existing
        else ScheduledFollowup(
            decision.key, name, decision.template, decision.channel, now, FollowupStatus.SENT
        )
    )
    _put_followup(draft, sent)


@_apply.register
def _(decision: RecordBreach, draft: _Draft, now: datetime) -> None:
    draft.breaches = (*draft.breaches, RecordedBreach(decision.target, decision.due_at, now))


@_apply.register
def _(decision: Escalate, draft: _Draft, now: datetime) -> None:
    fired = FiredEscalation(decision.target, decision.level, now, decision.warning)
    if decision.assign:
        draft.case_changes["assignee"] = decision.assign
    if decision.priority:
        draft.case_changes["priority"] = decision.priority
    draft.escalations = (*draft.escalations, fired)


@_apply.register
def _(decision: ScheduleFollowup, draft: _Draft, now: datetime) -> None:
    scheduled = ScheduledFollowup(
        decision.key, decision.followup_id, decision.template, decision.channel, decision.send_at
    )
    _put_followup(draft, scheduled)


@_apply.register
def _(decision: CancelFollowup, draft: _Draft, now: datetime) -> None:
    existing = find_followup(draft.followups, decision.key) or ScheduledFollowup(
        decision.key, decision.followup_id, "", "", now
    )
    cancelled = replace(existing, status=FollowupStatus.CANCELLED, reason=decision.reason)
    _put_followup(draft, cancelled)


@_apply.register
def _(decision: LogStep, draft: _Draft, now: datetime) -> None:
    entry = LogEntry(decision.at, f"step_{decision.what}", decision.step_id, decision.by)
    draft.log = (*draft.log, replace(entry, reason=decision.reason))


@_apply.register
def _(decision: OpenTask, draft: _Draft, now: datetime) -> None:
    """Tasks of customer sequences live outside any case: nothing to record."""


def _put_followup(draft: _Draft, followup: ScheduledFollowup) -> None:
    others = tuple(f for f in draft.followups if f.key != followup.key)
    draft.followups = (*others, followup)
