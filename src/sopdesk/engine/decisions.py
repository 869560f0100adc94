"""Decisions: the values the engine returns and the shell carries out.

Every decision that causes an effect carries a stable `key`, so applying it twice is
harmless (the outbox, the timer table and the escalation log are unique on it). The
engine never repeats a decision already recorded in the case state (`engine.record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ScheduleTimer:
    """Wake the worker at `at` and call `decide` again; replaces a timer with the same key."""

    key: str
    at: datetime
    target: str


@dataclass(frozen=True)
class CancelTimer:
    key: str
    target: str


@dataclass(frozen=True)
class SendTemplate:
    """Queue one customer message from an SOP template; `key` makes the send idempotent."""

    key: str
    template: str
    channel: str
    target: str  # "step:<id>" or "followup:<id>"


@dataclass(frozen=True)
class RecordBreach:
    """A step or metric ran past its allowance at `due_at` (recorded once per target)."""

    key: str
    target: str
    due_at: datetime


@dataclass(frozen=True)
class Escalate:
    """One row of the escalation matrix firing for one target: warn, notify, assign, raise.

    `warning` levels fire before the breach (`at: 75%`); the others at or after it.
    `priority` is set only when it raises the case's priority.
    """

    key: str
    target: str
    level: int
    warning: bool
    due_at: datetime
    notify: tuple[str, ...] = ()
    assign: str | None = None
    priority: str | None = None
    respond_within: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ScheduleFollowup:
    """A follow-up message to send at `send_at` (rescheduling replaces the same key)."""

    key: str
    followup_id: str
    template: str
    channel: str
    send_at: datetime


@dataclass(frozen=True)
class CancelFollowup:
    key: str
    followup_id: str
    reason: str


@dataclass(frozen=True)
class OpenTask:
    """A step of a sequence not tied to a case, for a person to do by `due_at`."""

    key: str
    step_id: str
    title: str
    owner: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class LogStep:
    """A step completed, skipped or overridden: a line for the case's records."""

    key: str
    step_id: str
    what: str  # "completed" | "skipped" | "overridden"
    by: str | None
    reason: str | None
    at: datetime


Decision = (
    ScheduleTimer
    | CancelTimer
    | SendTemplate
    | RecordBreach
    | Escalate
    | ScheduleFollowup
    | CancelFollowup
    | OpenTask
    | LogStep
)
