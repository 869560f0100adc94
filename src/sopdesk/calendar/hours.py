"""Weekly opening hours: the `"mon-fri 09:00-17:00; sat 10:00-14:00"` grammar.

    hours   := "24/7" | "closed" | group ( ";" group )*
    group   := days " " slots | days " closed"
    days    := day ( "," day | "-" day )*          (mon tue wed thu fri sat sun; ranges wrap)
    slots   := slot ( "," slot )*
    slot    := HH:MM "-" HH:MM                      (end 24:00 allowed; end <= start = overnight)

A slot is a pair of minutes after the local midnight of the day it starts on; an overnight
slot (22:00-06:00) ends after 1440. Owns parsing, validation and the canonical text form;
must not import the timeline or anything with I/O.
"""

from __future__ import annotations

import re
from itertools import pairwise

from sopdesk.errors import InvalidInput

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 1440

Slot = tuple[int, int]
DaySlots = tuple[Slot, ...]
Week = tuple[DaySlots, ...]

EMPTY_WEEK: Week = ((),) * 7
_DAY_ALIASES = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{
        full: i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
HOURS_HINT = (
    "write e.g. 'mon-fri 09:00-17:00' or 'mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00'"
)


class HoursError(InvalidInput):
    """Opening hours that do not follow the grammar or overlap."""

    code = "invalid_hours"


def parse_time(text: str, *, allow_24: bool) -> int:
    """`"09:30"` -> 570 minutes after midnight; `"24:00"` only where `allow_24`."""
    match = _TIME.match(text.strip())
    if not match:
        raise HoursError(f"{text.strip()!r} is not a time of day", hint="use HH:MM, e.g. 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise HoursError(f"{text.strip()!r} is not a valid time of day", hint="use 00:00 to 23:59")
    return hours * 60 + minutes


def parse_slot(text: str) -> Slot:
    """`"09:00-17:00"` -> (540, 1020); `"22:00-06:00"` -> (1320, 1800) (overnight)."""
    start_text, sep, end_text = text.strip().partition("-")
    if not sep:
        raise HoursError(f"{text.strip()!r} is not a time range", hint="write e.g. 09:00-17:00")
    start = parse_time(start_text, allow_24=False)
    end = parse_time(end_text, allow_24=True)
    if end <= start:
        end += MINUTES_PER_DAY
    return (start, end)


def parse_slots(text: str) -> DaySlots:
    """`"09:00-12:00,13:00-17:00"` -> sorted, validated slots of one day; `"closed"` -> ()."""
    if text.strip().lower() in {"closed", ""}:
        return ()
    slots = tuple(sorted(parse_slot(part) for part in text.split(",")))
    check_day_slots(slots)
    return slots


def check_day_slots(slots: DaySlots) -> None:
    """Reject slots outside one day-and-a-night and overlaps; touching slots are fine."""
    for start, end in slots:
        if not (0 <= start < MINUTES_PER_DAY and start < end <= start + MINUTES_PER_DAY):
            raise HoursError(
                f"slot {start}-{end} (minutes) must start within the day and last at most 24 h",
                hint=HOURS_HINT,
            )
    for (_, end), (start, _) in pairwise(slots):
        if start < end:
            raise HoursError(
                f"slots {format_slots(slots)} overlap", hint="list each opening period once"
            )


def parse_days(text: str) -> list[int]:
    """`"mon-fri"` -> [0..4]; `"mon,wed,fri"`; `"fri-mon"` wraps to [4, 5, 6, 0]."""
    days: list[int] = []
    for part in text.lower().split(","):
        first, sep, last = part.strip().partition("-")
        begin = _day_index(first)
        end = _day_index(last) if sep else begin
        span = (end - begin) % 7
        days.extend((begin + offset) % 7 for offset in range(span + 1))
    return days


def _day_index(word: str) -> int:
    index = _DAY_ALIASES.get(word.strip())
    if index is None:
        raise HoursError(
            f"{word.strip()!r} is not a day", hint="use mon, tue, wed, thu, fri, sat, sun"
        )
    return index


def parse_week(text: str) -> Week:
    """Parse the whole weekly grammar into 7 tuples of slots, Monday first."""
    normalised = " ".join(text.split()).lower()
    if normalised in {"24/7", "24x7", "always"}:
        return (((0, MINUTES_PER_DAY),),) * 7
    if normalised in {"closed", "never", ""}:
        return EMPTY_WEEK
    week: list[list[Slot]] = [[] for _ in range(7)]
    for group in filter(None, (part.strip() for part in normalised.split(";"))):
        days_text, _, slots_text = group.partition(" ")
        if not slots_text:
            raise HoursError(f"{group!r} has no opening times", hint=HOURS_HINT)
        slots = parse_slots(slots_text.replace(" ", ""))
        for day in parse_days(days_text):
            week[day].extend(slots)
    return check_week(tuple(tuple(sorted(day)) for day in week))


def week_from_mapping(mapping: dict[str, object]) -> Week:
    """`{"mon": "09:00-17:00", "sat": "closed", "tue-thu": ["09:00-12:00", "13:00-17:00"]}`."""
    groups = []
    for days_text, slots in mapping.items():
        slots_text = ",".join(slots) if isinstance(slots, list) else str(slots)
        groups.append(f"{days_text} {slots_text or 'closed'}")
    return parse_week("; ".join(groups))


def check_week(week: Week) -> Week:
    """Reject overlaps inside a day and an overnight slot running into the next day's first slot."""
    for day, slots in enumerate(week):
        check_day_slots(slots)
        if not slots:
            continue
        spill = max(end for _, end in slots) - MINUTES_PER_DAY
        following = week[(day + 1) % 7]
        if spill > 0 and following and following[0][0] < spill:
            raise HoursError(
                f"the overnight slot on {DAY_NAMES[day]} runs into {DAY_NAMES[(day + 1) % 7]}'s "
                f"first slot {format_slot(following[0])}",
                hint="end the overnight slot before the next day opens",
            )
    return week


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_slot(slot: Slot) -> str:
    start, end = slot
    shown_end = end if end <= MINUTES_PER_DAY else end - MINUTES_PER_DAY
    return f"{format_time(start)}-{format_time(shown_end)}"


def format_slots(slots: DaySlots) -> str:
    return ",".join(format_slot(slot) for slot in slots) if slots else "closed"


def format_week(week: Week) -> str:
    """Canonical text: consecutive days with equal slots grouped, closed days left out."""
    if all(day == ((0, MINUTES_PER_DAY),) for day in week):
        return "24/7"
    groups: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and week[last + 1] == week[day]:
            last += 1
        if week[day]:
            names = DAY_NAMES[day] if last == day else f"{DAY_NAMES[day]}-{DAY_NAMES[last]}"
            groups.append(f"{names} {format_slots(week[day])}")
        day = last + 1
    return "; ".join(groups) if groups else "closed"
