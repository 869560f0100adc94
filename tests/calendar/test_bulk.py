"""The vectorised path gives the scalar answers, bit for bit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.calendar import Calendar, CalendarError, Duration, Unit, add, elapsed, is_open
from sopdesk.calendar.bulk import add_many, elapsed_many, is_open_many
from sopdesk.calendar.deadlines import to_us
from sopdesk.calendar.timeline import BucketSearch
from sopdesk.errors import InvalidInput
from tests.calendar.strategies import calendars

US = Calendar.from_config(
    "us", {"timezone": "America/New_York", "hours": "mon-fri 09:00-17:00", "holidays": "US"}
)
FIRST = int(dt.datetime(2023, 10, 1, tzinfo=dt.UTC).timestamp())
LAST = int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())
seconds = st.integers(FIRST, LAST)
snapped = seconds.map(lambda s: s - s % 1800)  # often exactly on slot edges


def _scalar(calendar: Calendar, starts: np.ndarray, amounts: np.ndarray, unit, business):
    return np.array(
        [
            to_us(add(calendar, _utc(int(s)), Duration(int(a), unit, business)))
            for s, a in zip(starts, amounts, strict=True)
        ],
        dtype=np.int64,
    )


def _utc(second: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(second, dt.UTC)


@settings(max_examples=80, deadline=None)
@given(
    calendar=calendars() | st.just(US),
    starts=st.lists(seconds | snapped, min_size=1, max_size=40),
    amounts=st.lists(st.integers(0, 2500), min_size=1, max_size=40),
    unit=st.sampled_from(list(Unit)),
    business=st.booleans(),
)
def test_add_many_matches_scalar(calendar, starts, amounts, unit, business):
    size = min(len(starts), len(amounts))
    start_array = np.array(starts[:size], dtype=np.int64)
    limit = 60 if unit in (Unit.DAY, Unit.WEEK) else 2500
    amount_array = np.array(amounts[:size], dtype=np.int64) % (limit + 1)
    expected = _scalar(calendar, start_array, amount_array, unit, business)
    as_datetime64 = add_many(
        calendar, start_array.astype("datetime64[s]"), amount_array, unit, business
    )
    assert as_datetime64.dtype == np.dtype("datetime64[us]")
    assert np.array_equal(as_datetime64.astype(np.int64), expected)
    as_seconds = add_many(calendar, start_array, amount_array, unit, business)
    assert as_seconds.dtype == np.int64
    assert np.array_equal(as_seconds, expected // 1_000_000)


@settings(max_examples=60, deadline=None)
@given(
    calendar=calendars() | st.just(US),
    starts=st.lists(seconds | snapped, min_size=1, max_size=30),
    spans=st.lists(st.integers(-200_000, 2_000_000), min_size=1, max_size=30),
)
def test_elapsed_and_is_open_many_match_scalar(calendar, starts, spans):
    size = min(len(starts), len(spans))
    first = np.array(starts[:size], dtype=np.int64)
    last = first + np.array(spans[:size], dtype=np.int64)
    expected = [
        elapsed(calendar, _utc(int(a)), _utc(int(b))) for a, b in zip(first, last, strict=True)
    ]
    assert elapsed_many(calendar, first, last).tolist() == expected
    assert is_open_many(calendar, last).tolist() == [is_open(calendar, _utc(int(b))) for b in last]


def test_microseconds_survive_the_bulk_path():
    start = np.array(["2024-03-08T14:00:00.250000"], dtype="datetime64[us]")  # 09:00:00.25 EST
    result = add_many(US, start, Duration(90, Unit.MINUTE, business=True))
    assert result[0] == np.datetime64("2024-03-08T15:30:00.250000")


def test_one_duration_for_all_and_multi_year_growth():
    starts = np.array(["2024-01-02T14:00", "2024-12-24T21:00"], dtype="datetime64[s]")
    long = Duration(10_000, Unit.HOUR, business=True)
    result = add_many(US, starts, long).astype(np.int64)
    expected = [to_us(add(US, _utc(int(s)), long)) for s in starts.astype(np.int64)]
    assert result.tolist() == expected
    assert result.min() > to_us(dt.datetime(2028, 1, 1, tzinfo=dt.UTC))


def test_bulk_edge_inputs():
    assert add_many(US, np.array([], dtype=np.int64), 5).size == 0
    with pytest.raises(InvalidInput, match="NaT"):
        add_many(US, np.array(["NaT"], dtype="datetime64[s]"), 5)
    with pytest.raises(InvalidInput, match="epoch seconds or datetime64"):
        add_many(US, np.array([1.5]), 5)
    with pytest.raises(InvalidInput, match="negative"):
        add_many(US, np.array([FIRST]), -1)
    never = Calendar.from_config("never", {"hours": "closed"})
    with pytest.raises(CalendarError, match="no opening hours"):
        add_many(never, np.array([FIRST]), 5)
    assert elapsed_many(never, np.array([FIRST]), np.array([LAST])).tolist() == [0]


@pytest.mark.parametrize(
    ("tz", "transition"),
    [
        ("America/New_York", "2024-03-10T07:00"),
        ("America/New_York", "2024-11-03T06:00"),
        ("Europe/London", "2024-03-31T01:00"),
        ("Europe/London", "2024-10-27T01:00"),
        ("Australia/Lord_Howe", "2024-04-06T15:00"),
        ("Australia/Lord_Howe", "2024-10-05T15:30"),
    ],
)
def test_every_quarter_hour_around_dst_changes(tz, transition):
    """Dense starts the day before a change, so that +1 day lands in the gap or overlap."""
    calendar = Calendar.from_config(
        "c", {"timezone": tz, "hours": "mon-sun 00:00-03:00,08:00-17:00"}
    )
    centre = np.datetime64(transition, "s").astype(np.int64)
    starts = centre + np.arange(-36 * 3600, 12 * 3600, 900, dtype=np.int64)
    for duration in (
        Duration(1, Unit.DAY),
        Duration(1, Unit.WEEK),
        Duration(90, Unit.MINUTE, business=True),
        Duration(1, Unit.DAY, business=True),
    ):
        amounts = np.full(starts.shape, duration.amount)
        expected = _scalar(calendar, starts, amounts, duration.unit, duration.business)
        assert np.array_equal(add_many(calendar, starts, duration) * 1_000_000, expected)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=60),
    queries=st.lists(st.integers(-2 * 10**12, 2 * 10**12), min_size=1, max_size=60),
    right=st.booleans(),
)
def test_bucket_search_equals_searchsorted(values, queries, right):
    sorted_values = np.array(sorted(values), dtype=np.int64)
    x = np.array(queries + values, dtype=np.int64)
    side = "right" if right else "left"
    expected = np.searchsorted(sorted_values, x, side=side)
    assert np.array_equal(BucketSearch.build(sorted_values, right).search(x), expected)
