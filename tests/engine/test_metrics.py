"""SLA metrics (Zendesk-like definitions) rebuilt from messages and the status history."""

from __future__ import annotations

import pytest

from sopdesk.engine import PAUSE_ON_HOLD_TOO, Case, CaseState, ClockPolicy, Message
from sopdesk.engine import CaseStatus as S
from sopdesk.engine import MessageKind as K
from sopdesk.engine.report import clock_statuses
from sopdesk.engine.state import Run, StatusChange
from tests.engine.conftest import at, make_sop

OPENED = at(2, 10)  # Monday 10:00
LATER = at(20)


def state_with(sop, messages=(), statuses=()) -> CaseState:
    status = statuses[-1][1] if statuses else S.NEW
    return CaseState(
        case=Case("c", OPENED, status=status),
        run=Run(sop, 1, OPENED),
        messages=tuple(messages),
        status_history=tuple(StatusChange(t, s) for t, s in statuses),
    )


def msg(ident, kind, when, automated=False) -> Message:
    return Message(ident, kind, when, automated=automated)


def rows(state, calendar, policy=None, now=LATER):
    args = (state, state.run.sop, calendar, now) + ((policy,) if policy else ())
    return {r.target: r for r in clock_statuses(*args)}


FRT = make_sop(standards={"first_response": "4 business hours"})


@pytest.mark.parametrize(
    ("messages", "statuses", "policy", "due", "still_open"),
    [
        ([], [], None, at(2, 14), True),
        ([msg("r", K.PUBLIC, at(2, 11))], [], None, None, False),
        # an internal note is not a reply
        ([msg("n", K.NOTE, at(2, 11))], [], None, at(2, 14), True),
        # an automatic acknowledgement is not a reply, unless the policy says so
        ([msg("a", K.PUBLIC, at(2, 10), automated=True)], [], None, at(2, 14), True),
        (
            [msg("a", K.PUBLIC, at(2, 10), automated=True)],
            [],
            ClockPolicy(automated_replies_count=True),
            None,
            False,
        ),
        # pending pauses: 1 h counted, paused a business day, 3 h more
        ([], [(at(2, 11), S.PENDING), (at(3, 11), S.OPEN)], None, at(3, 14), True),
        # on hold counts by default ...
        ([], [(at(2, 11), S.ON_HOLD), (at(3, 11), S.OPEN)], None, at(2, 14), True),
        # ... and pauses when the team says so
        ([], [(at(2, 11), S.ON_HOLD), (at(3, 11), S.OPEN)], PAUSE_ON_HOLD_TOO, at(3, 14), True),
        # a reply after the breach: stopped, but the breach instant is known
        ([msg("r", K.PUBLIC, at(2, 15))], [], None, at(2, 14), False),
    ],
)
def test_first_response(calendar, messages, statuses, policy, due, still_open):
    row = rows(state_with(FRT, messages, statuses), calendar, policy)["metric:first_response"]
    assert row.due_at == due
    assert row.open is still_open


def test_a_paused_clock_has_no_due_until_it_resumes(calendar):
    row = rows(state_with(FRT, [], [(at(2, 11), S.PENDING)]), calendar)["metric:first_response"]
    assert row.due_at is None and row.open and not row.breached


def test_per_metric_pause_override(calendar):
    sop = make_sop(standards={"first_response": "4 business hours", "resolution": "1 business day"})
    policy = ClockPolicy(per_metric={"resolution": frozenset()})
    state = state_with(sop, [], [(at(2, 11), S.PENDING), (at(3, 11), S.OPEN)])
    found = rows(state, calendar, policy)
    assert found["metric:first_response"].due_at == at(3, 14)
    assert found["metric:resolution"].due_at == at(3, 10)  # never paused


NRT = make_sop(standards={"next_response": "2 business hours"})


def test_next_response_counts_from_the_oldest_unanswered_customer_message(calendar):
    messages = [
        msg("m1", K.INBOUND, at(2, 10)),
        msg("r1", K.PUBLIC, at(2, 11)),  # first reply: covered by first_response
        msg("m2", K.INBOUND, at(2, 12)),
        msg("m3", K.INBOUND, at(2, 13)),  # still the same cycle: m2 is the oldest
        msg("r2", K.PUBLIC, at(2, 15)),
        msg("m4", K.INBOUND, at(2, 16)),
    ]
    found = rows(state_with(NRT, messages), calendar)
    assert set(found) == {"metric:next_response:m2", "metric:next_response:m4"}
    answered_late = found["metric:next_response:m2"]
    assert answered_late.due_at == at(2, 14) and answered_late.breached and not answered_late.open
    waiting = found["metric:next_response:m4"]
    assert waiting.due_at == at(3, 10) and waiting.open


def test_no_next_response_before_the_first_reply(calendar):
    messages = [msg("m1", K.INBOUND, at(2, 10)), msg("m2", K.INBOUND, at(2, 11))]
    assert rows(state_with(NRT, messages), calendar) == {}


PERIODIC = make_sop(standards={"periodic_update": "4 business hours"})


def test_periodic_update_between_public_replies(calendar):
    messages = [msg("r1", K.PUBLIC, at(2, 11)), msg("r2", K.PUBLIC, at(2, 14))]
    found = rows(state_with(PERIODIC, messages), calendar)
    assert not found["metric:periodic_update:r1"].open
    assert found["metric:periodic_update:r1"].due_at is None  # met
    assert found["metric:periodic_update:r2"].due_at == at(3, 10)


def test_periodic_update_stops_when_resolved(calendar):
    messages = [msg("r1", K.PUBLIC, at(2, 11))]
    state = state_with(PERIODIC, messages, [(at(2, 12), S.RESOLVED)])
    assert not rows(state, calendar)["metric:periodic_update:r1"].open


RESOLUTION = make_sop(standards={"resolution": "1 business day", "csat": ">= 4.5"})


@pytest.mark.parametrize(
    ("statuses", "due", "still_open"),
    [
        ([], at(3, 10), True),
        ([(at(2, 12), S.RESOLVED)], None, False),
        # reopened: counts on from the 2 h already used
        ([(at(2, 12), S.RESOLVED), (at(3, 9), S.OPEN)], at(3, 15), True),
        # closed after the due instant, never paused
        ([(at(3, 12), S.RESOLVED), (at(4, 9), S.CLOSED)], at(3, 10), False),
    ],
)
def test_resolution(calendar, statuses, due, still_open):
    row = rows(state_with(RESOLUTION, [], statuses), calendar)["metric:resolution"]
    assert row.due_at == due and row.open is still_open


def test_standards_that_are_not_time_limits_are_not_clocks(calendar):
    found = rows(state_with(RESOLUTION), calendar)
    assert set(found) == {"metric:resolution"}


def test_time_used_and_left(calendar):
    state = state_with(FRT, [], [(at(2, 11), S.PENDING), (at(3, 11), S.OPEN)])
    row = rows(state, calendar, now=at(3, 12))["metric:first_response"]
    assert (row.used_minutes, row.remaining_minutes) == (120, 120)
    overdue = rows(state, calendar, now=at(3, 15))["metric:first_response"]
    assert overdue.remaining_minutes == -60 and overdue.breached
