"""Pausable clocks rebuilt from events."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.calendar import Calendar, add, elapsed, parse_duration
from sopdesk.calendar.clock import Clock, ClockEvent, ClockEventKind, ClockState
from sopdesk.errors import InvalidInput
from tests.calendar.strategies import END, START, instants

NY = ZoneInfo("America/New_York")
US = Calendar.from_config(
    "us", {"timezone": "America/New_York", "hours": "mon-fri 09:00-17:00", "holidays": "US"}
)


def ny(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=NY)


def clock(allowance: str, *events: tuple[str, dt.datetime]) -> Clock:
    return Clock.from_events(US, parse_duration(allowance), events)


def test_running_clock_matches_add():
    opened = ny(2024, 3, 8, 16, 30)
    reading = clock("8 business hours", ("start", opened)).reading(ny(2024, 3, 11, 10, 0))
    assert reading.state is ClockState.RUNNING
    assert reading.elapsed_minutes == 90
    assert reading.remaining_minutes == 390
    assert reading.breach_at == ny(2024, 3, 11, 16, 30)
    assert not reading.breached


def test_pause_moves_the_breach_by_the_paused_business_time():
    events = (
        ("start", ny(2024, 3, 4, 9, 0)),
        ("pause", ny(2024, 3, 4, 11, 0)),  # waiting on the customer
        ("resume", ny(2024, 3, 5, 14, 0)),
    )
    paused = clock("8 business hours", *events[:2]).reading(ny(2024, 3, 5, 10, 0))
    assert paused.state is ClockState.PAUSED
    assert paused.breach_at is None
    assert paused.elapsed_minutes == 120
    assert paused.remaining_minutes == 360
    resumed = clock("8 business hours", *events).reading(ny(2024, 3, 5, 15, 0))
    assert resumed.state is ClockState.RUNNING
    assert resumed.elapsed_minutes == 180
    assert resumed.breach_at == ny(2024, 3, 6, 12, 0)  # 2h + 3h Tue + 3h Wed


def test_breach_in_the_past_is_kept_after_a_pause():
    events = (("start", ny(2024, 3, 4, 9, 0)), ("pause", ny(2024, 3, 4, 16, 0)))
    reading = clock("4 business hours", *events).reading(ny(2024, 3, 6, 9, 0))
    assert reading.breached
    assert reading.breach_at == ny(2024, 3, 4, 13, 0)
    assert reading.remaining_minutes == -180
    assert reading.remaining == dt.timedelta(hours=-3)


def test_stop_freezes_and_reopen_continues():
    events = [
        ("start", ny(2024, 3, 4, 9, 0)),
        ("stop", ny(2024, 3, 4, 10, 0)),
    ]
    stopped = clock("2 business hours", *events).reading(ny(2024, 3, 8, 9, 0))
    assert stopped.state is ClockState.STOPPED
    assert stopped.breach_at is None and not stopped.breached
    assert stopped.elapsed_minutes == 60
    reopened = clock("2 business hours", *events, ("start", ny(2024, 3, 7, 16, 30)))
    reading = reopened.reading(ny(2024, 3, 7, 16, 45))
    assert reading.state is ClockState.RUNNING
    assert reading.breach_at == ny(2024, 3, 8, 9, 30)


def test_repeated_events_are_no_ops_and_future_events_are_ignored():
    events = (
        ("start", ny(2024, 3, 4, 9, 0)),
        ("pause", ny(2024, 3, 4, 10, 0)),
        ("pause", ny(2024, 3, 4, 11, 0)),
        ("resume", ny(2024, 3, 4, 12, 0)),
        ("resume", ny(2024, 3, 4, 13, 0)),
        ("stop", ny(2024, 3, 4, 15, 0)),
    )
    the_clock = clock("1 business day", *events)
    assert the_clock.reading(ny(2024, 3, 4, 14, 0)).elapsed_minutes == 60 + 120
    assert the_clock.reading(ny(2024, 3, 4, 14, 0)).breach_at == ny(2024, 3, 5, 11, 0)
    assert the_clock.reading(ny(2024, 3, 5, 9, 0)).elapsed_minutes == 60 + 180


def test_calendar_allowance_counts_elapsed_time_while_running():
    events = (
        ("start", ny(2024, 3, 9, 10, 0)),
        ("pause", ny(2024, 3, 9, 11, 0)),
        ("resume", ny(2024, 3, 9, 13, 0)),
    )
    reading = clock("12 hours", *events).reading(ny(2024, 3, 9, 14, 0))
    assert reading.elapsed == dt.timedelta(hours=2)
    assert reading.breach_at == ny(2024, 3, 10, 0, 0)
    day = clock("1 day", events[0]).reading(ny(2024, 3, 9, 12, 0))  # the day DST starts is 23 h
    assert day.breach_at == ny(2024, 3, 10, 10, 0)


def test_share_of_the_allowance_for_escalations():
    the_clock = clock("8 business hours", ("start", ny(2024, 3, 4, 9, 0)))
    assert the_clock.instant_at_share(ny(2024, 3, 4, 9, 0), 75) == ny(2024, 3, 4, 15, 0)
    assert the_clock.instant_at_share(ny(2024, 3, 4, 9, 0), 100) == ny(2024, 3, 4, 17, 0)


def test_calendar_change_retimes_from_the_same_events():
    events = (("start", ny(2024, 3, 4, 9, 0)),)
    before = Clock.from_events(US, parse_duration("16 business hours"), events)
    closed_tuesday = Calendar.from_config("us", {**US.to_config(), "closed": ["2024-03-05"]})
    after = Clock.from_events(closed_tuesday, parse_duration("16 business hours"), events)
    now = ny(2024, 3, 4, 12, 0)
    assert before.reading(now).breach_at == ny(2024, 3, 5, 17, 0)
    assert after.reading(now).breach_at == ny(2024, 3, 6, 17, 0)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ((), "first event must be 'start'"),
        ((("pause", ny(2024, 3, 4, 9, 0)),), "first event must be 'start'"),
        ((("start", ny(2024, 3, 4, 9, 0)), ("snooze", ny(2024, 3, 4, 10, 0))), "not a clock event"),
        ((("start", ny(2024, 3, 4, 9, 0)), ("pause", ny(2024, 3, 4, 8, 0))), "time order"),
    ],
)
def test_bad_event_lists(events, message):
    with pytest.raises(InvalidInput, match=message):
        Clock.from_events(US, parse_duration("1 business hour"), events)


def test_reading_before_the_start_is_an_error():
    the_clock = clock("1 business hour", ("start", ny(2024, 3, 4, 9, 0)))
    with pytest.raises(InvalidInput, match="not started"):
        the_clock.reading(ny(2024, 3, 4, 8, 0))


@settings(max_examples=100, deadline=None)
@given(
    start=instants(START, END),
    gaps=st.lists(st.integers(1, 3000), min_size=1, max_size=6),
    hours=st.integers(1, 60),
)
def test_clock_equals_add_minus_pauses(start, gaps, hours):
    """Elapsed + remaining is the allowance; the projected breach is `add` from the last
    resume by what remains; with no pauses it is `add` from the start."""
    instants_ = [start]
    for gap in gaps:
        instants_.append(instants_[-1] + dt.timedelta(minutes=gap))
    kinds = [ClockEventKind.START] + [
        ClockEventKind.PAUSE if i % 2 == 0 else ClockEventKind.RESUME for i in range(len(gaps))
    ]
    events = [ClockEvent(kind, at) for kind, at in zip(kinds, instants_, strict=True)]
    allowance = parse_duration(f"{hours} business hours")
    the_clock = Clock.from_events(US, allowance, events)
    now = instants_[-1]
    reading = the_clock.reading(now)
    assert reading.elapsed + reading.remaining == dt.timedelta(hours=hours)
    running = [(a, b) for a, b in zip(instants_[::2], instants_[1::2], strict=False)]
    assert reading.elapsed_minutes == sum(elapsed(US, a, b) for a, b in running)
    if reading.state is ClockState.RUNNING and not reading.breached:
        assert reading.breach_at == add(
            US, now, parse_duration(f"{reading.remaining_minutes} business minutes")
        )
    if len(events) == 1:
        assert reading.breach_at == add(US, start, allowance)
