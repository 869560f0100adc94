"""Counting intervals from a status timeline, and pausable clocks on the business calendar."""

from __future__ import annotations

import pytest

from sopdesk.calendar import parse_duration
from sopdesk.calendar.clock import ClockEventKind
from sopdesk.engine.clocks import PausableClock, clock_events, counting_intervals
from sopdesk.engine.state import CaseStatus as S
from tests.engine.conftest import at

PENDING_OR_DONE = frozenset({S.PENDING, S.RESOLVED, S.CLOSED})


@pytest.mark.parametrize(
    ("timeline", "start", "stop", "expected"),
    [
        # never paused, still counting
        ([(at(2, 9), S.NEW)], at(2, 10), None, [(at(2, 10), None)]),
        # new -> open is one continuous stretch
        ([(at(2, 9), S.NEW), (at(2, 11), S.OPEN)], at(2, 9), None, [(at(2, 9), None)]),
        # a pending stretch is cut out
        (
            [(at(2, 9), S.OPEN), (at(2, 11), S.PENDING), (at(2, 13), S.OPEN)],
            at(2, 9),
            None,
            [(at(2, 9), at(2, 11)), (at(2, 13), None)],
        ),
        # stopped while running
        ([(at(2, 9), S.OPEN)], at(2, 9), at(2, 12), [(at(2, 9), at(2, 12))]),
        # stopped while paused: the pause ends the counting
        (
            [(at(2, 9), S.OPEN), (at(2, 10), S.PENDING)],
            at(2, 9),
            at(2, 12),
            [(at(2, 9), at(2, 10))],
        ),
        # started while paused: counting begins at the resume
        (
            [(at(2, 9), S.PENDING), (at(2, 14), S.OPEN)],
            at(2, 10),
            None,
            [(at(2, 14), None)],
        ),
        # resolved then reopened: the resolution counts as a halt
        (
            [(at(2, 9), S.OPEN), (at(2, 10), S.RESOLVED), (at(3, 9), S.OPEN)],
            at(2, 9),
            None,
            [(at(2, 9), at(2, 10)), (at(3, 9), None)],
        ),
        # halted throughout
        ([(at(2, 9), S.PENDING)], at(2, 9), None, []),
    ],
)
def test_counting_intervals(timeline, start, stop, expected):
    assert counting_intervals(timeline, start, stop, PENDING_OR_DONE) == expected


@pytest.mark.parametrize(
    ("intervals", "kinds"),
    [
        ([(at(2, 9), None)], ["start"]),
        ([(at(2, 9), at(2, 10))], ["start", "pause"]),
        ([(at(2, 10), None)], ["start", "pause", "resume"]),
        ([(at(2, 9), at(2, 10)), (at(2, 11), None)], ["start", "pause", "resume"]),
        ([], ["start", "pause"]),
    ],
)
def test_clock_events_replay_the_intervals(intervals, kinds):
    events = clock_events(at(2, 9), tuple(intervals))
    assert [e.kind for e in events] == [ClockEventKind(k) for k in kinds]
    assert events[0].at == at(2, 9)


@pytest.mark.parametrize(
    ("allowance", "intervals", "due"),
    [
        # 8 business hours from Monday 10:00 -> Tuesday 10:00
        ("8 business hours", [(at(2, 10), None)], at(3, 10)),
        # paused Monday 12:00-Tuesday 12:00 (8 business hours): due moves a day later
        ("8 business hours", [(at(2, 10), at(2, 12)), (at(3, 12), None)], at(4, 10)),
        # Friday 16:00 + 2 business hours -> Monday 10:00 (weekend skipped)
        ("2 business hours", [(at(6, 16), None)], at(9, 10)),
        # calendar time counts the night and the weekend
        ("24 hours", [(at(6, 16), None)], at(7, 16)),
        ("24 hours", [(at(6, 16), at(6, 18)), (at(7, 18), None)], at(8, 16)),
        # halted before the allowance is used: no due instant
        ("8 business hours", [(at(2, 10), at(2, 12))], None),
    ],
)
def test_pausable_clock_due(calendar, allowance, intervals, due):
    start = intervals[0][0] if intervals else at(2, 10)
    clock = PausableClock(calendar, start, parse_duration(allowance), tuple(intervals))
    assert clock.due_at(at(20)) == due


def test_share_of_the_allowance(calendar):
    clock = PausableClock(
        calendar, at(2, 9), parse_duration("8 business hours"), ((at(2, 9), None),)
    )
    assert clock.share_at(at(2, 9), 75) == at(2, 15)
    assert clock.share_at(at(2, 9), 50) == at(2, 13)


def test_a_clock_that_has_not_started_has_no_due(calendar):
    clock = PausableClock(calendar, at(3, 9), parse_duration("1 hour"), ((at(3, 9), None),))
    assert clock.due_at(at(2, 9)) is None
