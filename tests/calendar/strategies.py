"""Hypothesis strategies: random valid calendars, instants and durations."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume
from hypothesis import strategies as st

from sopdesk.calendar import Calendar
from sopdesk.calendar.hours import HoursError, check_week

ZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
)
GRID = 30  # minutes


@st.composite
def day_slots(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    count = draw(st.integers(0, 3))
    edges = sorted(draw(st.sets(st.integers(0, 48), min_size=2 * count, max_size=2 * count)))
    slots = [(edges[i] * GRID, edges[i + 1] * GRID) for i in range(0, len(edges), 2)]
    if slots and draw(st.booleans()) and draw(st.booleans()):
        start, _ = slots[-1]
        slots[-1] = (start, 1440 + draw(st.integers(1, 12)) * GRID)  # overnight
    return tuple(slot for slot in slots if slot[0] < 1440)


@st.composite
def calendars(draw: st.DrawFn, zones: tuple[str, ...] = ZONES) -> Calendar:
    week = tuple(draw(day_slots()) for _ in range(7))
    assume(any(week))
    try:
        check_week(week)
    except HoursError:
        assume(False)
    closed = draw(st.lists(st.dates(dt.date(2023, 12, 1), dt.date(2025, 2, 1)), max_size=8))
    holidays = draw(st.sampled_from(((), ("US",), ("GB-SCT",))))
    return Calendar(
        name="random", tz=draw(st.sampled_from(zones)), week=week,
        holidays=holidays, closed=tuple(closed),
    )  # fmt: skip


def instants(first: dt.datetime, last: dt.datetime) -> st.SearchStrategy[dt.datetime]:
    """Whole-minute UTC instants between first and last, often on the grid."""
    minutes = int((last - first).total_seconds() // 60)
    return st.integers(0, minutes).map(lambda m: first + dt.timedelta(minutes=m))


START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
