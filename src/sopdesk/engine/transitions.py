"""Step actions and case changes as pure transitions: old state in, new state + decisions out.

Each transition changes the facts (a step settled, an event or a message recorded, a
status changed), then asks `decide` what follows at that instant (e.g. a step anchored
on the one just completed is now scheduled; a reopen cancels follow-ups), and returns
the state with those decisions recorded. Invalid requests raise `SopdeskError`s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.decide import decide
from sopdesk.engine.decisions import Decision, LogStep
from sopdesk.engine.gate import can_resolve
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.record import record
from sopdesk.engine.state import (
    FINISHED_STATUSES,
    CaseState,
    CaseStatus,
    Message,
    MessageKind,
    RecordedEvent,
    StatusChange,
    StepState,
    StepStatus,
    with_step,
)
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.sop.model import FrontMatter


@dataclass(frozen=True)
class Outcome:
    """The state after the transition (its decisions recorded) and the decisions to apply."""

    state: CaseState
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class World:
    """What every transition needs besides the state: the pinned SOP, time, policy."""

    sop: FrontMatter
    calendar: business_time.Calendar
    now: datetime
    policy: ClockPolicy = DEFAULT_POLICY


def _follow(state: CaseState, world: World, first: tuple[Decision, ...] = ()) -> Outcome:
    decisions = (*first, *decide(state, world.sop, world.calendar, world.now, world.policy))
    return Outcome(record(state, decisions, world.now), decisions)


def _settle(
    state: CaseState,
    world: World,
    step_id: str,
    status: StepStatus,
    by: str | None,
    reason: str | None,
) -> Outcome:
    step = next((s for s in world.sop.steps if s.id == step_id), None)
    if step is None:
        raise NotFound(f"the SOP {world.sop.id!r} has no step {step_id!r}")
    if state.step(step_id).settled:
        raise Conflict(f"step {step_id!r} is already {state.step(step_id).status.value}")
    if status is not StepStatus.DONE:
        if not (reason and reason.strip()):
            raise InvalidInput(f"say why step {step_id!r} is {status.value}")
        if step.critical:
            raise Conflict(
                f"step {step_id!r} is critical and must be done",
                hint="complete it, or ask the SOP owner to change the SOP",
            )
    settled = StepState(step_id, status, world.now, by, reason)
    what = {StepStatus.DONE: "completed"}.get(status, status.value)
    log = LogStep(f"{state.case.id}:step:{step_id}:{what}", step_id, what, by, reason, world.now)
    return _follow(with_step(state, settled), world, (log,))


def complete_step(state: CaseState, world: World, step_id: str, by: str | None) -> Outcome:
    return _settle(state, world, step_id, StepStatus.DONE, by, None)


def skip_step(state: CaseState, world: World, step_id: str, reason: str, by: str | None) -> Outcome:
    """The step does not apply to this case, for `reason`."""
    return _settle(state, world, step_id, StepStatus.SKIPPED, by, reason)


def override_step(
    state: CaseState, world: World, step_id: str, reason: str, by: str | None
) -> Outcome:
    """Let the case resolve without this (non-critical) step, for `reason`."""
    return _settle(state, world, step_id, StepStatus.OVERRIDDEN, by, reason)


def record_event(
    state: CaseState, world: World, name: str, at: datetime | None = None, by: str | None = None
) -> Outcome:
    """Record a declared event (e.g. `item_received`); steps anchored on it get their due."""
    if name not in world.sop.events:
        known = ", ".join(sorted(world.sop.events)) or "none"
        raise InvalidInput(f"{name!r} is not an event of this SOP (declared: {known})")
    event = RecordedEvent(name, at or world.now, by)
    return _follow(replace(state, events=(*state.events, event)), world)


def add_message(state: CaseState, world: World, message: Message) -> Outcome:
    """Add a message; a customer's message wakes a pending, on-hold or resolved case."""
    state = replace(state, messages=(*state.messages, message))
    waking = {CaseStatus.PENDING, CaseStatus.ON_HOLD, CaseStatus.RESOLVED}
    if message.kind is MessageKind.INBOUND and state.case.status in waking:
        state = _with_status(state, CaseStatus.OPEN, message.at, "customer")
    return _follow(state, world)


def change_status(
    state: CaseState, world: World, status: CaseStatus, by: str | None = None
) -> Outcome:
    """Move the case to `status`; resolving goes through the completion gate."""
    current = state.case.status
    if status is current:
        return _follow(state, world)
    if status in FINISHED_STATUSES and current not in FINISHED_STATUSES:
        gate = can_resolve(state, world.sop, world.policy)
        if not gate.allowed:
            raise Conflict(f"case {state.case.id} cannot be resolved: {gate.explain()}")
    return _follow(_with_status(state, status, world.now, by), world)


def resolve(state: CaseState, world: World, by: str | None = None) -> Outcome:
    return change_status(state, world, CaseStatus.RESOLVED, by)


def _with_status(state: CaseState, status: CaseStatus, at: datetime, by: str | None) -> CaseState:
    case = state.case
    reopening = case.status in FINISHED_STATUSES and status not in FINISHED_STATUSES
    case = replace(
        case,
        status=status,
        resolved_at=at if status is CaseStatus.RESOLVED else case.resolved_at,
        reopened=case.reopened + 1 if reopening else case.reopened,
    )
    history = (*state.status_history, StatusChange(at, status, by))
    return replace(state, case=case, status_history=history)
