"""Calendars: the hours grammar, the config round trip, the calendars file, .ics import."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings

from sopdesk.calendar import Calendar, CalendarError, default_calendar, is_open
from sopdesk.calendar.config import configs_from_text, load_calendars_text, resolve_calendar
from sopdesk.calendar.describe import upcoming_special_days, week_lines
from sopdesk.calendar.hours import HoursError, format_week, parse_week
from sopdesk.calendar.ics import closures_from_ics, import_ics
from sopdesk.errors import NotFound, SopdeskError
from tests.calendar.strategies import calendars

# --- hours grammar ------------------------------------------------------------------------


def test_hours_grammar_several_slots_and_groups():
    week = parse_week("mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00")
    assert week[0] == ((480, 720), (780, 1020))
    assert week[3] == week[0]
    assert week[4] == ((480, 840),)
    assert week[5] == week[6] == ()
    assert format_week(week) == "mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("24/7", "24/7"),
        ("Mon-Sun 00:00-24:00", "24/7"),
        ("fri-mon 10:00-16:00", "mon 10:00-16:00; fri-sun 10:00-16:00"),
        ("mon,wed,fri 9:00-17:00", "mon 09:00-17:00; wed 09:00-17:00; fri 09:00-17:00"),
        ("mon-fri 22:00-06:00", "mon-fri 22:00-06:00"),
        ("sat 10:00-14:00; mon-fri 09:00-17:00", "mon-fri 09:00-17:00; sat 10:00-14:00"),
        ("closed", "closed"),
        ("tuesday 09:00-12:00", "tue 09:00-12:00"),
    ],
)
def test_hours_canonical_form(text, canonical):
    assert format_week(parse_week(text)) == canonical
    assert parse_week(canonical) == parse_week(text)


def test_overnight_slot_is_stored_past_midnight():
    assert parse_week("sat 22:00-06:00")[5] == ((1320, 1800),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-fri 9-17", "not a time of day"),
        ("mon-fri 09:00-25:00", "not a valid time"),
        ("funday 09:00-17:00", "not a day"),
        ("mon-fri", "no opening times"),
        ("mon 09:00-12:00,11:00-13:00", "overlap"),
        ("mon 22:00-08:00; tue 07:00-09:00", "runs into"),
        ("mon 09:00", "not a time range"),
    ],
)
def test_hours_errors_explain(text, message):
    with pytest.raises(HoursError, match=message) as info:
        parse_week(text)
    assert isinstance(info.value, SopdeskError)
    assert info.value.hint


# --- the model and its config -------------------------------------------------------------

FULL_CONFIG = {
    "timezone": "Europe/London",
    "hours": {"mon-thu": ["08:00-12:00", "13:00-17:00"], "fri": "08:00-14:00", "sat": "closed"},
    "holidays": ["gb-sct", "US"],
    "closed": ["2024-12-24..2024-12-27", dt.date(2025, 1, 2)],
    "closed_yearly": ["12-31", "02-29"],
    "open": {"2024-12-28": "10:00-14:00", dt.date(2024, 12, 29): ["10:00-12:00", "13:00-15:00"]},
}


def test_config_round_trip_is_canonical_and_json_safe():
    calendar = Calendar.from_config("support-uk", FULL_CONFIG)
    config = calendar.to_config()
    assert json.loads(json.dumps(config)) == config
    assert config == {
        "timezone": "Europe/London",
        "hours": "mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00",
        "holidays": ["GB-SCT", "US"],
        "closed": ["2024-12-24", "2024-12-25", "2024-12-26", "2024-12-27", "2025-01-02"],
        "closed_yearly": ["02-29", "12-31"],
        "open": {"2024-12-28": "10:00-14:00", "2024-12-29": "10:00-12:00,13:00-15:00"},
    }
    again = Calendar.from_config("support-uk", config)
    assert again == calendar
    assert hash(again) == hash(calendar)
    assert {calendar: 1}[again] == 1


@settings(max_examples=50, deadline=None)
@given(calendar=calendars())
def test_round_trip_of_random_calendars(calendar):
    assert Calendar.from_config(calendar.name, calendar.to_config()) == calendar


def test_slots_on_applies_openings_closures_and_holidays():
    calendar = Calendar.from_config("uk", FULL_CONFIG)
    assert calendar.slots_on(dt.date(2024, 12, 28)) == ((600, 840),)  # Saturday, special
    assert calendar.slots_on(dt.date(2024, 12, 24)) == ()  # dated closure
    assert calendar.slots_on(dt.date(2025, 12, 31)) == ()  # yearly closure
    assert calendar.slots_on(dt.date(2024, 1, 2)) == ()  # 2 January: Scottish bank holiday
    assert calendar.slots_on(dt.date(2024, 7, 4)) == ()  # US holiday (both lists apply)
    assert calendar.slots_on(dt.date(2024, 7, 5)) == ((480, 840),)


def test_default_calendar():
    calendar = default_calendar("America/Chicago")
    assert calendar.name == "default"
    assert calendar.to_config() == {"timezone": "America/Chicago", "hours": "mon-fri 09:00-17:00"}
    assert default_calendar() == Calendar.from_config("default", {})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timezone": "Moon/Base"}, "not an IANA timezone"),
        ({"holidays": "XX"}, "no public holidays are known"),
        ({"holidays": "US-ZZ"}, "no subdivision"),
        ({"closed": ["2024-13-01"]}, "not a date"),
        ({"closed": ["2024-12-31..2024-12-01"]}, "ends before it starts"),
        ({"closed_yearly": ["02-30"]}, "not a yearly date"),
        ({"hours": "mon 09:00-17:00", "hollidays": "US"}, "unknown setting"),
        ({"open": ["2024-12-28"]}, "must map dates"),
        ({"hours": "mon 09:00-12:00,11:00-13:00"}, "overlap"),
    ],
)
def test_config_errors_name_the_calendar(config, message):
    with pytest.raises(CalendarError, match=message) as info:
        Calendar.from_config("team-a", config)
    assert "team-a" in info.value.message


# --- the calendars file and name resolution -----------------------------------------------

YAML_FILE = """
calendars:
  support-us:
    timezone: America/New_York
    hours: mon-fri 09:00-17:00
    holidays: US-CA
    closed: [2024-12-24]
  night-shift:
    timezone: UTC
    hours: mon-fri 22:00-06:00
"""
TOML_FILE = """
[calendars.support-us]
timezone = "America/New_York"
hours = "mon-fri 09:00-17:00"
holidays = "US-CA"
closed = [2024-12-24]

[calendars.night-shift]
timezone = "UTC"
hours = "mon-fri 22:00-06:00"
"""


def test_yaml_toml_and_json_files_give_the_same_calendars():
    from_yaml = load_calendars_text(YAML_FILE, "yaml")
    assert set(from_yaml) == {"support-us", "night-shift"}
    assert load_calendars_text(TOML_FILE, "toml") == from_yaml
    as_json = json.dumps({"calendars": {n: c.to_config() for n, c in from_yaml.items()}})
    assert load_calendars_text(as_json, "json") == from_yaml
    assert load_calendars_text("", "yaml") == {}


def test_top_level_mapping_of_names_is_accepted():
    text = "team: {timezone: UTC, hours: 'mon 09:00-10:00'}\n"
    assert load_calendars_text(text)["team"].to_config()["hours"] == "mon 09:00-10:00"


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("calendars: [1, 2]", "yaml", "must be a mapping"),
        ("calendars:\n  a: 3\n", "yaml", "calendar 'a' must be a mapping"),
        ("calendars: {a: {hours: 'mon 09:00-'}}", "yaml", "calendar 'a'"),
        ("[calendars", "toml", "not valid TOML"),
        ("x: [", "yaml", "not valid YAML"),
        ("{}", "ini", "unknown calendars file format"),
    ],
)
def test_calendars_file_errors(text, fmt, message):
    with pytest.raises(CalendarError, match=message):
        load_calendars_text(text, fmt)


def test_resolve_calendar():
    configs = configs_from_text(YAML_FILE)
    assert resolve_calendar("support-us", configs).tz == "America/New_York"
    assert resolve_calendar("default", configs, "Europe/Paris") == default_calendar("Europe/Paris")
    overriding = {"default": {"timezone": "Asia/Tokyo", "hours": "mon-sat 10:00-19:00"}}
    assert resolve_calendar("default", overriding).tz == "Asia/Tokyo"
    with pytest.raises(NotFound, match="no calendar named 'sales'") as info:
        resolve_calendar("sales", configs)
    assert "support-us" in (info.value.hint or "")


# --- .ics import --------------------------------------------------------------------------

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
SUMMARY:Company retreat
DTSTART;VALUE=DATE:20240807
DTEND;VALUE=DATE:20240810
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:Founders day
DTSTART;VALUE=DATE:20240315
RRULE:FREQ=YEARLY
END:VEVENT
BEGIN:VEVENT
UID:3
SUMMARY:Stocktake
DTSTART:20240620T130000Z
DTEND:20240620T170000Z
END:VEVENT
END:VCALENDAR
"""


def test_ics_events_close_whole_days():
    closures = closures_from_ics(ICS)
    assert [day for day, _ in closures.dates] == [
        dt.date(2024, 8, 7),
        dt.date(2024, 8, 8),
        dt.date(2024, 8, 9),
        dt.date(2024, 6, 20),
    ]
    assert closures.yearly == (((3, 15), "Founders day"),)
    calendar = import_ics(default_calendar(), ICS)
    assert not is_open(calendar, dt.datetime(2024, 8, 8, 12, tzinfo=dt.UTC))
    assert not is_open(calendar, dt.datetime(2027, 3, 15, 12, tzinfo=dt.UTC))
    assert is_open(calendar, dt.datetime(2024, 8, 12, 12, tzinfo=dt.UTC))
    assert Calendar.from_config("default", calendar.to_config()) == calendar


def test_ics_refuses_what_it_cannot_import():
    weekly = ICS.replace("RRULE:FREQ=YEARLY", "RRULE:FREQ=WEEKLY;BYDAY=MO")
    with pytest.raises(CalendarError, match="FREQ=WEEKLY"):
        closures_from_ics(weekly)
    with pytest.raises(CalendarError, match="not an iCalendar"):
        closures_from_ics("hello")


# --- human views --------------------------------------------------------------------------


def test_week_lines_and_upcoming_special_days():
    calendar = Calendar.from_config("uk", FULL_CONFIG)
    assert week_lines(calendar)[0] == "Mon  08:00-12:00,13:00-17:00"
    assert week_lines(calendar)[6] == "Sun  closed"
    days = upcoming_special_days(calendar, dt.date(2024, 12, 20), count=6)
    assert [d.day.isoformat() for d in days] == [
        "2024-12-24", "2024-12-25", "2024-12-26", "2024-12-27", "2024-12-28", "2024-12-29",
    ]  # fmt: skip
    assert "Christmas Day (GB-SCT)" in days[1].label
    assert days[4].hours == "10:00-14:00" and days[4].changes_hours


def test_holidays_as_mappings_and_comma_lists():
    config = {"holidays": [{"country": "us", "subdivision": "ca"}, "GB-SCT, DE"]}
    calendar = Calendar.from_config("multi", config)
    assert calendar.holidays == ("US-CA", "GB-SCT", "DE")
    assert calendar.slots_on(dt.date(2024, 10, 3)) == ()  # German Unity Day, a Thursday
