"""Deadline math on one instant: `add`, `elapsed`, `is_open`, `next_open`, `next_close`.

Conventions (docs/business-time.md):
- Calendar durations are elapsed time: minutes and hours are exact elapsed time; days
  and weeks keep the local wall-clock time (7 days after Sat 10:00 is Sat 10:00, across
  DST too; a wall time that does not exist moves forward by the gap).
- Business minutes and hours count opening time only. A start outside opening hours
  counts from the next opening. A due instant that lands exactly at the end of a slot is
  that close (Friday 17:00), never the next opening. Zero business time from a closed
  instant is the next opening.
- N business days: the same business time-of-day (the opening time used so far that day)
  on the Nth following business day; if that day is shorter, its close. A start outside
  opening hours first rolls to the next opening, so "1 business day" from Saturday is
  Monday's close. N business weeks = N x (weekdays with opening hours) business days.

All instants are timezone-aware; results are in the calendar's timezone. Pure.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right

from sopdesk.calendar.durations import MINUTES_PER, Duration, Unit
from sopdesk.calendar.model import Calendar, CalendarError
from sopdesk.calendar.timeline import (
    EPOCH,
    SEARCH_YEARS,
    US_PER_DAY,
    US_PER_MINUTE,
    US_PER_SECOND,
    Timeline,
    extended,
    require_hours,
    timeline_for,
    year_of,
)
from sopdesk.errors import InvalidInput

_DAY_UNITS = (Unit.DAY, Unit.WEEK)


def to_us(instant: dt.datetime) -> int:
    """Epoch microseconds of an aware datetime."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput(
            f"{instant.isoformat()} has no timezone",
            hint="give instants with a UTC offset, e.g. 2024-03-08T16:30:00-05:00",
        )
    delta = instant - EPOCH
    return delta.days * US_PER_DAY + delta.seconds * US_PER_SECOND + delta.microseconds


def from_us(instant: int, calendar: Calendar) -> dt.datetime:
    """The aware datetime, in the calendar's timezone, of epoch microseconds."""
    seconds, micro = divmod(instant, US_PER_SECOND)
    local = dt.datetime.fromtimestamp(seconds, calendar.zone)
    return local.replace(microsecond=micro) if micro else local


_BUSINESS_SPAN = {Unit.MINUTE: US_PER_MINUTE, Unit.HOUR: 60 * US_PER_MINUTE}
_fromtimestamp = dt.datetime.fromtimestamp
_HOUR, _MINUTE = Unit.HOUR, Unit.MINUTE


def add(calendar: Calendar, start: dt.datetime, duration: Duration) -> dt.datetime:
    """The due instant: `duration` after `start` under the conventions above.

    Business minutes or hours from an aware whole-second start inside the cached table
    (nearly every call) take the path below: `add_business_time_us` in whole seconds,
    with the bucket lookups of `SecondsTable` in place of its two bisects. Its answers
    are the general path's, `fold` included: both build the result with
    `datetime.fromtimestamp` from the same epoch second.
    """
    unit = duration.unit
    if duration.business and (unit is _HOUR or unit is _MINUTE) and duration.amount > 0:
        timeline = calendar.timeline_memo
        table = timeline.seconds if isinstance(timeline, Timeline) else None
        if table is not None:
            try:
                delta = start - table.base
            except TypeError:  # naive, or a tzinfo that gives no offset: the general path explains
                delta = None
            if delta is not None and not delta.microseconds:
                moment = delta.days * 86_400 + delta.seconds
                if 0 <= moment < table.limit:
                    opens, cum_start = table.opens, table.cum_start
                    index = table.open_buckets[moment >> table.open_shift]
                    while opens[index + 1] <= moment:
                        index += 1
                    opened = opens[index]
                    used = moment - opened
                    length = table.closes[index] - opened
                    span = duration.amount * (3_600 if unit is _HOUR else 60)
                    target = cum_start[index] + (used if used < length else length) + span
                    if target <= table.total:
                        cum_end = table.cum_end
                        found = table.end_buckets[target >> table.end_shift]
                        while cum_end[found] < target:
                            found += 1
                        second = table.base_seconds + opens[found] + target - cum_start[found]
                        return _fromtimestamp(second, calendar.zone)
        if start.tzinfo is not None:
            due = _add_business_fast(calendar, start, duration.amount * _BUSINESS_SPAN[unit])
            if due is not None:
                return due
    return from_us(add_us(calendar, to_us(start), duration), calendar)


def _add_business_fast(calendar: Calendar, start: dt.datetime, span: int) -> dt.datetime | None:
    """`add_business_time_us` inlined for an aware start with microseconds (or a table
    that has no whole-second copy) inside the cached table and a due instant inside it
    too; None sends the caller the general way."""
    timeline = calendar.timeline_memo
    try:
        delta = start - EPOCH
    except TypeError:  # a tzinfo that gives no offset: the general path explains
        return None
    moment = delta.days * US_PER_DAY + delta.seconds * US_PER_SECOND + delta.microseconds
    if (
        not isinstance(timeline, Timeline)
        or not timeline.covers_from <= moment < timeline.covers_to
    ):
        return None
    opens, cum_start = timeline.opens, timeline.cum_start
    index = bisect_right(opens, moment) - 1
    opened = opens[index]
    target = cum_start[index] + min(moment - opened, timeline.closes[index] - opened) + span
    found = bisect_left(timeline.cum_end, target)
    if found == len(opens):
        return None
    seconds, micro = divmod(opens[found] + target - cum_start[found], US_PER_SECOND)
    local = _fromtimestamp(seconds, calendar.zone)
    return local.replace(microsecond=micro) if micro else local


def add_us(calendar: Calendar, start: int, duration: Duration) -> int:
    """`add` on epoch microseconds."""
    if not duration.business:
        return add_calendar_time_us(calendar, start, duration)
    require_hours(calendar)
    if duration.amount == 0:
        return _roll_forward(calendar, start)
    if duration.unit in _DAY_UNITS:
        return add_business_days_us(calendar, start, business_days(calendar, duration))
    return add_business_time_us(calendar, start, duration.amount * MINUTES_PER[duration.unit])


def business_days(calendar: Calendar, duration: Duration) -> int:
    """Business days in a business-day or business-week duration."""
    if duration.unit is Unit.DAY:
        return duration.amount
    if calendar.open_weekdays == 0:
        raise CalendarError(
            f"calendar {calendar.name!r} has no weekly hours, so a business week has no length",
            hint="write the limit in business days",
        )
    return duration.amount * calendar.open_weekdays


def add_calendar_time_us(calendar: Calendar, start: int, duration: Duration) -> int:
    if duration.unit not in _DAY_UNITS:
        return start + duration.amount * MINUTES_PER[duration.unit] * US_PER_MINUTE
    days = duration.amount * (7 if duration.unit is Unit.WEEK else 1)
    wall = from_us(start, calendar).replace(tzinfo=None, fold=0) + dt.timedelta(days=days)
    return to_us(wall.replace(tzinfo=calendar.zone))


def add_business_time_us(calendar: Calendar, start: int, minutes: int) -> int:
    """`minutes` (> 0) of opening time after `start`; exactly at a close stays there."""
    return advance_us(calendar, start, minutes * US_PER_MINUTE)


def advance_us(calendar: Calendar, start: int, micros: int) -> int:
    """The instant when `micros` (>= 0) of opening time have passed since `start`; never
    before `start`, and a close rather than the following opening."""
    timeline = timeline_for(calendar, start)
    target = timeline.position(start) + micros
    return max(start, _instant_at(timeline, start, target, at_close=True))


def _roll_forward(calendar: Calendar, start: int) -> int:
    timeline = timeline_for(calendar, start)
    return _instant_at(timeline, start, timeline.position(start), at_close=False)


def _instant_at(timeline: Timeline, start: int, target: int, *, at_close: bool) -> int:
    """The instant at business position `target`; `at_close` picks a close over an opening."""
    find = bisect_left if at_close else bisect_right
    while True:
        index = find(timeline.cum_end, target)
        if index < len(timeline.cum_end):
            return timeline.opens[index] + target - timeline.cum_start[index]
        timeline = grow(timeline, start, target - timeline.total)


def add_business_days_us(calendar: Calendar, start: int, days: int) -> int:
    """Same business time-of-day on the `days`-th following business day (see module doc)."""
    timeline = timeline_for(calendar, start)
    position = timeline.position(start)
    while True:
        day_start, day_end = timeline.day_start, timeline.day_end
        day = bisect_right(day_start, position) - 1
        if day_end and position < day_end[-1] and day + days < len(day_start):
            break
        timeline = grow(timeline, start, days * US_PER_DAY)
    into_day = position - day_start[day]
    target_day = day + days
    target = day_start[target_day] + min(into_day, day_end[target_day] - day_start[target_day])
    return _instant_at(timeline, start, target, at_close=True)


def grow(timeline: Timeline, start: int, missing: int) -> Timeline:
    """A longer table, or a clear error if the calendar stops opening for `SEARCH_YEARS`."""
    years = timeline.last_year - timeline.first_year + 1
    per_year = max(timeline.total // years, 1)
    grown = extended(timeline, min(missing // per_year + 1, 1000))
    last_open = max(timeline.closes[-1], start)
    if grown.total == timeline.total and grown.last_year - year_of(last_open) >= SEARCH_YEARS:
        raise CalendarError(
            f"calendar {timeline.calendar.name!r} has no opening hours after "
            f"{from_us(last_open, timeline.calendar).isoformat()} "
            f"(searched {SEARCH_YEARS} years ahead)",
            hint="check its hours, closures and dated openings",
        )
    return grown


def elapsed(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> int:
    """Whole business minutes from `start` to `end` (negative if `end` is earlier)."""
    micros = elapsed_us(calendar, to_us(start), to_us(end))
    return micros // US_PER_MINUTE if micros >= 0 else -(-micros // US_PER_MINUTE)


def elapsed_duration(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> Duration:
    """`elapsed` as a business-minutes Duration (`end` must not be before `start`)."""
    return Duration(elapsed(calendar, start, end), Unit.MINUTE, business=True)


def business_time(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Exact opening time between two instants, to the microsecond."""
    return dt.timedelta(microseconds=elapsed_us(calendar, to_us(start), to_us(end)))


def elapsed_us(calendar: Calendar, start: int, end: int) -> int:
    if not calendar.has_hours:
        return 0
    timeline = timeline_for(calendar, min(start, end), max(start, end))
    return timeline.position(end) - timeline.position(start)


def is_open(calendar: Calendar, instant: dt.datetime) -> bool:
    """Whether `instant` is inside an opening slot (a slot's close is not inside it)."""
    if not calendar.has_hours:
        return False
    moment = to_us(instant)
    timeline = timeline_for(calendar, moment)
    index = bisect_right(timeline.opens, moment) - 1
    return moment < timeline.closes[index]


def next_open(calendar: Calendar, instant: dt.datetime) -> dt.datetime:
    """The earliest open instant at or after `instant` (`instant` itself when open)."""
    require_hours(calendar)
    moment = to_us(instant)
    return from_us(_roll_forward(calendar, moment), calendar)


def next_close(calendar: Calendar, instant: dt.datetime) -> dt.datetime | None:
    """The end of the opening period that is under way at `instant`, or else of the next one.

    None when the calendar stays open for the next `SEARCH_YEARS` years (24/7, no closures).
    """
    require_hours(calendar)
    moment = to_us(instant)
    timeline = timeline_for(calendar, moment)
    while True:
        index = bisect_right(timeline.opens, moment) - 1
        if moment >= timeline.closes[index]:
            index += 1
        if index < len(timeline.opens) - 1:
            return from_us(timeline.closes[index], calendar)
        searched = timeline.last_year - year_of(moment) >= SEARCH_YEARS
        if searched and index < len(timeline.opens):
            return None
        timeline = grow(timeline, moment, SEARCH_YEARS * 366 * US_PER_DAY)
