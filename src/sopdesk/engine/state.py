"""Case state as plain, frozen data: what the engine reads to decide.

Owns the shapes of a case, its messages, its SOP run, step states, recorded events,
status history, and what has already been decided (fired escalations, breaches,
scheduled follow-ups, queued sends, timers). The shell loads these from storage; the
engine never mutates them, it returns new values. Must not import storage or I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from sopdesk.sop.model import FrontMatter


class CaseStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


FINISHED_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
"""Statuses in which a case is done; leaving them is a reopen."""

PRIORITY_ORDER = ("low", "normal", "high", "urgent")


class MessageKind(StrEnum):
    INBOUND = "inbound"  # from the customer
    PUBLIC = "public"  # outbound, seen by the customer
    NOTE = "note"  # internal, never seen by the customer


class StepStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    OVERRIDDEN = "overridden"


class FollowupStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Customer:
    """The person a case or sequence is for; `attributes` fill `customer.*` in conditions."""

    id: str
    created_at: datetime
    tier: str = "standard"
    tags: tuple[str, ...] = ()
    purchases: int = 0
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    opened_at: datetime
    type: str | None = None
    channel: str = "email"
    status: CaseStatus = CaseStatus.NEW
    priority: str = "normal"
    subject: str = ""
    assignee: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    resolved_at: datetime | None = None
    reopened: int = 0


@dataclass(frozen=True)
class Message:
    """One message on the case. `automated` marks sopdesk's own sends (acks, follow-ups)."""

    id: str
    kind: MessageKind
    at: datetime
    automated: bool = False
    author: str | None = None


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    status: CaseStatus
    by: str | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """A named fact recorded on the case, e.g. `item_received` at an instant."""

    name: str
    at: datetime
    by: str | None = None


@dataclass(frozen=True)
class StepState:
    step_id: str
    status: StepStatus = StepStatus.PENDING
    completed_at: datetime | None = None
    by: str | None = None
    reason: str | None = None

    @property
    def settled(self) -> bool:
        return self.status is not StepStatus.PENDING


@dataclass(frozen=True)
class Run:
    """The SOP run of a case, pinned to the SOP version it started on."""

    sop: FrontMatter
    version: int
    started_at: datetime

    @property
    def sop_id(self) -> str:
        return self.sop.id


@dataclass(frozen=True)
class FiredEscalation:
    """A warning or escalation level that has fired for one target (step or metric)."""

    target: str
    level: int
    at: datetime
    warning: bool = False


@dataclass(frozen=True)
class RecordedBreach:
    """A target that ran past its allowance; kept even if a re-timing moves the due later."""

    target: str
    due_at: datetime
    at: datetime


@dataclass(frozen=True)
class ScheduledFollowup:
    key: str
    followup_id: str
    template: str
    channel: str
    send_at: datetime
    status: FollowupStatus = FollowupStatus.SCHEDULED
    reason: str | None = None


@dataclass(frozen=True)
class Timer:
    key: str
    at: datetime
    target: str


@dataclass(frozen=True)
class LogEntry:
    """One line of the case's records: who did what, when, and why."""

    at: datetime
    what: str
    subject: str
    by: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CaseState:
    """Everything the engine needs about one case and its SOP run."""

    case: Case
    run: Run
    customer: Customer | None = None
    messages: tuple[Message, ...] = ()
    steps: tuple[StepState, ...] = ()
    events: tuple[RecordedEvent, ...] = ()
    status_history: tuple[StatusChange, ...] = ()
    escalations: tuple[FiredEscalation, ...] = ()
    breaches: tuple[RecordedBreach, ...] = ()
    followups: tuple[ScheduledFollowup, ...] = ()
    timers: tuple[Timer, ...] = ()
    sent: frozenset[str] = frozenset()
    log: tuple[LogEntry, ...] = ()

    def step(self, step_id: str) -> StepState:
        """The state of a step; a step the run has not seen yet is pending."""
        found = self._steps_by_id.get(step_id)
        return StepState(step_id) if found is None else found

    @cached_property
    def _steps_by_id(self) -> dict[str, StepState]:
        """`steps` by id, the first of an id winning (the engine asks for steps by id
        many times per decision; the state never changes, so neither does this)."""
        index: dict[str, StepState] = {}
        for step in self.steps:
            index.setdefault(step.step_id, step)
        return index

    def fired(self, target: str, level: int) -> bool:
        return any(e.target == target and e.level == level for e in self.escalations)

    def breached(self, target: str) -> bool:
        return any(b.target == target for b in self.breaches)

    def followup(self, key: str) -> ScheduledFollowup | None:
        return find_followup(self.followups, key)


def find_followup(followups: tuple[ScheduledFollowup, ...], key: str) -> ScheduledFollowup | None:
    return next((f for f in followups if f.key == key), None)


def with_step(state: CaseState, settled: StepState) -> CaseState:
    """`state` with one step's state replaced in place (or appended if new)."""
    return replace(state, steps=put_step(state.steps, settled))


def put_step(steps: tuple[StepState, ...], settled: StepState) -> tuple[StepState, ...]:
    """`steps` with `settled` in place of the step's state, or appended if it is new."""
    if all(s.step_id != settled.step_id for s in steps):
        return (*steps, settled)
    return tuple(settled if s.step_id == settled.step_id else s for s in steps)


def status_timeline(state: CaseState) -> list[tuple[datetime, CaseStatus]]:
    """(instant, status) pairs from the opening on; a case starts `new`."""
    changes = sorted(state.status_history, key=lambda change: change.at)
    timeline = [(state.case.opened_at, CaseStatus.NEW)]
    timeline.extend((change.at, change.status) for change in changes)
    return timeline


def resolutions(state: CaseState) -> list[datetime]:
    """Instants at which the case entered a finished status from an unfinished one."""
    instants: list[datetime] = []
    previous = CaseStatus.NEW
    for at, status in status_timeline(state):
        if status in FINISHED_STATUSES and previous not in FINISHED_STATUSES:
            instants.append(at)
        previous = status
    return instants


def reopenings(state: CaseState) -> list[datetime]:
    """Instants at which the case left a finished status."""
    instants: list[datetime] = []
    previous = CaseStatus.NEW
    for at, status in status_timeline(state):
        if previous in FINISHED_STATUSES and status not in FINISHED_STATUSES:
            instants.append(at)
        previous = status
    return instants


def closings(state: CaseState) -> list[datetime]:
    instants: list[datetime] = []
    previous = CaseStatus.NEW
    for at, status in status_timeline(state):
        if status is CaseStatus.CLOSED and previous is not CaseStatus.CLOSED:
            instants.append(at)
        previous = status
    return instants


def is_finished(state: CaseState) -> bool:
    return state.case.status in FINISHED_STATUSES


def raises_priority(current: str, wanted: str | None) -> bool:
    """True when `wanted` is strictly higher than `current`."""
    if wanted is None or wanted not in PRIORITY_ORDER:
        return False
    rank = PRIORITY_ORDER.index(current) if current in PRIORITY_ORDER else 0
    return PRIORITY_ORDER.index(wanted) > rank
