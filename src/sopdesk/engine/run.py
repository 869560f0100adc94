"""Starting an SOP run and reading its plan: every step with its status and due instant.

`start_run` pins the SOP version, creates a pending state for each step and returns the
first decisions (the acknowledgement of a system-owned step, the timers). `plan_steps`
is what an agent sees: for each step whether it applies, what it waits for, when it is
due (rebuilt from history, so it moves when the case pauses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sopdesk import calendar as business_time
from sopdesk.engine.conditions import case_context
from sopdesk.engine.decide import decide
from sopdesk.engine.decisions import Decision
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.record import record
from sopdesk.engine.state import Case, CaseState, Customer, Message, Run, StepState, StepStatus
from sopdesk.engine.targets import (
    TargetInputs,
    limited_step_target,
    metric_targets,
    step_applies,
    step_limit,
)
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
    """The run's state (decisions recorded), the decisions to carry out, and its steps.

    The steps are planned when first asked for: the shell plans the state it saves,
    which the first message has already changed, so it never reads these.
    """

    state: CaseState
    decisions: tuple[Decision, ...]
    sop: FrontMatter
    calendar: business_time.Calendar
    now: datetime
    policy: ClockPolicy = DEFAULT_POLICY

    @cached_property
    def steps(self) -> tuple[PlannedStep, ...]:
        return plan_steps(self.state, self.sop, self.calendar, self.now, self.policy)


def start_run(
    sop: FrontMatter,
    case: Case,
    calendar: business_time.Calendar,
    now: datetime,
    *,
    version: int = 1,
    customer: Customer | None = None,
    policy: ClockPolicy = DEFAULT_POLICY,
    messages: tuple[Message, ...] = (),
) -> RunPlan:
    """Start `sop` (pinned at `version`) on `case` at `now`.

    `messages`: the case's messages so far, for a new case that arrives with its first.
    Deciding once with them decides what starting and then adding them with
    `add_message` decides, for a case that is not waiting (a property test holds the
    two equal), at the cost of one `decide` instead of two.
    """
    state = CaseState(
        case=case,
        run=Run(sop, version, now),
        customer=customer,
        steps=tuple(StepState(step.id) for step in sop.steps),
        messages=messages,
    )
    decisions = decide(state, sop, calendar, now, policy)
    state = record(state, decisions, now)
    return RunPlan(state, tuple(decisions), sop, calendar, now, policy)


def plan_steps(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> tuple[PlannedStep, ...]:
    inputs = TargetInputs(state, sop, calendar, policy, case_context(state, policy))
    return _plan(inputs, now)[0]


@dataclass(frozen=True)
class Projection:
    """What the shell stores with every state: the planned steps (`plan_steps`) and the
    earliest due instant of the open clocks (`next_due_at`)."""

    steps: tuple[PlannedStep, ...]
    next_due_at: datetime | None


def project(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> Projection:
    """`plan_steps` and `next_due_at` together, each step's clock built and read once
    for both (a save asks for both, on every timer that changes a case)."""
    inputs = TargetInputs(state, sop, calendar, policy, case_context(state, policy))
    steps, step_dues = _plan(inputs, now)
    metric_dues = (target.clock.due_at(now) for target in metric_targets(inputs) if target.open)
    dues = [due for due in (*step_dues, *metric_dues) if due is not None]
    return Projection(steps, min(dues, default=None))


def _plan(
    inputs: TargetInputs, now: datetime
) -> tuple[tuple[PlannedStep, ...], list[datetime | None]]:
    """The planned steps, and the due instants of the open step clocks among them."""
    state = inputs.state
    planned: list[PlannedStep] = []
    open_dues: list[datetime | None] = []
    for step in inputs.sop.steps:
        applies = step_applies(step, inputs.context)
        limit = step_limit(step)
        target = limited_step_target(inputs, step, limit) if applies and limit is not None else None
        waiting = limit.anchor if limit is not None and applies and target is None else None
        due = target.clock.due_at(now) if target else None
        if target is not None and target.open:
            open_dues.append(due)
        planned.append(
            PlannedStep(
                step_id=step.id,
                title=step.title,
                owner=step.owner,
                critical=step.critical,
                status=state.step(step.id).status,
                applies=applies,
                due_at=due,
                waiting_for=waiting,
                send=step.send,
            )
        )
    return tuple(planned), open_dues
