"""The `Calendar` value: timezone, weekly hours, public holidays, closures, special days.

Owns the immutable model, its validation and its plain-dict config form (what the
calendars file holds per calendar and what the database stores as JSON), and which
local dates are open with which slots. Must not compute instants (see `timeline`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from sopdesk.calendar.hours import (
    DaySlots,
    HoursError,
    Week,
    check_day_slots,
    check_week,
    format_slots,
    format_week,
    parse_slots,
    parse_week,
    week_from_mapping,
)
from sopdesk.errors import InvalidInput

CONFIG_KEYS = ("timezone", "hours", "holidays", "closed", "closed_yearly", "open")
DEFAULT_HOURS = "mon-fri 09:00-17:00"


class CalendarError(InvalidInput):
    """A calendar that cannot be built or cannot answer (e.g. it never opens)."""

    code = "invalid_calendar"


@dataclass(frozen=True, eq=True)
class Calendar:
    """A business calendar. Build with `Calendar.from_config` or `default_calendar`.

    `week[0]` is Monday's slots as (start, end) minutes after local midnight; a slot
    belongs to the day it starts on. `holidays` are `"US"`, `"US-CA"`, `"GB-SCT"` codes of
    the `holidays` package. `closed` dates and `closed_yearly` (month, day) pairs close the
    whole day; `openings` give a date its own slots, overriding weekday, holiday and
    closure (an extra opening day, or a short day such as Christmas Eve 09:00-13:00).
    `has_hours` is False when no weekday and no dated opening has a slot (it never opens).
    """

    name: str
    tz: str
    week: Week
    holidays: tuple[str, ...] = ()
    closed: tuple[dt.date, ...] = ()
    closed_yearly: tuple[tuple[int, int], ...] = ()
    openings: tuple[tuple[dt.date, DaySlots], ...] = ()
    _hash: int = field(init=False, repr=False, compare=False, default=0)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    has_hours: bool = field(init=False, repr=False, compare=False, default=False)
    # the last deadline table built for this value (see timeline.py); a memo, not state
    timeline_memo: object = field(init=False, repr=False, compare=False, default=None)
    _special: dict[dt.date, DaySlots] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", zone(self.tz))
        if len(self.week) != 7:
            raise CalendarError("a week has 7 days of slots, Monday first")
        check_week(self.week)
        for _, slots in self.openings:
            check_day_slots(slots)
        for code in self.holidays:
            split_holiday_code(code)
        object.__setattr__(self, "closed", tuple(sorted(set(self.closed))))
        object.__setattr__(self, "closed_yearly", tuple(sorted(set(self.closed_yearly))))
        object.__setattr__(self, "openings", tuple(sorted(dict(self.openings).items())))
        object.__setattr__(self, "_special", dict(self.openings))
        object.__setattr__(self, "_hash", hash(self._key()))
        has_hours = any(self.week) or any(slots for _, slots in self.openings)
        object.__setattr__(self, "has_hours", has_hours)

    def _key(self) -> tuple[object, ...]:
        fields = (self.holidays, self.closed, self.closed_yearly, self.openings)
        return (self.name, self.tz, self.week, *fields)

    def __hash__(self) -> int:
        return self._hash

    @property
    def open_weekdays(self) -> int:
        """Weekdays with opening hours: the number of business days in one business week."""
        return sum(1 for slots in self.week if slots)

    @classmethod
    def from_config(cls, name: str, mapping: Mapping[str, object]) -> Calendar:
        """Build from the plain dict of the calendars file / database (see `to_config`)."""
        return calendar_from_config(name, mapping)

    def to_config(self) -> dict[str, object]:
        """The canonical plain dict (JSON-safe); `from_config(name, c.to_config()) == c`."""
        config: dict[str, object] = {"timezone": self.tz, "hours": format_week(self.week)}
        if self.holidays:
            config["holidays"] = list(self.holidays)
        if self.closed:
            config["closed"] = [day.isoformat() for day in self.closed]
        if self.closed_yearly:
            config["closed_yearly"] = [f"{m:02d}-{d:02d}" for m, d in self.closed_yearly]
        if self.openings:
            config["open"] = {day.isoformat(): format_slots(slots) for day, slots in self.openings}
        return config

    def with_closures(
        self, dates: Iterable[dt.date] = (), yearly: Iterable[tuple[int, int]] = ()
    ) -> Calendar:
        """A copy with more closed dates (e.g. from an .ics file)."""
        return replace(
            self,
            closed=(*self.closed, *dates),
            closed_yearly=(*self.closed_yearly, *yearly),
        )

    def slots_on(self, day: dt.date) -> DaySlots:
        """The slots of one local date after openings, closures and holidays."""
        special = self._special.get(day)
        if special is not None:
            return special
        if self.is_closed_day(day):
            return ()
        return self.week[day.weekday()]

    def is_closed_day(self, day: dt.date) -> bool:
        if day in self.closed or (day.month, day.day) in self.closed_yearly:
            return True
        return any(day in holiday_table(code, day.year) for code in self.holidays)


def default_calendar(tz: str = "UTC") -> Calendar:
    """Monday to Friday 09:00-17:00 in `tz`, no holidays, named "default"."""
    return Calendar(name="default", tz=tz, week=parse_week(DEFAULT_HOURS))


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone, or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            f"{name!r} is not an IANA timezone", hint="use e.g. America/New_York or Europe/London"
        ) from None


@lru_cache(maxsize=64)
def split_holiday_code(code: str) -> tuple[str, str | None]:
    """`"US-CA"` -> ("US", "CA"); validated against the `holidays` package."""
    country, _, subdivision = code.strip().partition("-")
    country = country.upper()
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise CalendarError(
            f"{code!r}: no public holidays are known for country {country!r}",
            hint="use an ISO 3166 code such as US, GB, DE, FR, AU",
        )
    if not subdivision:
        return country, None
    known = {sub.upper(): sub for sub in supported[country]}
    if subdivision.upper() not in known:
        sample = ", ".join(sorted(known)[:12]) or "none"
        raise CalendarError(
            f"{code!r}: {country} has no subdivision {subdivision!r}",
            hint=f"known subdivisions include {sample}",
        )
    return country, known[subdivision.upper()]


@lru_cache(maxsize=512)
def holiday_table(code: str, year: int) -> dict[dt.date, str]:
    """Public holidays (with names) of one country/subdivision code in one year."""
    country, subdivision = split_holiday_code(code)
    table = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    return dict(table.items())


def calendar_from_config(name: str, mapping: Mapping[str, object]) -> Calendar:
    if not isinstance(mapping, Mapping):
        raise CalendarError(f"calendar {name!r} must be a mapping of settings")
    unknown = sorted(set(mapping) - {*CONFIG_KEYS, "tz"})
    if unknown:
        raise CalendarError(
            f"calendar {name!r}: unknown setting(s) {', '.join(map(str, unknown))}",
            hint=f"known settings: {', '.join(CONFIG_KEYS)}",
        )
    try:
        return Calendar(
            name=name,
            tz=str(mapping.get("timezone", mapping.get("tz", "UTC"))),
            week=_week_setting(mapping.get("hours", DEFAULT_HOURS)),
            holidays=_holiday_codes(mapping.get("holidays")),
            closed=tuple(_closed_dates(mapping.get("closed"))),
            closed_yearly=tuple(_yearly_dates(mapping.get("closed_yearly"))),
            openings=tuple(_openings(mapping.get("open"))),
        )
    except HoursError as exc:
        raise CalendarError(f"calendar {name!r}: {exc.message}", hint=exc.hint) from None
    except CalendarError as exc:
        raise CalendarError(f"calendar {name!r}: {exc.message}", hint=exc.hint) from None


def _week_setting(value: object) -> Week:
    if isinstance(value, Mapping):
        return week_from_mapping(dict(value))
    if value is None:
        return parse_week("closed")
    return parse_week(str(value))


def _listify(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str | dt.date):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise CalendarError(f"{value!r} should be a list")


def _holiday_codes(value: object) -> tuple[str, ...]:
    codes = []
    for item in _listify(value):
        if isinstance(item, Mapping):
            country, sub = item.get("country", ""), item.get("subdivision")
            item = f"{country}-{sub}" if sub else str(country)
        codes.extend(part.strip() for part in str(item).split(",") if part.strip())
    return tuple(dict.fromkeys(_canonical_code(code) for code in codes))


def _canonical_code(code: str) -> str:
    country, subdivision = split_holiday_code(code)
    return f"{country}-{subdivision}" if subdivision else country


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise CalendarError(f"{value!r} is not a date", hint="write YYYY-MM-DD") from None


def _closed_dates(value: object) -> Iterable[dt.date]:
    """Dates and inclusive ranges `2024-12-24..2024-12-31`."""
    for item in _listify(value):
        first, sep, last = str(item).partition("..") if isinstance(item, str) else (item, "", "")
        start = parse_date(first)
        end = parse_date(last) if sep else start
        if end < start:
            raise CalendarError(f"closure range {item!r} ends before it starts")
        yield from (start + dt.timedelta(days=n) for n in range((end - start).days + 1))


def _yearly_dates(value: object) -> Iterable[tuple[int, int]]:
    for item in _listify(value):
        text = item.strftime("%m-%d") if isinstance(item, dt.date) else str(item).strip()
        month_text, _, day_text = text.partition("-")
        try:
            month, day = int(month_text), int(day_text)
            dt.date(2024, month, day)  # a leap year, so 02-29 is valid
        except ValueError:
            raise CalendarError(
                f"{item!r} is not a yearly date", hint="write MM-DD, e.g. 12-24"
            ) from None
        yield (month, day)


def _openings(value: object) -> Iterable[tuple[dt.date, DaySlots]]:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise CalendarError(
            "'open' must map dates to hours", hint="e.g. open: {2024-12-28: 10:00-14:00}"
        )
    for day, slots in value.items():
        text = ",".join(slots) if isinstance(slots, list) else str(slots)
        yield parse_date(day), parse_slots(text.replace(" ", ""))
