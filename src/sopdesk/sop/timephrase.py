"""The SOP time-phrase grammar: limits, follow-up delays, escalation points, review cadence.

    limit      := "immediately" [ "after" anchor ] | duration [ ( "after" | "of" ) anchor ]
    duration   := count [ "business" | "working" | "calendar" ] unit      (see calendar.durations)
    anchor     := "opened" | "resolved" | "closed" | "reopened" | "first response"
                | step-id | event-id                 (synonyms: "case opened", "completion", ...)
    escalation := percent "%" | "breach" | duration "after breach"
    cadence    := "weekly" | "monthly" | "quarterly" | "semiannually" | "annually" | "yearly"
                | "every" count ( "days" | "weeks" | "months" | "years" )

A limit without an anchor counts from when the case opened. Vague words ("ASAP",
"promptly", "soon") are rejected with a hint that names a measurable phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sopdesk.calendar.durations import (
    NUMBER_WORDS,
    Duration,
    DurationError,
    Unit,
    parse_duration,
)

OPENED = "opened"
BUILTIN_ANCHORS: dict[str, str] = {
    "opened": OPENED,
    "case opened": OPENED,
    "the case opened": OPENED,
    "case creation": OPENED,
    "creation": OPENED,
    "case created": OPENED,
    "received": OPENED,
    "receipt": OPENED,
    "resolved": "resolved",
    "case resolved": "resolved",
    "the case is resolved": "resolved",
    "resolution": "resolved",
    "completion": "resolved",
    "service completion": "resolved",
    "completed": "resolved",
    "closed": "closed",
    "case closed": "closed",
    "reopened": "reopened",
    "first response": "first_response",
    "first_response": "first_response",
}
BUILTIN_EVENTS = frozenset(BUILTIN_ANCHORS.values())

VAGUE_WORDS = (
    "asap",
    "as soon as possible",
    "promptly",
    "soon",
    "quickly",
    "immediately if possible",
    "when possible",
    "in a timely manner",
    "timely",
    "right away",
    "shortly",
    "eventually",
    "later",
    "tbd",
)

_ANCHOR_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


class TimePhraseError(ValueError):
    """A time phrase outside the grammar; the message carries the fix."""


@dataclass(frozen=True)
class TimeLimit:
    """`duration` counted from `anchor` (a built-in event, a step id or a declared event)."""

    duration: Duration
    anchor: str = OPENED

    def __str__(self) -> str:
        if self.anchor == OPENED:
            return str(self.duration)
        return f"{self.duration} after {self.anchor}"


@dataclass(frozen=True)
class EscalationPoint:
    """Where an escalation level fires: a share of the allowance, the breach, or after it."""

    percent: int | None = None
    after_breach: Duration | None = None

    @property
    def is_breach(self) -> bool:
        return self.percent is None


@dataclass(frozen=True)
class Cadence:
    """How often an SOP is reviewed."""

    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        named = {1: "monthly", 3: "quarterly", 6: "semiannually", 12: "annually"}
        if not self.days and self.months in named:
            return named[self.months]
        if self.days:
            return f"every {self.days} days"
        return f"every {self.months} months"


def is_vague(text: str) -> bool:
    lowered = " ".join(text.lower().split())
    return any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in VAGUE_WORDS)


def _vague_error(text: str) -> TimePhraseError:
    return TimePhraseError(
        f"{text.strip()!r} is vague and cannot be measured; "
        "state a limit such as '12 hours' or '1 business day'"
    )


def normalise_anchor(text: str) -> str:
    words = " ".join(text.lower().strip().rstrip(".").split())
    if words.startswith("the "):
        words = words[4:]
    if words in BUILTIN_ANCHORS:
        return BUILTIN_ANCHORS[words]
    if words.startswith("step "):
        words = words[5:]
    if _ANCHOR_ID.match(words):
        return words
    raise TimePhraseError(
        f"{text.strip()!r} is not an anchor; use 'opened', 'resolved', a step id "
        "or an event declared under 'events'"
    )


def parse_limit(text: str) -> TimeLimit:
    """Parse `24 business hours`, `5 business days after item_received`, `immediately`."""
    if not isinstance(text, str) or not text.strip():
        raise TimePhraseError("empty time phrase; write e.g. '24 business hours'")
    phrase = " ".join(text.split())
    lowered = phrase.lower()
    if lowered.startswith("within "):
        phrase, lowered = phrase[7:], lowered[7:]
    head, sep, anchor_text = lowered.partition(" after ")
    if not sep:  # "within 5 business days of receipt" reads the same as "after"
        head, sep, anchor_text = lowered.partition(" of ")
    if head.strip() == "immediately":
        anchor = normalise_anchor(anchor_text) if sep else OPENED
        return TimeLimit(Duration(0, Unit.MINUTE), anchor)
    if is_vague(head):
        raise _vague_error(text)
    try:
        duration = parse_duration(head)
    except DurationError as exc:
        raise TimePhraseError(str(exc)) from None
    anchor = normalise_anchor(anchor_text) if sep else OPENED
    return TimeLimit(duration, anchor)


_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")


def parse_escalation_point(text: str | int | float) -> EscalationPoint:
    """Parse `75%`, `breach`, `2 business hours after breach`."""
    raw = str(text).strip().lower()
    if raw in {"breach", "at breach", "on breach", "breached"}:
        return EscalationPoint()
    match = _PERCENT.match(raw)
    if match:
        percent = int(match[1])
        if not 1 <= percent <= 100:
            raise TimePhraseError(f"{raw!r}: a share of the allowance is 1% to 100%")
        if percent == 100:
            return EscalationPoint()
        return EscalationPoint(percent=percent)
    head, sep, tail = raw.partition(" after ")
    if sep and tail.strip() in {"breach", "the breach"}:
        try:
            return EscalationPoint(after_breach=parse_duration(head))
        except DurationError as exc:
            raise TimePhraseError(str(exc)) from None
    raise TimePhraseError(
        f"{text!r} is not an escalation point; use a share such as '75%', "
        "'breach', or '2 business hours after breach'"
    )


_NAMED_CADENCE: dict[str, Cadence] = {
    "weekly": Cadence(days=7),
    "fortnightly": Cadence(days=14),
    "monthly": Cadence(months=1),
    "quarterly": Cadence(months=3),
    "semiannually": Cadence(months=6),
    "semi-annually": Cadence(months=6),
    "biannually": Cadence(months=6),
    "twice a year": Cadence(months=6),
    "annually": Cadence(months=12),
    "yearly": Cadence(months=12),
}
_EVERY = re.compile(r"^every\s+(\w+)\s+(day|week|month|year)s?$")


def parse_cadence(text: str) -> Cadence:
    """Parse `quarterly`, `monthly`, `every 6 months`, `every 2 weeks`."""
    raw = " ".join(str(text).lower().split())
    if raw in _NAMED_CADENCE:
        return _NAMED_CADENCE[raw]
    match = _EVERY.match(raw)
    if match:
        count_word, unit = match.groups()
        count = int(count_word) if count_word.isdigit() else NUMBER_WORDS.get(count_word)
        if count and count > 0:
            if unit == "day":
                return Cadence(days=count)
            if unit == "week":
                return Cadence(days=7 * count)
            if unit == "month":
                return Cadence(months=count)
            return Cadence(months=12 * count)
    raise TimePhraseError(
        f"{text!r} is not a review cadence; use 'monthly', 'quarterly', 'annually' "
        "or 'every 6 months'"
    )
