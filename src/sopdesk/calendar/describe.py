"""Human-readable views of a calendar: its week and its upcoming closed or special days.

Pure: the caller gives the first date to look from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sopdesk.calendar.hours import format_slots
from sopdesk.calendar.model import Calendar, holiday_table

WEEKDAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LOOKAHEAD_DAYS = 3 * 366


@dataclass(frozen=True)
class SpecialDay:
    """A date whose hours differ from its weekday: a holiday, a closure or special hours."""

    day: dt.date
    label: str
    hours: str  # "closed" or the slots that apply that day
    changes_hours: bool  # False for a holiday on a day that is closed anyway


def week_lines(calendar: Calendar) -> list[str]:
    """One line per weekday: `Mon  09:00-12:00,13:00-17:00`."""
    return [
        f"{label}  {format_slots(slots)}"
        for label, slots in zip(WEEKDAY_LABELS, calendar.week, strict=True)
    ]


def upcoming_special_days(calendar: Calendar, since: dt.date, count: int = 10) -> list[SpecialDay]:
    """The next `count` holidays, closures and special-hours days on or after `since`."""
    found: list[SpecialDay] = []
    day = since
    while len(found) < count and (day - since).days < LOOKAHEAD_DAYS:
        label = _label(calendar, day)
        if label:
            slots = calendar.slots_on(day)
            hours = format_slots(slots)
            found.append(SpecialDay(day, label, hours, slots != calendar.week[day.weekday()]))
        day += dt.timedelta(days=1)
    return found


def _label(calendar: Calendar, day: dt.date) -> str:
    names = [
        f"{holiday_table(code, day.year)[day]} ({code})"
        for code in calendar.holidays
        if day in holiday_table(code, day.year)
    ]
    if day in calendar.closed:
        names.append("closed")
    if (day.month, day.day) in calendar.closed_yearly:
        names.append("closed every year")
    if day in dict(calendar.openings):
        names.append("special hours")
    return "; ".join(names)
