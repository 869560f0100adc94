"""Starting an SOP run and reading its plan: every step with its status and due instant.

`start_run` pins the SOP version, creates a pending state for each step and returns the
first decisions (the acknowledgement of a system-owned step, the timers). `plan_steps`
is what an agent sees: for each step whether it applies, what it waits for, when it is
due (rebuilt from history, so it moves when the case pauses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.conditions import case_context
from sopdesk.engine.decide import decide
from sopdesk.engine.decisions import Decision
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.record import record
from sopdesk.engine.state import Case, CaseState, Customer, Run, StepState, StepStatus
from sopdesk.engine.targets import TargetInputs, step_applies, step_limit, step_target
from sopdesk.sop.model import FrontMatter


@dataclass(frozen=True)
class PlannedStep:
    step_id: str
    title: str
    owner: str | None
    critical: bool
    status: StepStatus
    applies: bool
    due_at: datetime | None
    waiting_for: str | None  # the anchor that has not happened yet, if any
    send: str | None


@dataclass(frozen=True)
class RunPlan:
    """The run's state (decisions recorded), its steps, and the decisions to carry out."""

    state: CaseState
    steps: tuple[PlannedStep, ...]
    decisions: tuple[Decision, ...]


def start_run(
    sop: FrontMatter,
    case: Case,
    calendar: business_time.Calendar,
    now: datetime,
    *,
    version: int = 1,
    customer: Customer | None = None,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> RunPlan:
    """Start `sop` (pinned at `version`) on `case` at `now`."""
    state = CaseState(
        case=case,
        run=Run(sop, version, now),
        customer=customer,
        steps=tuple(StepState(step.id) for step in sop.steps),
    )
    decisions = decide(state, sop, calendar, now, policy)
    state = record(state, decisions, now)
    return RunPlan(state, plan_steps(state, sop, calendar, now, policy), tuple(decisions))


def plan_steps(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> tuple[PlannedStep, ...]:
    context = case_context(state, policy)
    inputs = TargetInputs(state, sop, calendar, policy, context)
    planned = []
    for step in sop.steps:
        applies = step_applies(step, context)
        target = step_target(inputs, step) if applies else None
        limit = step_limit(step)
        waiting = limit.anchor if limit is not None and applies and target is None else None
        planned.append(
            PlannedStep(
                step_id=step.id,
                title=step.title,
                owner=step.owner,
                critical=step.critical,
                status=state.step(step.id).status,
                applies=applies,
                due_at=target.clock.due_at(now) if target else None,
                waiting_for=waiting,
                send=step.send,
            )
        )
    return tuple(planned)
