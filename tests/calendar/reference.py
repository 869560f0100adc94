"""A slow, obviously-right reference: walks time minute by minute.

An instant is open when some slot of its local date (or of the day before, for an
overnight slot) contains it, each slot edge being the wall-clock time read with
zoneinfo (fold=0). It shares no code with the timeline, only `Calendar.slots_on`.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sopdesk.calendar import Calendar

MINUTE = dt.timedelta(minutes=1)
UTC = dt.UTC


def _edge(calendar: Calendar, day: dt.date, minute: int) -> dt.datetime:
    wall = dt.datetime.combine(day, dt.time(), tzinfo=calendar.zone) + dt.timedelta(minutes=minute)
    # `+ timedelta` on an aware datetime is wall-clock arithmetic; rebuild with fold=0
    wall = wall.replace(fold=0)
    return wall.astimezone(UTC)


@lru_cache(maxsize=100_000)
def _intervals(calendar: Calendar, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    return tuple(
        (_edge(calendar, day, start), _edge(calendar, day, end))
        for start, end in calendar.slots_on(day)
    )


def ref_is_open(calendar: Calendar, instant: dt.datetime) -> bool:
    local_day = instant.astimezone(calendar.zone).date()
    for day in (local_day - dt.timedelta(days=2), local_day - dt.timedelta(days=1), local_day):
        for opened, closed in _intervals(calendar, day):
            if opened <= instant < closed:
                return True
    return False


def ref_add_minutes(calendar: Calendar, start: dt.datetime, minutes: int) -> dt.datetime:
    """`start` must be on a whole minute. Counts open minutes; stops right after the last."""
    instant = start.astimezone(UTC)
    if minutes == 0:
        while not ref_is_open(calendar, instant):
            instant += MINUTE
        return instant
    counted = 0
    while counted < minutes:
        if ref_is_open(calendar, instant):
            counted += 1
        instant += MINUTE
    return instant


def ref_elapsed(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> int:
    instant, counted = start.astimezone(UTC), 0
    end = end.astimezone(UTC)
    while instant < end:
        counted += ref_is_open(calendar, instant)
        instant += MINUTE
    return counted


def _day_intervals(calendar: Calendar, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(a, b) for a, b in _intervals(calendar, day) if b > a]


def ref_add_business_days(calendar: Calendar, start: dt.datetime, days: int) -> dt.datetime:
    """Walk dates: roll to the next opening, measure how much of that business day is used,
    then take as much of the `days`-th following business day (or its close)."""
    rolled = ref_add_minutes(calendar, start, 0)
    local_day = rolled.astimezone(calendar.zone).date()
    day = next(
        d
        for d in (local_day - dt.timedelta(days=2), local_day - dt.timedelta(days=1), local_day)
        if any(a <= rolled < b for a, b in _day_intervals(calendar, d))
    )
    used = sum(
        (min(b, rolled) - a for a, b in _day_intervals(calendar, day) if a < rolled),
        dt.timedelta(),
    )
    business_days = []
    candidate = day
    while len(business_days) < days:
        candidate += dt.timedelta(days=1)
        if _day_intervals(calendar, candidate):
            business_days.append(candidate)
    if not used:
        previous = business_days[-2] if days > 1 else day
        return _day_intervals(calendar, previous)[-1][1]
    for opened, closed in _day_intervals(calendar, business_days[-1]):
        if used <= closed - opened:
            return opened + used
        used -= closed - opened
    return _day_intervals(calendar, business_days[-1])[-1][1]
