"""Targets: every step and SLA metric that runs a clock, with the clock rebuilt from history.

Steps: a step with a `within` limit whose `when` holds and whose anchor has happened.
Metrics (from the SOP's `standards`, Zendesk-like definitions):

- `first_response`: from opening to the first public reply by a person;
- `next_response`: from the OLDEST unanswered customer message after the first reply to
  the next public reply; each such cycle is its own target (`metric:next_response:<msg>`);
- `periodic_update`: from each public reply to the next, while the case is open;
- `resolution`: from opening to resolution; a reopened case counts on from where it was.

A target is *open* while it can still breach: the step is pending, the reply not sent,
the case not finished (steps anchored on `resolved`/`closed` run after the resolution).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.anchors import RESOLUTION_ANCHORS, anchor_instant, replies
from sopdesk.engine.clocks import PausableClock, counting_intervals
from sopdesk.engine.conditions import holds
from sopdesk.engine.phrases import read_limit
from sopdesk.engine.policy import ClockPolicy
from sopdesk.engine.state import (
    CaseState,
    Message,
    MessageKind,
    is_finished,
    resolutions,
    status_timeline,
)
from sopdesk.sop.model import FrontMatter, Step
from sopdesk.sop.timephrase import TimeLimit, TimePhraseError

METRICS = ("first_response", "next_response", "periodic_update", "resolution")


@dataclass(frozen=True)
class Target:
    """A step or metric with its clock. `key` is stable: escalations are recorded on it."""

    key: str
    kind: str  # "step" | "metric"
    name: str  # the step id or the metric name
    clock: PausableClock
    open: bool


@dataclass(frozen=True)
class TargetInputs:
    state: CaseState
    sop: FrontMatter
    calendar: business_time.Calendar
    policy: ClockPolicy
    context: dict


def step_limit(step: Step) -> TimeLimit | None:
    return read_limit(step.within) if step.within else None


def step_applies(step: Step, context: dict) -> bool:
    return holds(step.when, context)


def step_target(inputs: TargetInputs, step: Step) -> Target | None:
    limit = step_limit(step)
    if limit is None or not step_applies(step, inputs.context):
        return None
    return limited_step_target(inputs, step, limit)


def limited_step_target(inputs: TargetInputs, step: Step, limit: TimeLimit) -> Target | None:
    """`step_target` for a step whose condition is known to hold and whose limit is
    `limit`: None while its anchor has not happened."""
    state = inputs.state
    start = anchor_instant(state, inputs.sop, limit.anchor, inputs.policy)
    if start is None:
        return None
    after_resolution = limit.anchor in RESOLUTION_ANCHORS
    halted = inputs.policy.paused if after_resolution else inputs.policy.halted()
    step_state = state.step(step.id)
    stop = step_state.completed_at if step_state.settled else None
    intervals = counting_intervals(status_timeline(state), start, stop, frozenset(halted))
    clock = PausableClock(inputs.calendar, start, limit.duration, tuple(intervals))
    still_open = not step_state.settled and (after_resolution or not is_finished(state))
    return Target(f"step:{step.id}", "step", step.id, clock, still_open)


def metric_limits(sop: FrontMatter) -> dict[str, TimeLimit]:
    """The SLA metrics the SOP's `standards` set, with their allowance."""
    limits: dict[str, TimeLimit] = {}
    for name in METRICS:
        text = sop.standards.get(name)
        if text is None:
            continue
        try:
            limits[name] = read_limit(text)
        except TimePhraseError:
            continue  # the linter reports it; the engine runs what it can
    return limits


def _metric(
    inputs: TargetInputs, key: str, name: str, span: tuple[datetime, datetime | None]
) -> Target:
    limit = metric_limits(inputs.sop)[name]
    start, stop = span
    halted = inputs.policy.halted(name)
    intervals = counting_intervals(status_timeline(inputs.state), start, stop, halted)
    clock = PausableClock(inputs.calendar, start, limit.duration, tuple(intervals))
    return Target(key, "metric", name, clock, stop is None and not is_finished(inputs.state))


def response_cycles(
    state: CaseState, counting: list[Message]
) -> list[tuple[Message, datetime | None]]:
    """(oldest unanswered customer message, answered at) after the first reply."""
    if not counting:
        return []
    first = counting[0].at
    events = sorted(
        [m for m in state.messages if m.kind is MessageKind.INBOUND and m.at > first] + counting,
        key=lambda m: (m.at, m.kind is MessageKind.PUBLIC),
    )
    cycles: list[tuple[Message, datetime | None]] = []
    waiting: Message | None = None
    for message in events:
        if message.kind is MessageKind.INBOUND and waiting is None:
            waiting = message
        elif message.kind is MessageKind.PUBLIC and waiting is not None:
            cycles.append((waiting, message.at))
            waiting = None
    if waiting is not None:
        cycles.append((waiting, None))
    return cycles


def metric_targets(inputs: TargetInputs) -> Iterator[Target]:
    limits = metric_limits(inputs.sop)
    state = inputs.state
    counting = replies(state, inputs.policy)
    opened = state.case.opened_at
    if "first_response" in limits:
        first = counting[0].at if counting else None
        yield _metric(inputs, "metric:first_response", "first_response", (opened, first))
    if "next_response" in limits:
        for message, answered in response_cycles(state, counting):
            key = f"metric:next_response:{message.id}"
            yield _metric(inputs, key, "next_response", (message.at, answered))
    if "periodic_update" in limits:
        for index, reply in enumerate(counting):
            key = f"metric:periodic_update:{reply.id}"
            stop = counting[index + 1].at if index + 1 < len(counting) else None
            yield _metric(inputs, key, "periodic_update", (reply.at, stop))
    if "resolution" in limits:
        finished = resolutions(state)[-1] if is_finished(state) else None
        yield _metric(inputs, "metric:resolution", "resolution", (opened, finished))


def all_targets(inputs: TargetInputs) -> list[Target]:
    """Every step and metric clock of the case, open or not."""
    steps = (step_target(inputs, step) for step in inputs.sop.steps)
    return [t for t in steps if t is not None] + list(metric_targets(inputs))
