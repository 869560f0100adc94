"""Named cases: the conventions, DST in three zones, holidays, leap day, edges."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sopdesk.calendar import (
    Calendar,
    CalendarError,
    Duration,
    Unit,
    add,
    business_time,
    default_calendar,
    elapsed,
    elapsed_duration,
    is_open,
    next_close,
    next_open,
    parse_duration,
)
from sopdesk.calendar.model import holiday_table
from sopdesk.errors import InvalidInput

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
US = Calendar.from_config(
    "us", {"timezone": "America/New_York", "hours": "mon-fri 09:00-17:00", "holidays": "US"}
)
SHORT_FRIDAY = Calendar.from_config(
    "short",
    {"timezone": "America/New_York", "hours": "mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00"},
)


def ny(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=NY)


def due(calendar: Calendar, start: dt.datetime, phrase: str) -> dt.datetime:
    return add(calendar, start, parse_duration(phrase))


# --- conventions -------------------------------------------------------------------------


def test_one_business_day_from_friday_afternoon_is_monday_same_time():
    assert due(US, ny(2024, 3, 8, 16, 30), "1 business day") == ny(2024, 3, 11, 16, 30)


def test_due_exactly_at_close_is_that_close_not_next_opening():
    assert due(US, ny(2024, 3, 8, 16, 0), "1 business hour") == ny(2024, 3, 8, 17, 0)
    assert due(US, ny(2024, 3, 8, 0, 0), "8 business hours") == ny(2024, 3, 8, 17, 0)
    assert due(US, ny(2024, 3, 8, 16, 30), "30 business minutes") == ny(2024, 3, 8, 17, 0)


def test_start_outside_hours_rolls_to_next_opening():
    saturday = ny(2024, 3, 9, 10, 0)
    assert due(US, saturday, "1 business hour") == ny(2024, 3, 11, 10, 0)
    assert due(US, saturday, "1 business day") == ny(2024, 3, 11, 17, 0)
    assert due(US, ny(2024, 3, 8, 17, 0), "1 business minute") == ny(2024, 3, 11, 9, 1)
    assert due(US, ny(2024, 3, 11, 9, 0), "1 business day") == ny(2024, 3, 11, 17, 0)


def test_zero_durations():
    inside, outside = ny(2024, 3, 8, 12, 0), ny(2024, 3, 9, 12, 0)
    assert due(US, inside, "0 business hours") == inside
    assert due(US, outside, "0 business hours") == ny(2024, 3, 11, 9, 0)
    assert due(US, ny(2024, 3, 8, 17, 0), "0 business minutes") == ny(2024, 3, 11, 9, 0)
    assert due(US, outside, "0 hours") == outside
    assert due(US, outside, "0 business days") == ny(2024, 3, 11, 9, 0)


def test_shorter_target_day_ends_at_its_close():
    thursday = ny(2024, 3, 7, 16, 30)  # 7.5 h of Thursday's 8 h used
    assert due(SHORT_FRIDAY, thursday, "1 business day") == ny(2024, 3, 8, 14, 0)
    assert due(SHORT_FRIDAY, ny(2024, 3, 7, 10, 0), "1 business day") == ny(2024, 3, 8, 10, 0)
    # business time-of-day, not wall clock: 14:00 Thursday is 5 h in; Friday 5 h in is 13:00
    assert due(SHORT_FRIDAY, ny(2024, 3, 7, 14, 0), "1 business day") == ny(2024, 3, 8, 13, 0)
    # lunch is closed: 12:30 counts as 13:00 = 4 h in = Friday 12:00
    assert due(SHORT_FRIDAY, ny(2024, 3, 7, 12, 30), "1 business day") == ny(2024, 3, 8, 12, 0)


def test_split_shift_skips_lunch():
    assert due(SHORT_FRIDAY, ny(2024, 3, 4, 11, 30), "1 business hour") == ny(2024, 3, 4, 13, 30)
    assert due(SHORT_FRIDAY, ny(2024, 3, 4, 11, 0), "1 business hour") == ny(2024, 3, 4, 12, 0)
    assert elapsed(SHORT_FRIDAY, ny(2024, 3, 4, 8, 0), ny(2024, 3, 4, 17, 0)) == 480


def test_business_weeks_are_open_weekdays():
    assert due(US, ny(2024, 3, 4, 10, 0), "1 business week") == ny(2024, 3, 11, 10, 0)
    six_day = Calendar.from_config("six", {"hours": "mon-sat 09:00-17:00"})
    start = dt.datetime(2024, 3, 4, 10, tzinfo=dt.UTC)
    assert due(six_day, start, "1 business week") == start + dt.timedelta(days=7)
    assert due(six_day, start, "1 business week") == due(six_day, start, "6 business days")


def test_overnight_slots_belong_to_the_day_they_start():
    nights = Calendar.from_config("nights", {"hours": "mon-fri 22:00-06:00", "timezone": "UTC"})
    friday_night = dt.datetime(2024, 3, 8, 23, 0, tzinfo=dt.UTC)
    assert due(nights, friday_night, "2 business hours") == friday_night + dt.timedelta(hours=2)
    assert due(nights, friday_night, "7 business hours") == dt.datetime(
        2024, 3, 9, 6, 0, tzinfo=dt.UTC
    )
    assert due(nights, friday_night, "8 business hours") == dt.datetime(
        2024, 3, 11, 23, 0, tzinfo=dt.UTC
    )
    assert due(nights, friday_night, "1 business day") == dt.datetime(
        2024, 3, 11, 23, 0, tzinfo=dt.UTC
    )
    assert is_open(nights, dt.datetime(2024, 3, 9, 5, 59, tzinfo=dt.UTC))
    assert not is_open(nights, dt.datetime(2024, 3, 9, 6, 0, tzinfo=dt.UTC))


def test_calendar_durations_are_elapsed_time_and_days_keep_wall_clock():
    saturday = ny(2024, 3, 9, 10, 0)  # DST starts Sunday 2024-03-10 02:00
    assert due(US, saturday, "24 hours") == ny(2024, 3, 10, 11, 0)
    assert due(US, saturday, "7 days") == ny(2024, 3, 16, 10, 0)
    assert due(US, saturday, "1 week") == ny(2024, 3, 16, 10, 0)
    assert due(US, ny(2024, 3, 9, 2, 30), "1 day") == ny(2024, 3, 10, 3, 30)  # 02:30 missing
    assert due(US, saturday, "90 minutes") == ny(2024, 3, 9, 11, 30)


def test_open_close_queries():
    assert is_open(US, ny(2024, 3, 8, 9, 0))
    assert is_open(US, ny(2024, 3, 8, 16, 59, 59))
    assert not is_open(US, ny(2024, 3, 8, 17, 0))
    assert not is_open(US, ny(2024, 1, 1, 12, 0))  # New Year's Day
    assert next_open(US, ny(2024, 3, 8, 12, 0)) == ny(2024, 3, 8, 12, 0)
    assert next_open(US, ny(2024, 3, 8, 17, 0)) == ny(2024, 3, 11, 9, 0)
    assert next_close(US, ny(2024, 3, 8, 12, 0)) == ny(2024, 3, 8, 17, 0)
    assert next_close(US, ny(2024, 3, 8, 17, 0)) == ny(2024, 3, 11, 17, 0)
    always = Calendar.from_config("always", {"hours": "24/7"})
    assert next_close(always, ny(2024, 3, 8, 12, 0)) is None
    assert is_open(always, ny(2024, 3, 9, 3, 0))


def test_results_are_in_the_calendars_timezone_and_keep_microseconds():
    start = dt.datetime(2024, 3, 8, 14, 0, 0, 500_000, tzinfo=dt.UTC)  # 09:00:00.5 EST
    result = due(US, start, "1 business hour")
    assert result.tzinfo == NY
    assert result == ny(2024, 3, 8, 10, 0, 0, 500_000)
    assert business_time(US, start, result) == dt.timedelta(hours=1)
    assert elapsed_duration(US, start, result) == Duration(60, Unit.MINUTE, business=True)


def test_naive_datetimes_are_refused():
    with pytest.raises(InvalidInput, match="no timezone"):
        add(US, dt.datetime(2024, 3, 8, 12, 0), parse_duration("1 business hour"))


# --- DST ---------------------------------------------------------------------------------


def test_new_york_dst_weekends():
    assert due(US, ny(2024, 3, 8, 16, 0), "2 business hours") == ny(2024, 3, 11, 10, 0)
    assert elapsed(US, ny(2024, 3, 8, 9, 0), ny(2024, 3, 11, 17, 0)) == 16 * 60
    assert elapsed(US, ny(2024, 11, 1, 9, 0), ny(2024, 11, 4, 17, 0)) == 16 * 60
    # 01:30 on 2024-11-03 happens twice; both are outside hours and roll to Monday 09:00 EST
    first = dt.datetime(2024, 11, 3, 1, 30, tzinfo=NY)
    second = first.replace(fold=1)
    assert due(US, first, "1 business hour") == due(US, second, "1 business hour")
    assert due(US, second, "1 business hour").utcoffset() == dt.timedelta(hours=-5)


def test_slot_spanning_dst_counts_real_time():
    night = Calendar.from_config(
        "night", {"timezone": "America/New_York", "hours": "sun 00:00-06:00"}
    )
    assert elapsed(night, ny(2024, 3, 10, 0, 0), ny(2024, 3, 10, 23, 0)) == 5 * 60
    assert elapsed(night, ny(2024, 11, 3, 0, 0), ny(2024, 11, 3, 23, 0)) == 7 * 60
    assert due(night, ny(2024, 3, 10, 0, 0), "5 business hours") == ny(2024, 3, 10, 6, 0)
    fall = due(night, ny(2024, 11, 3, 0, 0), "2 business hours")
    assert fall == dt.datetime(2024, 11, 3, 1, 0, fold=1, tzinfo=NY)
    assert fall.utcoffset() == dt.timedelta(hours=-5)


def test_london_dst_24_7():
    always = Calendar.from_config("always", {"timezone": "Europe/London", "hours": "24/7"})
    saturday = dt.datetime(2024, 3, 30, 12, 0, tzinfo=LONDON)
    sunday = dt.datetime(2024, 3, 31, 12, 0, tzinfo=LONDON)
    assert elapsed(always, saturday, sunday) == 23 * 60
    assert due(always, saturday, "24 business hours") == sunday + dt.timedelta(hours=1)
    # October: 25-hour day
    assert (
        elapsed(
            always,
            dt.datetime(2024, 10, 26, 12, 0, tzinfo=LONDON),
            dt.datetime(2024, 10, 27, 12, 0, tzinfo=LONDON),
        )
        == 25 * 60
    )


def test_london_office_hours_unchanged_by_dst():
    # Easter Monday is a bank holiday in England, not UK-wide: the subdivision matters
    uk = Calendar.from_config("uk", {"timezone": "Europe/London", "holidays": "GB-ENG"})
    friday = dt.datetime(2024, 3, 29, 12, tzinfo=LONDON)  # Good Friday, then Easter Monday
    assert due(uk, friday, "1 business hour") == dt.datetime(2024, 4, 2, 10, tzinfo=LONDON)


def test_lord_howe_half_hour_shift():
    sunday_early = Calendar.from_config(
        "lh", {"timezone": "Australia/Lord_Howe", "hours": "sun 00:00-06:00"}
    )
    start_april = dt.datetime(2024, 4, 7, 0, 0, tzinfo=LORD_HOWE)  # 02:00 -> 01:30
    start_october = dt.datetime(2024, 10, 6, 0, 0, tzinfo=LORD_HOWE)  # 02:00 -> 02:30
    day = dt.timedelta(hours=23)
    assert elapsed(sunday_early, start_april, start_april + day) == 390
    assert elapsed(sunday_early, start_october, start_october + day) == 330
    assert due(sunday_early, start_october, "330 business minutes") == dt.datetime(
        2024, 10, 6, 6, 0, tzinfo=LORD_HOWE
    )
    office = default_calendar("Australia/Lord_Howe")
    friday = dt.datetime(2024, 10, 4, 16, 0, tzinfo=LORD_HOWE)
    assert due(office, friday, "2 business hours") == dt.datetime(
        2024, 10, 7, 10, 0, tzinfo=LORD_HOWE
    )
    assert elapsed(office, friday, dt.datetime(2024, 10, 7, 10, 0, tzinfo=LORD_HOWE)) == 120


# --- holidays, leap day, long and impossible ------------------------------------------------


def test_christmas_to_new_year_with_us_holidays():
    eve = ny(2024, 12, 24, 16, 0)
    assert due(US, eve, "16 business hours") == ny(2024, 12, 27, 16, 0)
    assert due(US, eve, "3 business days") == ny(2024, 12, 30, 16, 0)
    assert due(US, eve, "5 business days") == ny(2025, 1, 2, 16, 0)
    assert elapsed(US, eve, ny(2025, 1, 2, 9, 0)) == (1 + 8 * 4) * 60


def test_christmas_closure_range_and_short_eve():
    config = {
        "timezone": "America/New_York",
        "holidays": ["US"],
        "closed": ["2024-12-26..2024-12-31"],
        "open": {"2024-12-24": "09:00-13:00"},
    }
    winter = Calendar.from_config("winter", config)
    assert due(winter, ny(2024, 12, 24, 12, 0), "2 business hours") == ny(2025, 1, 2, 10, 0)
    assert not is_open(winter, ny(2024, 12, 24, 14, 0))
    assert due(winter, ny(2024, 12, 23, 16, 0), "1 business day") == ny(2024, 12, 24, 13, 0)


def test_leap_day():
    utc = default_calendar()
    wednesday = dt.datetime(2024, 2, 28, 12, tzinfo=dt.UTC)
    assert due(utc, wednesday, "1 business day") == dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)
    assert due(utc, dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC), "365 days") == dt.datetime(
        2025, 2, 28, 12, tzinfo=dt.UTC
    )
    no_leap = Calendar.from_config("x", {"closed_yearly": ["02-29"]})
    assert due(no_leap, wednesday, "1 business day") == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    thursday_2025 = dt.datetime(2025, 2, 27, 12, tzinfo=dt.UTC)
    assert due(no_leap, thursday_2025, "1 business day") == dt.datetime(
        2025, 2, 28, 12, tzinfo=dt.UTC
    )


def test_multi_year_durations():
    start = ny(2024, 1, 2, 9, 0)
    far = due(US, start, "10000 business hours")
    assert elapsed(US, start, far) == 600_000
    assert far.year == 2028
    days = due(US, start + dt.timedelta(hours=1), "2000 business days")
    holidays = sorted(
        day for year in range(2024, 2033) for day in holiday_table("US", year) if day.weekday() < 5
    )
    counted = np.busday_count(start.date(), days.date(), holidays=holidays)
    assert counted == 2000
    assert days.time() == dt.time(10, 0)
    assert due(US, start, "520 business weeks") == due(US, start, "2600 business days")
    assert due(US, start, "2000 business days").time() == dt.time(17, 0)


def test_calendar_with_no_hours_is_a_clear_error():
    never = Calendar.from_config("never", {"hours": "closed"})
    start = ny(2024, 3, 8, 12, 0)
    with pytest.raises(CalendarError, match="no opening hours"):
        due(never, start, "1 business hour")
    with pytest.raises(CalendarError, match="no opening hours"):
        next_open(never, start)
    assert not is_open(never, start)
    assert elapsed(never, start, start + dt.timedelta(days=30)) == 0
    assert due(never, start, "2 hours") == start + dt.timedelta(hours=2)


def test_calendar_that_stops_opening_is_a_clear_error():
    once = Calendar.from_config("once", {"hours": "closed", "open": {"2024-03-09": "10:00-12:00"}})
    start = dt.datetime(2024, 3, 8, tzinfo=dt.UTC)
    assert due(once, start, "2 business hours") == dt.datetime(2024, 3, 9, 12, tzinfo=dt.UTC)
    with pytest.raises(CalendarError, match="no opening hours after 2024-03-09T12:00"):
        due(once, start, "3 business hours")
    with pytest.raises(CalendarError, match="business week"):
        due(once, start, "1 business week")
