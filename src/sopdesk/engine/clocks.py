"""Step and metric clocks, rebuilt from the status history every time (never stored).

A clock counts from its start until it is stopped (the step settled, the reply sent),
only while the case is in a counting status (see `engine.policy`). This module turns the
case's status timeline into the counting intervals and those into start/pause/resume
events for `sopdesk.calendar.clock.Clock`, which owns all business-time arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sopdesk import calendar as business_time
from sopdesk.calendar.clock import Clock, ClockEvent, ClockEventKind, ClockReading
from sopdesk.calendar.durations import Duration
from sopdesk.engine.state import CaseStatus

Interval = tuple[datetime, datetime | None]
"""A counting stretch; an end of None means it is still counting."""


def counting_intervals(
    timeline: list[tuple[datetime, CaseStatus]],
    start: datetime,
    stop: datetime | None,
    halted: frozenset[CaseStatus],
) -> list[Interval]:
    """The stretches of [start, stop) during which the status was not in `halted`."""
    intervals: list[Interval] = []
    for index, (changed_at, status) in enumerate(timeline):
        end = timeline[index + 1][0] if index + 1 < len(timeline) else None
        if status in halted:
            continue
        begin = max(changed_at, start)
        if stop is not None:
            end = stop if end is None else min(end, stop)
        if end is not None and end <= begin:
            continue
        if intervals and intervals[-1][1] == begin:
            begin = intervals.pop()[0]
        intervals.append((begin, end))
    return intervals


def clock_events(start: datetime, intervals: tuple[Interval, ...]) -> list[ClockEvent]:
    """Start at `start`, then pause and resume so that the clock runs exactly `intervals`."""
    events = [ClockEvent(ClockEventKind.START, start)]
    running, position = True, start
    for begin, end in intervals:
        if running and begin > position:
            events.append(ClockEvent(ClockEventKind.PAUSE, position))
            running = False
        if not running:
            events.append(ClockEvent(ClockEventKind.RESUME, begin))
            running = True
        if end is None:
            return events
        events.append(ClockEvent(ClockEventKind.PAUSE, end))
        running, position = False, end
    if running:
        events.append(ClockEvent(ClockEventKind.PAUSE, start))
    return events


@dataclass(frozen=True)
class PausableClock:
    """An allowance from `start`, counting only during `intervals`."""

    calendar: business_time.Calendar
    start: datetime
    allowance: Duration
    intervals: tuple[Interval, ...]

    def _clock(self) -> Clock:
        return Clock.from_events(
            self.calendar, self.allowance, clock_events(self.start, self.intervals)
        )

    def reading(self, now: datetime) -> ClockReading | None:
        """Time used and left at `now` (None before the clock starts)."""
        return self._clock().reading(now) if now >= self.start else None

    def due_at(self, now: datetime) -> datetime | None:
        """The breach instant, or None while the clock is halted short of it."""
        return self.share_at(now, 100)

    def share_at(self, now: datetime, percent: int) -> datetime | None:
        """When `percent`% of the allowance is used, or None while halted short of it."""
        if now < self.start:
            return None
        return self._clock().instant_at_share(now, percent)
