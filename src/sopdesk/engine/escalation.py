"""The escalation matrix: which levels apply to a target, when each fires, what it does.

A level without `metric` applies to every step and every SLA metric; `metric: steps` to
every step; `metric: sla` to every metric; otherwise it names one step or metric. A
share (`75%`) is a warning and fires only before the breach; `breach` fires at the due
instant; `2 business hours after breach` that long after it. Each level fires once per
(case, target, level): what the state has recorded is never decided again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.engine.decisions import Escalate, RecordBreach
from sopdesk.engine.phrases import read_escalation_point
from sopdesk.engine.state import CaseState, raises_priority
from sopdesk.engine.targets import Target
from sopdesk.sop.model import EscalationLevel, FrontMatter
from sopdesk.sop.timephrase import EscalationPoint

ALL_STEPS = "steps"
ALL_METRICS = "sla"


@dataclass(frozen=True)
class Level:
    number: int
    row: EscalationLevel
    point: EscalationPoint

    @property
    def warning(self) -> bool:
        return self.point.percent is not None


def levels(sop: FrontMatter) -> list[Level]:
    """The matrix rows, numbered by `level` or by their position (1-based)."""
    return [
        Level(row.level or index, row, read_escalation_point(row.at))
        for index, row in enumerate(sop.escalation, start=1)
    ]


def applies_to(level: Level, target: Target) -> bool:
    scope = level.row.metric
    if scope is None:
        return True
    if scope == ALL_STEPS:
        return target.kind == "step"
    if scope == ALL_METRICS:
        return target.kind == "metric"
    return scope == target.name


def fires_at(level: Level, target: Target, due: datetime | None, now: datetime) -> datetime | None:
    """The instant `level` fires for `target`, or None while its clock cannot get there."""
    if level.point.percent is not None:
        return target.clock.share_at(now, level.point.percent)
    if due is None or level.point.after_breach is None:
        return due
    return business_time.add(target.clock.calendar, due, level.point.after_breach)


@dataclass(frozen=True)
class TargetVerdict:
    """What one target needs now, and when it next needs looking at."""

    decisions: tuple[RecordBreach | Escalate, ...]
    wake_at: datetime | None


def judge(
    state: CaseState, case_key: str, target: Target, matrix: list[Level], now: datetime
) -> TargetVerdict:
    """Breach and escalation decisions due by `now` for an open target, and the next wake."""
    due = target.clock.due_at(now)
    found: list[RecordBreach | Escalate] = []
    upcoming: list[datetime] = []
    if due is not None:
        if due <= now and not state.breached(target.key):
            found.append(RecordBreach(f"{case_key}:{target.key}:breach", target.key, due))
        elif due > now:
            upcoming.append(due)
    priority = state.case.priority
    for level in (lv for lv in matrix if applies_to(lv, target)):
        if state.fired(target.key, level.number):
            continue
        if level.warning and due is not None and due <= now:
            continue  # a warning comes before the breach or not at all
        at = fires_at(level, target, due, now)
        if at is None:
            continue
        if at > now:
            upcoming.append(at)
            continue
        raised = level.row.priority if raises_priority(priority, level.row.priority) else None
        priority = raised or priority
        found.append(_escalate(case_key, target, level, due or at, raised))
    return TargetVerdict(tuple(found), min(upcoming, default=None))


def _escalate(
    case_key: str, target: Target, level: Level, due: datetime, priority: str | None
) -> Escalate:
    row = level.row
    return Escalate(
        key=f"{case_key}:{target.key}:level-{level.number}",
        target=target.key,
        level=level.number,
        warning=level.warning,
        due_at=due,
        notify=tuple(row.notify),
        assign=row.assign,
        priority=priority,
        respond_within=row.respond_within,
        note=row.note,
    )
