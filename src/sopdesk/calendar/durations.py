"""Durations: calendar or business, in minutes, hours, days or weeks.

`parse_duration("24 business hours")` is the one reader of the duration part of the
SOP time-phrase grammar (docs/sop-format.md, docs/business-time.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


MINUTES_PER: dict[Unit, int] = {Unit.MINUTE: 1, Unit.HOUR: 60, Unit.DAY: 1440, Unit.WEEK: 10080}

_UNIT_WORDS: dict[str, Unit] = {
    "minute": Unit.MINUTE,
    "minutes": Unit.MINUTE,
    "min": Unit.MINUTE,
    "mins": Unit.MINUTE,
    "hour": Unit.HOUR,
    "hours": Unit.HOUR,
    "hr": Unit.HOUR,
    "hrs": Unit.HOUR,
    "h": Unit.HOUR,
    "day": Unit.DAY,
    "days": Unit.DAY,
    "week": Unit.WEEK,
    "weeks": Unit.WEEK,
}

NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "twenty-four": 24,
    "thirty": 30,
    "forty-eight": 48,
    "seventy-two": 72,
}

_DURATION_RE = re.compile(
    r"^\s*(?P<count>\d+|[a-z]+(?:-[a-z]+)?)\s*"
    r"(?P<kind>business\s+|working\s+|calendar\s+)?"
    r"(?P<unit>[a-z]+)\s*$",
    re.IGNORECASE,
)


class DurationError(ValueError):
    """A duration phrase that does not follow the grammar; the message says how to fix it."""


@dataclass(frozen=True, order=True)
class Duration:
    """An amount of time. Business durations count only opening hours of a calendar."""

    amount: int
    unit: Unit
    business: bool = False

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise DurationError("a duration cannot be negative")

    @property
    def minutes(self) -> int:
        """Length in minutes; for business days/weeks this is a count of business days x 1440
        only as an ordering key; business-day arithmetic is done by the calendar."""
        return self.amount * MINUTES_PER[self.unit]

    def __str__(self) -> str:
        word = self.unit.value if self.amount == 1 else f"{self.unit.value}s"
        return f"{self.amount} {'business ' if self.business else ''}{word}"


def parse_duration(text: str) -> Duration:
    """Parse `12 hours`, `24 business hours`, `five business days`, `1 week`.

    `working` is a synonym of `business`; `calendar` is the explicit default.
    """
    match = _DURATION_RE.match(text)
    if not match:
        raise DurationError(
            f"{text.strip()!r} is not a duration; write a number and a unit, "
            "e.g. '12 hours', '24 business hours' or '5 business days'"
        )
    count_word = match["count"].lower()
    if count_word.isdigit():
        amount = int(count_word)
    elif count_word in NUMBER_WORDS:
        amount = NUMBER_WORDS[count_word]
    else:
        raise DurationError(f"{match['count']!r} is not a number; write digits, e.g. '5'")
    unit = _UNIT_WORDS.get(match["unit"].lower())
    if unit is None:
        raise DurationError(f"{match['unit']!r} is not a unit; use minutes, hours, days or weeks")
    kind = (match["kind"] or "").strip().lower()
    return Duration(amount, unit, business=kind in {"business", "working"})
