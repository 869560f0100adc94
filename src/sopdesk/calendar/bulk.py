"""The vectorised path: `add_many`, `elapsed_many`, `is_open_many` over NumPy arrays.

Same conventions and the same integer table (`timeline`) as the scalar path, with
`searchsorted` in place of `bisect`, so every answer is bit for bit the scalar one (the
tests check it). Starts are int64 epoch seconds or datetime64 of any unit; results come
back in the same kind (seconds, or datetime64[us]). Calendar days and weeks use a table
of the zone's UTC-offset transitions to keep the wall-clock time, as `zoneinfo` does.
Pure.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sopdesk.calendar.deadlines import business_days, grow
from sopdesk.calendar.durations import MINUTES_PER, Duration, Unit
from sopdesk.calendar.model import Calendar
from sopdesk.calendar.model import zone as zone_named
from sopdesk.calendar.timeline import (
    EPOCH,
    US_PER_DAY,
    US_PER_MINUTE,
    US_PER_SECOND,
    Timeline,
    require_hours,
    timeline_for,
    year_of,
)
from sopdesk.errors import InvalidInput

Int64Array = NDArray[np.int64]
_SAMPLE = 6 * 3600 * US_PER_SECOND  # offsets are sampled 4 times a day, transitions bisected


def add_many(
    calendar: Calendar,
    starts: ArrayLike,
    durations: ArrayLike | Duration,
    unit: Unit = Unit.MINUTE,
    business: bool = True,
) -> np.ndarray:
    """`add` for every start. `durations` is one Duration, or amounts in `unit`
    (business or not) broadcast against `starts`."""
    moments, kind = to_micros(starts)
    if isinstance(durations, Duration):
        amounts = np.full(moments.shape, durations.amount, dtype=np.int64)
        unit, business = durations.unit, durations.business
    else:
        amounts = np.broadcast_to(np.asarray(durations, dtype=np.int64), moments.shape)
    if (amounts < 0).any():
        raise InvalidInput("durations cannot be negative")
    results = add_many_us(calendar, moments, amounts, Unit(unit), business)
    return from_micros(results, kind)


def add_many_us(
    calendar: Calendar, starts: Int64Array, amounts: Int64Array, unit: Unit, business: bool
) -> Int64Array:
    if starts.size == 0:
        return starts.copy()
    if not business:
        return _add_calendar_time(calendar, starts, amounts, unit)
    require_hours(calendar)
    if unit in (Unit.DAY, Unit.WEEK):
        days = amounts * business_days(calendar, Duration(1, unit, business=True))
        return _add_business_days(calendar, starts, days)
    return _add_business_time(calendar, starts, amounts * MINUTES_PER[unit] * US_PER_MINUTE)


def elapsed_many(calendar: Calendar, starts: ArrayLike, ends: ArrayLike) -> Int64Array:
    """Whole business minutes from each start to each end (negative when the end is first)."""
    first, _ = to_micros(starts)
    last, _ = to_micros(ends)
    first, last = np.broadcast_arrays(first, last)
    micros = elapsed_many_us(calendar, first, last)
    minutes = np.abs(micros) // US_PER_MINUTE
    return np.where(micros >= 0, minutes, -minutes)


def elapsed_many_us(calendar: Calendar, starts: Int64Array, ends: Int64Array) -> Int64Array:
    if starts.size == 0 or not calendar.has_hours:
        return np.zeros(starts.shape, dtype=np.int64)
    lowest = int(min(starts.min(), ends.min()))
    highest = int(max(starts.max(), ends.max()))
    timeline = timeline_for(calendar, lowest, highest)
    return positions(timeline, ends) - positions(timeline, starts)


def is_open_many(calendar: Calendar, instants: ArrayLike) -> NDArray[np.bool_]:
    moments, _ = to_micros(instants)
    if moments.size == 0 or not calendar.has_hours:
        return np.zeros(moments.shape, dtype=bool)
    timeline = timeline_for(calendar, int(moments.min()), int(moments.max()))
    index = timeline.search("opens", moments, right=True) - 1
    return moments < timeline.arrays["closes"][index]


def positions(timeline: Timeline, moments: Int64Array) -> Int64Array:
    """Business microseconds from the table start to each (covered) instant."""
    arrays = timeline.arrays
    index = timeline.search("opens", moments, right=True) - 1
    opened = arrays["opens"][index]
    length = arrays["closes"][index] - opened
    return arrays["cum_start"][index] + np.minimum(moments - opened, length)


def _add_business_time(calendar: Calendar, starts: Int64Array, spans: Int64Array) -> Int64Array:
    timeline = timeline_for(calendar, int(starts.min()), int(starts.max()))
    targets = positions(timeline, starts) + spans
    return _instants_at(timeline, starts, targets, roll=spans == 0)


def _instants_at(
    timeline: Timeline, starts: Int64Array, targets: Int64Array, roll: NDArray[np.bool_]
) -> Int64Array:
    """Instants at business positions: a close when exactly at one, except where `roll`
    (zero durations), which take the next opening."""
    while True:
        cum_end = timeline.arrays["cum_end"]
        index = timeline.search("cum_end", targets, right=False)
        if roll.any():
            index[roll] = timeline.search("cum_end", targets[roll], right=True)
        beyond = index >= cum_end.size
        if not beyond.any():
            break
        start = int(starts[beyond].min())
        timeline = grow(timeline, start, int(targets.max()) - timeline.total)
    arrays = timeline.arrays
    return arrays["opens"][index] + targets - arrays["cum_start"][index]


def _add_business_days(calendar: Calendar, starts: Int64Array, days: Int64Array) -> Int64Array:
    timeline = timeline_for(calendar, int(starts.min()), int(starts.max()))
    position = positions(timeline, starts)
    while True:
        day_start, day_end = timeline.arrays["day_start"], timeline.arrays["day_end"]
        day = np.searchsorted(day_start, position, side="right") - 1
        if day_end.size and (position < day_end[-1]).all() and (day + days < day_start.size).all():
            break
        timeline = grow(timeline, int(starts.min()), int(days.max()) * US_PER_DAY)
    into_day = position - day_start[day]
    target_day = day + days
    length = day_end[target_day] - day_start[target_day]
    targets = np.where(days == 0, position, day_start[target_day] + np.minimum(into_day, length))
    return _instants_at(timeline, starts, targets, roll=days == 0)


def _add_calendar_time(
    calendar: Calendar, starts: Int64Array, amounts: Int64Array, unit: Unit
) -> Int64Array:
    if unit not in (Unit.DAY, Unit.WEEK):
        return starts + amounts * MINUTES_PER[unit] * US_PER_MINUTE
    days = amounts * (7 if unit is Unit.WEEK else 1)
    first, last = (
        year_of(int(starts.min())) - 1,
        year_of(int(starts.max() + days.max() * US_PER_DAY)) + 1,
    )
    transitions, offsets = offset_table(calendar.tz, first, last)
    before = np.searchsorted(transitions, starts, side="right") - 1
    walls = starts + offsets[before] + days * US_PER_DAY
    # fold=0: a wall time in a gap or an overlap takes the offset in force before it
    earlier = np.concatenate(([offsets[0]], offsets[:-1]))
    switch = transitions + np.maximum(earlier, offsets)
    after = np.searchsorted(switch, walls, side="right") - 1
    return walls - offsets[after]


@lru_cache(maxsize=64)
def offset_table(tz: str, first_year: int, last_year: int) -> tuple[Int64Array, Int64Array]:
    """UTC instants (µs) where the zone's offset changes, and the offset from each on; the
    first row is the offset in force at the start of `first_year`."""
    zone = zone_named(tz)
    moment = _micros(dt.datetime(first_year, 1, 1, tzinfo=dt.UTC))
    end = _micros(dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC))
    transitions, offsets = [np.iinfo(np.int64).min // 2], [_offset(zone, moment)]
    while moment < end:
        following = moment + _SAMPLE
        if _offset(zone, following) != offsets[-1]:
            change = _first_change(zone, moment, following, offsets[-1])
            transitions.append(change)
            offsets.append(_offset(zone, change))
            following = change
        moment = following
    return np.asarray(transitions, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


def _first_change(zone: dt.tzinfo, low: int, high: int, offset: int) -> int:
    """The first second in (low, high] where the offset differs from `offset`."""
    low_s, high_s = low // US_PER_SECOND, high // US_PER_SECOND
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if _offset(zone, middle * US_PER_SECOND) == offset:
            low_s = middle
        else:
            high_s = middle
    return high_s * US_PER_SECOND


def _offset(zone: dt.tzinfo, moment: int) -> int:
    instant = EPOCH + dt.timedelta(microseconds=moment)
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset // dt.timedelta(microseconds=1)


def _micros(instant: dt.datetime) -> int:
    return (instant - EPOCH) // dt.timedelta(microseconds=1)


def to_micros(values: ArrayLike) -> tuple[Int64Array, str]:
    """Epoch microseconds of int epoch seconds or datetime64 values, and which kind it was."""
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        if np.isnat(array).any():
            raise InvalidInput("start and end instants cannot be NaT")
        return array.astype("datetime64[us]").astype(np.int64), "datetime64"
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64) * US_PER_SECOND, "seconds"
    raise InvalidInput(
        f"instants must be int64 epoch seconds or datetime64, not {array.dtype}",
        hint="convert with np.asarray(values, dtype='datetime64[s]')",
    )


def from_micros(values: Int64Array, kind: str) -> np.ndarray:
    if kind == "datetime64":
        return values.astype("datetime64[us]")
    return values // US_PER_SECOND
