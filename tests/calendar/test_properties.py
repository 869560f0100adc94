"""Properties of business-time arithmetic, and agreement with the minute-by-minute reference."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.calendar import Calendar, Duration, Unit, add, default_calendar, elapsed, is_open
from sopdesk.calendar.deadlines import next_open
from tests.calendar.reference import (
    ref_add_business_days,
    ref_add_minutes,
    ref_elapsed,
    ref_is_open,
)
from tests.calendar.strategies import END, START, calendars, instants

STANDARD = Calendar.from_config(
    "us", {"timezone": "America/New_York", "hours": "mon-fri 09:00-17:00", "holidays": "US"}
)
SPLIT = Calendar.from_config(
    "split",
    {
        "timezone": "Europe/London",
        "hours": "mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00; sat 22:00-06:00",
        "holidays": "GB-SCT",
    },
)
fixed_calendars = st.sampled_from([STANDARD, SPLIT, default_calendar("Australia/Lord_Howe")])
minute_units = st.sampled_from([Unit.MINUTE, Unit.HOUR])


def _lands_open_or_at_close(calendar: Calendar, due: dt.datetime) -> bool:
    before = due - dt.timedelta(microseconds=1)
    return is_open(calendar, due) or is_open(calendar, before)


@settings(max_examples=300, deadline=None)
@given(
    calendar=fixed_calendars | calendars(),
    start=instants(START, END),
    amount=st.integers(0, 5000),
    unit=minute_units,
)
def test_elapsed_inverts_add(calendar, start, amount, unit):
    due = add(calendar, start, Duration(amount, unit, business=True))
    assert elapsed(calendar, start, due) == amount * (60 if unit is Unit.HOUR else 1)
    assert due >= start
    assert _lands_open_or_at_close(calendar, due)


@settings(max_examples=200, deadline=None)
@given(
    calendar=fixed_calendars | calendars(),
    start=instants(START, END),
    step=st.integers(0, 3000),
    amount=st.integers(0, 3000),
    more=st.integers(0, 3000),
    unit=st.sampled_from(list(Unit)),
)
def test_add_is_monotonic(calendar, start, step, amount, more, unit):
    later = start + dt.timedelta(minutes=step)
    small = Duration(amount % 40 if unit in (Unit.DAY, Unit.WEEK) else amount, unit, True)
    large = Duration(small.amount + more % 40, unit, True)
    assert add(calendar, start, small) <= add(calendar, later, small)
    assert add(calendar, start, small) <= add(calendar, start, large)


@settings(max_examples=200, deadline=None)
@given(
    calendar=fixed_calendars | calendars(),
    start=instants(START, END),
    days=st.integers(1, 30),
)
def test_business_days_land_open_or_at_close(calendar, start, days):
    due = add(calendar, start, Duration(days, Unit.DAY, business=True))
    assert due > start
    assert _lands_open_or_at_close(calendar, due)
    first = next_open(calendar, start)
    assert elapsed(calendar, first, due) > 0


@settings(max_examples=60, deadline=None)
@given(calendar=calendars(), start=instants(START, END), minutes=st.integers(0, 900))
def test_add_agrees_with_minute_by_minute_reference(calendar, start, minutes):
    due = add(calendar, start, Duration(minutes, Unit.MINUTE, business=True))
    assert due == ref_add_minutes(calendar, start, minutes)


@settings(max_examples=60, deadline=None)
@given(calendar=calendars(), start=instants(START, END), span=st.integers(0, 4000))
def test_elapsed_and_is_open_agree_with_reference(calendar, start, span):
    end = start + dt.timedelta(minutes=span)
    assert elapsed(calendar, start, end) == ref_elapsed(calendar, start, end)
    assert is_open(calendar, end) == ref_is_open(calendar, end)
    assert elapsed(calendar, end, start) == -elapsed(calendar, start, end)


@settings(max_examples=60, deadline=None)
@given(calendar=calendars(), start=instants(START, END), days=st.integers(1, 12))
def test_business_days_agree_with_day_walking_reference(calendar, start, days):
    due = add(calendar, start, Duration(days, Unit.DAY, business=True))
    assert due == ref_add_business_days(calendar, start, days)
