"""The whole-second fast path of `add` (timeline.SecondsTable) against the general path."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.calendar import Calendar, Duration, Unit, add, deadlines, default_calendar
from sopdesk.calendar.deadlines import add_us, from_us, to_us
from sopdesk.calendar.timeline import US_PER_SECOND, Timeline, build_timeline, timeline_for
from tests.calendar.strategies import END, START, calendars, instants

DST_ZONES = ("America/New_York", "Europe/London", "Australia/Lord_Howe")
# short slots and gaps (several per bucket), and a Saturday night across Sunday's DST change
SHORT_SLOTS = "mon-fri 00:00-01:45,01:50-03:10; sat 22:00-04:00; sun 04:30-06:00,06:05-09:00"


def _calendar(tz: str, hours: str) -> Calendar:
    return Calendar.from_config(f"{tz} {hours}", {"timezone": tz, "hours": hours})


FIXED = [
    Calendar.from_config(
        "us", {"timezone": "America/New_York", "hours": "mon-fri 09:00-17:00", "holidays": "US"}
    ),
    default_calendar("Australia/Lord_Howe"),
    *(_calendar(tz, "24/7") for tz in DST_ZONES),
    *(_calendar(tz, SHORT_SLOTS) for tz in DST_ZONES),
]


def _general(calendar: Calendar, start: dt.datetime, duration: Duration) -> dt.datetime:
    """What `add` answered before the fast path: the general microsecond path."""
    return from_us(add_us(calendar, to_us(start), duration), calendar)


def _assert_same(got: dt.datetime, expected: dt.datetime, calendar: Calendar) -> None:
    assert got == expected
    assert (got.isoformat(), got.fold) == (expected.isoformat(), expected.fold)
    assert got.tzinfo is calendar.zone


@settings(max_examples=400, deadline=None)
@given(
    calendar=st.sampled_from(FIXED) | calendars(),
    start=instants(START, END),
    second=st.integers(0, 59),
    micro=st.sampled_from([0, 0, 0, 1, 999_999]),
    in_zone=st.booleans(),
    amount=st.integers(1, 5000),
    unit=st.sampled_from([Unit.MINUTE, Unit.HOUR]),
)
def test_fast_path_equals_general_path(calendar, start, second, micro, in_zone, amount, unit):
    start = start + dt.timedelta(seconds=second, microseconds=micro)
    if in_zone:
        start = start.astimezone(calendar.zone)
    duration = Duration(amount, unit, business=True)
    _assert_same(add(calendar, start, duration), _general(calendar, start, duration), calendar)


@pytest.mark.parametrize("calendar", FIXED[2:], ids=lambda c: c.name)
def test_every_few_minutes_around_dst_changes_including_fold(calendar):
    """Starts every 7 min 13 s across each 2024 change; results inside a repeated hour
    must come back with fold=1 exactly as `datetime.fromtimestamp` gives them."""
    folds = 0
    for change in _utc_offset_changes(calendar.zone, 2024):
        first = change - dt.timedelta(hours=6)
        for step in range(0, 12 * 3600, 433):
            start = first + dt.timedelta(seconds=step)
            for minutes in (1, 29, 30, 31, 59, 60, 61, 90, 119, 120, 121, 600):
                duration = Duration(minutes, Unit.MINUTE, business=True)
                got = add(calendar, start, duration)
                _assert_same(got, _general(calendar, start, duration), calendar)
                folds += got.fold
    assert folds > 0 if calendar.name.endswith("24/7") else True


def test_fast_path_serves_whole_second_starts(monkeypatch):
    """The common case never reaches the microsecond paths (so the benchmark measures it)."""
    calendar = FIXED[0]
    start = dt.datetime(2024, 3, 8, 21, 30, 5, tzinfo=dt.UTC)
    add(calendar, start, Duration(1, Unit.HOUR, business=True))  # warms the table

    def refuse(*args: object) -> None:
        raise AssertionError("left the fast path")

    monkeypatch.setattr(deadlines, "_add_business_fast", refuse)
    monkeypatch.setattr(deadlines, "add_us", refuse)
    for hours in (1, 8, 24, 120):
        due = add(calendar, start, Duration(hours, Unit.HOUR, business=True))
        assert due.tzinfo is calendar.zone
    assert add(calendar, start.astimezone(calendar.zone), Duration(30, Unit.MINUTE, True))


@settings(max_examples=100, deadline=None)
@given(calendar=st.sampled_from(FIXED) | calendars(), data=st.data())
def test_seconds_table_lookups_equal_the_bisects(calendar, data):
    """The documented bucket lookups of SecondsTable give the microsecond table's bisects."""
    timeline = build_timeline(calendar, 2023, 2026)
    table = timeline.seconds
    assert table is not None
    base = table.base_seconds * US_PER_SECOND
    assert [base + v * US_PER_SECOND for v in table.opens[:-1]] == timeline.opens
    assert [base + v * US_PER_SECOND for v in table.closes] == timeline.closes
    assert [v * US_PER_SECOND for v in table.cum_end] == timeline.cum_end
    edges = [v for v in table.opens[:-1] + table.closes if v < table.limit]
    moments = st.integers(0, table.limit - 1) | st.sampled_from(edges)
    for moment in data.draw(st.lists(moments, min_size=1, max_size=50)):
        index = table.open_buckets[moment >> table.open_shift]
        while table.opens[index + 1] <= moment:
            index += 1
        assert index == bisect_right(timeline.opens, base + moment * US_PER_SECOND) - 1
    targets = st.integers(0, table.total) | st.sampled_from(table.cum_end)
    for target in data.draw(st.lists(targets, min_size=1, max_size=50)):
        found = table.end_buckets[target >> table.end_shift]
        while table.cum_end[found] < target:
            found += 1
        assert found == bisect_left(timeline.cum_end, target * US_PER_SECOND)


def test_grown_tables_keep_the_fast_path_exact():
    calendar = FIXED[0]
    start = dt.datetime(2024, 5, 6, 14, 0, tzinfo=dt.UTC)
    for hours in (1, 2_000, 20_000, 200_000):  # up to ~96 years of business hours
        duration = Duration(hours, Unit.HOUR, business=True)
        _assert_same(add(calendar, start, duration), _general(calendar, start, duration), calendar)
    timeline = timeline_for(calendar, to_us(start))
    assert isinstance(timeline, Timeline) and timeline.seconds is not None


def _utc_offset_changes(zone: dt.tzinfo, year: int) -> list[dt.datetime]:
    """The UTC instants (to the minute) where `zone`'s offset changes during `year`."""
    changes = []
    hour = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    offset = hour.astimezone(zone).utcoffset()
    while hour.year == year:
        later = hour + dt.timedelta(hours=1)
        if later.astimezone(zone).utcoffset() != offset:
            minute = hour
            while minute.astimezone(zone).utcoffset() == offset:
                minute += dt.timedelta(minutes=1)
            changes.append(minute)
            offset = later.astimezone(zone).utcoffset()
        hour = later
    return changes
