"""iCalendar (.ics) holiday import: all-day events become closed dates.

Every VEVENT closes the local dates it covers (DTSTART up to, not including, DTEND; a
timed event closes the dates it touches). `RRULE:FREQ=YEARLY` without other parts makes
a yearly closure. Other recurrence rules are refused with a hint rather than guessed.
Pure: takes the file's text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import icalendar

from sopdesk.calendar.model import Calendar, CalendarError

MAX_EVENT_DAYS = 366


@dataclass(frozen=True)
class IcsClosures:
    """What an .ics file closes: dated days and yearly (month, day) pairs, with names."""

    dates: tuple[tuple[dt.date, str], ...]
    yearly: tuple[tuple[tuple[int, int], str], ...]

    def apply(self, calendar: Calendar) -> Calendar:
        return calendar.with_closures(
            dates=(day for day, _ in self.dates), yearly=(pair for pair, _ in self.yearly)
        )


def closures_from_ics(text: str | bytes) -> IcsClosures:
    """Read every VEVENT of an iCalendar text as whole-day closures."""
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise CalendarError(
            f"not an iCalendar file: {exc}", hint="export holidays as .ics"
        ) from None
    dates: list[tuple[dt.date, str]] = []
    yearly: list[tuple[tuple[int, int], str]] = []
    for event in parsed.walk("VEVENT"):
        name = str(event.get("SUMMARY", "closed"))
        days = _event_days(event)
        if _is_yearly(event):
            yearly.extend(((day.month, day.day), name) for day in days)
        else:
            dates.extend((day, name) for day in days)
    return IcsClosures(tuple(dates), tuple(yearly))


def import_ics(calendar: Calendar, text: str | bytes) -> Calendar:
    """`calendar` with the closures of an .ics file added."""
    return closures_from_ics(text).apply(calendar)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _event_days(event: icalendar.Event) -> list[dt.date]:
    if "DTSTART" not in event:
        raise CalendarError(f"event {event.get('SUMMARY', '')!r} has no DTSTART")
    raw_start = event.decoded("DTSTART")
    start = _as_date(raw_start)
    if "DTEND" in event:
        raw_end = event.decoded("DTEND")
        timed = isinstance(raw_end, dt.datetime)
        end = _as_date(raw_end) + (
            dt.timedelta(days=1) if timed and raw_end.time() else dt.timedelta()
        )
    else:
        end = start + dt.timedelta(days=1)
    count = max((end - start).days, 1)
    if count > MAX_EVENT_DAYS:
        raise CalendarError(f"event {event.get('SUMMARY', '')!r} lasts more than a year")
    return [start + dt.timedelta(days=n) for n in range(count)]


def _is_yearly(event: icalendar.Event) -> bool:
    rule = event.get("RRULE")
    if rule is None:
        return False
    parts = {key.upper(): value for key, value in dict(rule).items()}
    if (
        parts.get("FREQ") == ["YEARLY"]
        and set(parts) <= {"FREQ", "INTERVAL"}
        and parts.get("INTERVAL", [1]) == [1]
    ):
        return True
    raise CalendarError(
        f"event {event.get('SUMMARY', '')!r} repeats with {rule.to_ical().decode()}, "
        "which cannot be imported as closures",
        hint="only RRULE:FREQ=YEARLY is supported; list other dates one by one",
    )
