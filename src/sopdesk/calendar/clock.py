"""Pausable clocks: elapsed, remaining and breach instant rebuilt from an event list.

A clock is never a stored deadline. It is the allowance plus the list of
start/pause/resume/stop events (the Zendesk and Zammad model), so a status change, a
late event or a calendar change re-times it exactly by rebuilding.

Rules: the first event is `start`; `pause` and `stop` halt the clock, `resume` (or a
new `start`, e.g. on reopen) runs it again, keeping the time already used; repeated
halts or runs are no-ops; events must be in time order; events after `now` are not yet
known and are ignored. A business allowance counts opening time of the calendar; a
calendar allowance counts plain elapsed time while running. An allowance in business
days is fixed, when the clock starts, as the opening time between the start and
`add(start, allowance)`; in calendar days, as the elapsed time to that instant.
The breach instant is when the time used reaches the allowance. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sopdesk.calendar.deadlines import add_us, advance_us, elapsed_us, from_us, to_us
from sopdesk.calendar.durations import Duration
from sopdesk.calendar.model import Calendar
from sopdesk.errors import InvalidInput


class ClockEventKind(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


_RUNS = {ClockEventKind.START, ClockEventKind.RESUME}
_HALTS = {ClockEventKind.PAUSE: ClockState.PAUSED, ClockEventKind.STOP: ClockState.STOPPED}


@dataclass(frozen=True)
class ClockEvent:
    kind: ClockEventKind
    at: dt.datetime


@dataclass(frozen=True)
class ClockReading:
    """A clock at one instant. `remaining` is negative once breached."""

    state: ClockState
    elapsed: dt.timedelta
    remaining: dt.timedelta
    breach_at: dt.datetime | None
    breached: bool

    @property
    def elapsed_minutes(self) -> int:
        return self.elapsed // dt.timedelta(minutes=1)

    @property
    def remaining_minutes(self) -> int:
        """Whole minutes left (rounded towards zero; negative when overdue)."""
        minutes = abs(self.remaining) // dt.timedelta(minutes=1)
        return minutes if self.remaining >= dt.timedelta() else -minutes


@dataclass(frozen=True)
class Clock:
    """An allowance measured on a calendar, run by events. Build with `Clock.from_events`."""

    calendar: Calendar
    allowance: Duration
    events: tuple[ClockEvent, ...]

    @classmethod
    def from_events(
        cls,
        calendar: Calendar,
        allowance: Duration,
        events: Iterable[ClockEvent | tuple[str, dt.datetime]],
    ) -> Clock:
        return cls(calendar, allowance, tuple(_checked_events(events)))

    def reading(self, now: dt.datetime) -> ClockReading:
        """State, time used, time left and breach instant as known at `now`."""
        moment = to_us(now)
        runs, state = self._runs(moment)
        allowance = self._allowance_us()
        used = sum(self._measure(a, moment if b is None else min(b, moment)) for a, b in runs)
        breach = self._instant_using(runs, allowance)
        return ClockReading(
            state=state,
            elapsed=dt.timedelta(microseconds=used),
            remaining=dt.timedelta(microseconds=allowance - used),
            breach_at=None if breach is None else from_us(breach, self.calendar),
            breached=breach is not None and breach <= moment,
        )

    def instant_at_share(self, now: dt.datetime, percent: int) -> dt.datetime | None:
        """When `percent`% of the allowance is used (e.g. 75 for an early escalation);
        None if that is not reached and the clock is not running at `now`."""
        moment = to_us(now)
        runs, _ = self._runs(moment)
        instant = self._instant_using(runs, self._allowance_us() * percent // 100)
        return None if instant is None else from_us(instant, self.calendar)

    def _runs(self, moment: int) -> tuple[list[tuple[int, int | None]], ClockState]:
        """Running periods known at `moment`; the last is open-ended (None) while running."""
        runs: list[tuple[int, int | None]] = []
        state = ClockState.STOPPED
        for event in self.events:
            at = to_us(event.at)
            if at > moment:
                break
            if event.kind in _RUNS and state is not ClockState.RUNNING:
                runs.append((at, None))
                state = ClockState.RUNNING
            elif event.kind in _HALTS and state is ClockState.RUNNING:
                runs[-1] = (runs[-1][0], at)
                state = _HALTS[event.kind]
        if not runs:
            raise InvalidInput("the clock has not started yet at that instant")
        return runs, state

    def _allowance_us(self) -> int:
        start = to_us(self.events[0].at)
        due = add_us(self.calendar, start, self.allowance)
        return self._measure(start, due)

    def _measure(self, start: int, end: int | None) -> int:
        if end is None or end <= start:
            return 0
        if self.allowance.business:
            return elapsed_us(self.calendar, start, end)
        return end - start

    def _instant_using(self, runs: list[tuple[int, int | None]], target: int) -> int | None:
        """The instant at which the time used reaches `target`, if it is known."""
        used = 0
        for start, end in runs:
            part = self._measure(start, end) if end is not None else None
            if part is None or used + part >= target:
                return self._advance(start, target - used)
            used += part
        return None

    def _advance(self, start: int, amount: int) -> int:
        if not self.allowance.business:
            return start + amount
        return advance_us(self.calendar, start, amount)


def _checked_events(events: Iterable[ClockEvent | tuple[str, dt.datetime]]) -> list[ClockEvent]:
    checked: list[ClockEvent] = []
    for item in events:
        event = item if isinstance(item, ClockEvent) else _event_from_pair(item)
        if checked and to_us(event.at) < to_us(checked[-1].at):
            raise InvalidInput(
                f"clock event {event.kind} at {event.at.isoformat()} is earlier than the one "
                "before it",
                hint="list clock events in time order",
            )
        checked.append(event)
    if not checked or checked[0].kind is not ClockEventKind.START:
        raise InvalidInput("a clock's first event must be 'start'")
    return checked


def _event_from_pair(pair: tuple[str, dt.datetime]) -> ClockEvent:
    kind, at = pair
    try:
        return ClockEvent(ClockEventKind(str(kind).lower()), at)
    except ValueError:
        raise InvalidInput(
            f"{kind!r} is not a clock event", hint="use start, pause, resume or stop"
        ) from None
