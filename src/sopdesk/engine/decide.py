"""`decide`: the one function the worker calls when a timer fires or anything changes.

It rebuilds every clock from the case's history, compares what should have happened by
`now` with what the state has recorded, and returns only what is new: sends of
system-owned steps, breaches, warnings and escalations, follow-ups to schedule, send or
cancel, and the timers to (re)schedule or cancel. Recording its decisions
(`engine.record`) and deciding again at the same instant yields nothing.
"""

from __future__ import annotations

from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.anchors import RESOLUTION_ANCHORS, anchor_instant
from sopdesk.engine.conditions import case_context
from sopdesk.engine.decisions import CancelTimer, Decision, ScheduleTimer, SendTemplate
from sopdesk.engine.escalation import judge, levels
from sopdesk.engine.followups import plan_followups
from sopdesk.engine.policy import DEFAULT_POLICY, ClockPolicy
from sopdesk.engine.record import record
from sopdesk.engine.state import CaseState, is_finished
from sopdesk.engine.targets import TargetInputs, all_targets, step_applies, step_limit
from sopdesk.sop.model import SYSTEM_OWNER, FrontMatter, Step
from sopdesk.sop.timephrase import OPENED


def decide(
    state: CaseState,
    sop: FrontMatter,
    calendar: business_time.Calendar,
    now: datetime,
    policy: ClockPolicy = DEFAULT_POLICY,
) -> list[Decision]:
    """Everything that is due by `now` and not yet recorded, then the timers to keep."""
    sends, state = run_system_steps(state, sop, now, policy)
    context = case_context(state, policy)
    inputs = TargetInputs(state, sop, calendar, policy, context)
    decisions: list[Decision] = list(sends)
    wake: dict[str, tuple[datetime, str]] = {}
    matrix = levels(sop)
    for target in all_targets(inputs):
        if not target.open:
            continue
        verdict = judge(state, state.case.id, target, matrix, now)
        decisions.extend(verdict.decisions)
        if verdict.wake_at is not None:
            wake[f"{state.case.id}:{target.key}"] = (verdict.wake_at, target.key)
    plan = plan_followups(state, sop, calendar, policy, context, now)
    decisions.extend(plan.decisions)
    for key, send_at in plan.wake.items():
        wake[key] = (send_at, key.removeprefix(f"{state.case.id}:"))
    decisions.extend(timer_changes(state, wake))
    return decisions


def quiet_until(state: CaseState) -> datetime | None:
    """How long deciding again is sure to find nothing, once `decide` found nothing.

    Every instant at which a decision can fall due (a breach, a warning or escalation
    level, a follow-up send) is a pending timer of the state, and a halted clock has
    none, so a state on which `decide` found nothing at `now` stays quiet until its
    earliest timer, whatever the instant in between; with no timer, until the case
    changes. The worker uses it to skip deciding again on a case it found quiet.
    """
    return min((timer.at for timer in state.timers), default=None)


def send_key(case_id: str, step_id: str) -> str:
    return f"{case_id}:step:{step_id}:send"


def run_system_steps(
    state: CaseState, sop: FrontMatter, now: datetime, policy: ClockPolicy
) -> tuple[list[SendTemplate], CaseState]:
    """The sends of system-owned steps, and the state that counts them as done.

    Repeats until nothing new is sent, so a chain of system steps (each anchored on the
    one before) runs in one decision.
    """
    sent: list[SendTemplate] = []
    while found := system_sends(state, sop, case_context(state, policy), policy):
        sent += found
        state = record(state, found, now)
    return sent, state


def system_sends(
    state: CaseState, sop: FrontMatter, context: dict, policy: ClockPolicy
) -> list[SendTemplate]:
    """System-owned steps that send a template run as soon as their anchor has happened."""
    sends: list[SendTemplate] = []
    for step in sop.steps:
        if not _runs_by_itself(step) or state.step(step.id).settled:
            continue
        key = send_key(state.case.id, step.id)
        if key in state.sent or not step_applies(step, context):
            continue
        limit = step_limit(step)
        anchor = limit.anchor if limit else OPENED
        if anchor_instant(state, sop, anchor, policy) is None:
            continue
        if is_finished(state) and anchor not in RESOLUTION_ANCHORS:
            continue
        template = sop.templates.get(step.send or "")
        channel = template.channel.value if template else state.case.channel
        sends.append(SendTemplate(key, step.send or "", channel, f"step:{step.id}"))
    return sends


def _runs_by_itself(step: Step) -> bool:
    return step.owner == SYSTEM_OWNER and step.send is not None


def timer_changes(
    state: CaseState, wanted: dict[str, tuple[datetime, str]]
) -> list[ScheduleTimer | CancelTimer]:
    """Timers to add or move so that exactly `wanted` are pending."""
    recorded = {timer.key: timer for timer in state.timers}
    changes: list[ScheduleTimer | CancelTimer] = [
        CancelTimer(key, timer.target) for key, timer in recorded.items() if key not in wanted
    ]
    for key, (at, target) in sorted(wanted.items()):
        if key not in recorded or recorded[key].at != at:
            changes.append(ScheduleTimer(key, at, target))
    return changes
