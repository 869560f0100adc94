"""Business calendars and deadline math.

Owns opening hours, holidays and closures, durations, `add`/`elapsed`, pausable
clocks and the vectorised bulk path. Pure: no database, no clock, no I/O beyond
parsing the config and .ics text it is handed. Must not import store, engine, web or cli.
Conventions: docs/business-time.md.

    hours.py      the weekly-hours grammar ("mon-fri 09:00-17:00; sat 10:00-14:00")
    model.py      the Calendar value and its plain-dict config
    config.py     the calendars file (YAML/TOML/JSON text) and name resolution
    ics.py        .ics holiday import
    timeline.py   the precomputed table of opening intervals every operation searches
    deadlines.py  add, elapsed, is_open, next_open, next_close (one instant at a time)
    bulk.py       add_many, elapsed_many, is_open_many (NumPy; same answers)
    clock.py      pausable clocks rebuilt from start/pause/resume/stop events
    describe.py   the week and the upcoming special days, for people
"""

from sopdesk.calendar.bulk import add_many, elapsed_many, is_open_many
from sopdesk.calendar.clock import Clock, ClockEvent, ClockEventKind, ClockReading, ClockState
from sopdesk.calendar.config import configs_from_text, load_calendars_text, resolve_calendar
from sopdesk.calendar.deadlines import (
    add,
    business_time,
    elapsed,
    elapsed_duration,
    is_open,
    next_close,
    next_open,
)
from sopdesk.calendar.durations import Duration, DurationError, Unit, parse_duration
from sopdesk.calendar.ics import closures_from_ics, import_ics
from sopdesk.calendar.model import Calendar, CalendarError, default_calendar

__all__ = [
    "Calendar",
    "CalendarError",
    "Clock",
    "ClockEvent",
    "ClockEventKind",
    "ClockReading",
    "ClockState",
    "Duration",
    "DurationError",
    "Unit",
    "add",
    "add_many",
    "business_time",
    "closures_from_ics",
    "configs_from_text",
    "default_calendar",
    "elapsed",
    "elapsed_duration",
    "elapsed_many",
    "import_ics",
    "is_open",
    "is_open_many",
    "load_calendars_text",
    "next_close",
    "next_open",
    "parse_duration",
    "resolve_calendar",
]
