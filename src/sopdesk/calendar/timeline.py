"""The precomputed table behind every deadline: opening intervals as UTC microseconds.

For a calendar and a range of years, `Timeline` holds the merged opening intervals
[open, close) in epoch microseconds with the business time before each one (its
"position"), and one row per business day with the positions where that day's business
time starts and ends. Every operation is then a bisect (scalar) or `searchsorted`
(NumPy) over the same integers, so both paths give identical answers.

Wall-clock slot edges become instants with `zoneinfo` and fold=0: an edge inside a DST
gap moves forward by the gap, an ambiguous edge is its first occurrence. Tables are
cached per calendar and grown on demand. Owns no I/O and reads no clock.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from itertools import pairwise
from threading import Lock

import numpy as np

from sopdesk.calendar.model import Calendar, CalendarError

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_DAY = 86_400 * US_PER_SECOND
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SEARCH_YEARS = 10  # how far ahead an opening (or a close) is looked for before giving up
MIN_YEAR, MAX_YEAR = 2, 9997
_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True, eq=False)
class BucketSearch:
    """`np.searchsorted(values, x, side)` in O(1) per query for the bulk path: x's bucket
    gives the answer at the bucket's start, then at most `steps` cheap corrections.
    Exactly equal to `np.searchsorted` (the bulk tests compare it with bisect)."""

    padded: np.ndarray  # the sorted values, then one int64 max
    base: int
    width: int
    starts: np.ndarray  # per bucket: searchsorted(values, bucket start, side)
    steps: int
    right: bool

    @classmethod
    def build(cls, values: np.ndarray, right: bool) -> BucketSearch:
        side = "right" if right else "left"
        base = int(values[0])
        width = max(1, (int(values[-1]) - base) // (4 * len(values)) + 1)
        edges = base + np.arange(0, (int(values[-1]) - base) // width + 2, dtype=np.int64) * width
        starts = np.searchsorted(values, edges, side=side)
        steps = int(np.max(np.diff(starts), initial=0))
        padded = np.append(values, np.iinfo(np.int64).max)
        return cls(padded, base, width, starts[:-1], steps, right)

    def search(self, x: np.ndarray) -> np.ndarray:
        bucket = np.clip((x - self.base) // self.width, 0, self.starts.size - 1)
        index = self.starts[bucket]
        padded = self.padded
        for _ in range(self.steps):
            found = padded[index]
            index = index + ((found <= x) if self.right else (found < x))
        return np.where(x < self.base, 0, index)


@dataclass(frozen=True, slots=True, eq=False)
class SecondsTable:
    """The scalar `add`'s copy of a table: the same intervals in whole seconds after `base`,
    with bucket indexes that replace both binary searches.

    Why: relative seconds stay below 2**30 for about 34 years, so CPython adds and
    compares them on its one-digit fast path rather than as multi-digit epoch
    microseconds; and a bucket lookup plus (usually) one comparison is cheaper than a
    `bisect` call. Exact for whole-second instants: every edge of the table is a whole
    second, so scaling by 10**6 changes no comparison and no sum.

    Lookups (inlined in `deadlines.add`, equal to the bisects of the microsecond table):
    - interval at or before `moment` (0 <= moment < limit):
      `i = open_buckets[moment >> open_shift]`, then `i += 1` while `opens[i + 1] <= moment`;
    - first interval whose `cum_end` reaches `target` (target <= total):
      `j = end_buckets[target >> end_shift]`, then `j += 1` while `cum_end[j] < target`.
    """

    base: dt.datetime  # covers_from, aware in UTC
    base_seconds: int  # covers_from in epoch seconds
    limit: int  # covers_to - covers_from, in seconds
    total: int  # business seconds in the table
    opens: list[int]  # then `limit`, which stops the forward scan
    closes: list[int]
    cum_start: list[int]
    cum_end: list[int]
    open_shift: int
    open_buckets: list[int]  # per bucket: the last interval opening at or before its start
    end_shift: int
    end_buckets: list[int]  # per bucket: the first interval whose cum_end is >= its start

    @classmethod
    def build(
        cls, covers_from: int, covers_to: int,
        opens: list[int], closes: list[int], cum_start: list[int], cum_end: list[int],
    ) -> SecondsTable | None:  # fmt: skip
        """None when some edge is not a whole second (no zone in tzdata does that)."""
        columns = (opens, closes, cum_start, cum_end)
        if any(value % US_PER_SECOND for column in ([covers_to], *columns) for value in column):
            return None
        base_seconds = covers_from // US_PER_SECOND
        limit = covers_to // US_PER_SECOND - base_seconds
        rel_opens = [v // US_PER_SECOND - base_seconds for v in opens]
        rel_closes = [v // US_PER_SECOND - base_seconds for v in closes]
        cum_start_s = [v // US_PER_SECOND for v in cum_start]
        cum_end_s = [v // US_PER_SECOND for v in cum_end]
        total = cum_end_s[-1]
        # Buckets no wider than the shortest gap between openings (resp. the shortest
        # interval), so a lookup rarely scans; at most about 2**14 buckets per index.
        open_shift = _bucket_shift(rel_opens[1:], limit)
        end_shift = _bucket_shift(cum_end_s[1:], total)
        small = list(range(len(rel_opens) + 1))  # share the int objects the buckets hold
        open_buckets = [
            small[bisect_right(rel_opens, k << open_shift) - 1]
            for k in range((limit >> open_shift) + 1)
        ]
        end_buckets = [
            small[bisect_left(cum_end_s, k << end_shift)] for k in range((total >> end_shift) + 1)
        ]
        return cls(
            EPOCH + dt.timedelta(seconds=base_seconds), base_seconds, limit, total,
            [*rel_opens, limit], rel_closes, cum_start_s, cum_end_s,
            open_shift, open_buckets, end_shift, end_buckets,
        )  # fmt: skip


def _bucket_shift(ascending: list[int], span: int) -> int:
    """log2 of a bucket width: at most the smallest step of `ascending`, at least what
    keeps `span` within about 2**14 buckets."""
    steps = [b - a for a, b in pairwise(ascending) if b > a]
    finest = max(min(steps, default=span).bit_length() - 1, 0)
    return max(finest, (span >> 14).bit_length())


@dataclass(frozen=True, slots=True, eq=False)
class Timeline:
    """Opening intervals and business days of one calendar over [first_year, last_year].

    `opens[0]`/`closes[0]` is an empty sentinel at `covers_from`, so every covered instant
    has an interval at or before it. Lists serve the scalar path (`seconds` is its
    whole-second copy for `add`), arrays the NumPy path.
    """

    calendar: Calendar
    first_year: int
    last_year: int
    covers_from: int
    covers_to: int
    opens: list[int]
    closes: list[int]
    cum_start: list[int]
    cum_end: list[int]
    day_start: list[int]
    day_end: list[int]
    arrays: dict[str, np.ndarray]
    searches: dict[tuple[str, bool], BucketSearch]
    seconds: SecondsTable | None

    @property
    def total(self) -> int:
        """Business microseconds in the whole table."""
        return self.cum_end[-1]

    def search(self, name: str, x: np.ndarray, *, right: bool) -> np.ndarray:
        """`np.searchsorted(self.arrays[name], x, side)` through a (lazily built) bucket index."""
        key = (name, right)
        if key not in self.searches:
            self.searches[key] = BucketSearch.build(self.arrays[name], right)
        return self.searches[key].search(x)

    def covers(self, instant: int) -> bool:
        return self.covers_from <= instant < self.covers_to

    def position(self, instant: int) -> int:
        """Business microseconds from the table start to `instant` (which must be covered)."""
        index = bisect_right(self.opens, instant) - 1
        opened = self.opens[index]
        return self.cum_start[index] + min(instant - opened, self.closes[index] - opened)


TIMELINE_CACHE: OrderedDict[Calendar, Timeline] = OrderedDict()
_LOCK = Lock()


def year_of(instant: int) -> int:
    """The UTC year of an epoch-microsecond instant (clamped to what datetime can hold)."""
    days = instant // US_PER_DAY
    if days < -700_000:
        return MIN_YEAR
    if days > 2_900_000:
        return MAX_YEAR
    return (EPOCH + dt.timedelta(days=days)).year


def timeline_for(calendar: Calendar, first: int, last: int | None = None) -> Timeline:
    """A table covering instants `first`..`last` (epoch µs), from the cache or newly built."""
    last = first if last is None else last
    cached = calendar.timeline_memo or TIMELINE_CACHE.get(calendar)
    if isinstance(cached, Timeline) and cached.covers(first) and cached.covers(last):
        if cached is not calendar.timeline_memo:
            object.__setattr__(calendar, "timeline_memo", cached)
        return cached
    first_year, last_year = year_of(first) - 1, year_of(last) + 2
    if isinstance(cached, Timeline):
        first_year = min(first_year, cached.first_year)
        last_year = max(last_year, cached.last_year)
    return _store(calendar, build_timeline(calendar, first_year, last_year))


def extended(timeline: Timeline, years: int) -> Timeline:
    """The same calendar's table grown by at least `years` more years at the end."""
    if timeline.last_year >= MAX_YEAR:
        raise CalendarError(
            f"calendar {timeline.calendar.name!r}: the result would be after the year {MAX_YEAR}"
        )
    last_year = min(MAX_YEAR, timeline.last_year + max(years, 2))
    grown = build_timeline(timeline.calendar, timeline.first_year, last_year)
    return _store(timeline.calendar, grown)


def _store(calendar: Calendar, timeline: Timeline) -> Timeline:
    """Cache by value (equal calendars share a table) and memoise on the instance."""
    with _LOCK:
        TIMELINE_CACHE[calendar] = timeline
        TIMELINE_CACHE.move_to_end(calendar)
        while len(TIMELINE_CACHE) > _CACHE_SIZE:
            TIMELINE_CACHE.popitem(last=False)
    object.__setattr__(calendar, "timeline_memo", timeline)
    return timeline


def require_hours(calendar: Calendar) -> None:
    if not calendar.has_hours:
        raise CalendarError(
            f"calendar {calendar.name!r} has no opening hours at all, "
            "so no business deadline can be computed",
            hint="give it weekly hours, e.g. 'mon-fri 09:00-17:00'",
        )


def local_instant(calendar: Calendar, day: dt.date, minute: int) -> int:
    """Epoch µs of wall-clock `minute` after local midnight of `day` (fold=0)."""
    day = day + dt.timedelta(days=minute // 1440)
    minute %= 1440
    aware = dt.datetime(
        day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=calendar.zone
    )
    delta = aware - EPOCH
    return delta.days * US_PER_DAY + delta.seconds * US_PER_SECOND + delta.microseconds


def build_timeline(calendar: Calendar, first_year: int, last_year: int) -> Timeline:
    """Lay out every opening interval of local dates Dec 31 (first_year-1) .. Dec 31 last_year."""
    require_hours(calendar)
    first_year, last_year = max(first_year, MIN_YEAR), min(last_year, MAX_YEAR)
    covers_from = local_instant(calendar, dt.date(first_year, 1, 1), 0)
    covers_to = local_instant(calendar, dt.date(last_year + 1, 1, 1), 0)
    days = _business_day_intervals(calendar, first_year, last_year, covers_from)
    opens, closes, cum_start, cum_end = [covers_from], [covers_from], [0], [0]
    day_start: list[int] = []
    day_end: list[int] = []
    for intervals in days:
        day_start.append(cum_end[-1])
        for opened, closed in intervals:
            _append_interval(opens, closes, cum_start, cum_end, opened, closed)
        day_end.append(cum_end[-1])
    arrays = {
        name: np.asarray(values, dtype=np.int64)
        for name, values in {
            "opens": opens,
            "closes": closes,
            "cum_start": cum_start,
            "cum_end": cum_end,
            "day_start": day_start,
            "day_end": day_end,
        }.items()
    }
    seconds = SecondsTable.build(covers_from, covers_to, opens, closes, cum_start, cum_end)
    return Timeline(
        calendar, first_year, last_year, covers_from, covers_to,
        opens, closes, cum_start, cum_end, day_start, day_end, arrays, {}, seconds,
    )  # fmt: skip


def _append_interval(
    opens: list[int], closes: list[int], cum_start: list[int], cum_end: list[int],
    opened: int, closed: int,
) -> None:  # fmt: skip
    """Append [opened, closed), merging with a touching predecessor (24/7, overnight)."""
    if closes[-1] == opened and len(opens) > 1:
        closes[-1] = closed
        cum_end[-1] += closed - opened
        return
    opens.append(opened)
    closes.append(closed)
    cum_start.append(cum_end[-1])
    cum_end.append(cum_end[-1] + closed - opened)


def _business_day_intervals(
    calendar: Calendar, first_year: int, last_year: int, covers_from: int
) -> list[list[tuple[int, int]]]:
    """Per business day, its intervals in epoch µs, clipped so they never overlap."""
    day = dt.date(first_year, 1, 1) - dt.timedelta(days=1)
    last_day = dt.date(last_year, 12, 31)
    previous_close = covers_from
    result: list[list[tuple[int, int]]] = []
    while day <= last_day:
        intervals = []
        for start, end in calendar.slots_on(day):
            opened = max(local_instant(calendar, day, start), previous_close)
            closed = local_instant(calendar, day, end)
            if closed > opened:
                intervals.append((opened, closed))
                previous_close = closed
        if intervals:
            result.append(intervals)
        day += dt.timedelta(days=1)
    return result
