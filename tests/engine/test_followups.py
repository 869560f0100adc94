"""Follow-ups: scheduled on resolve, cancelled on reopen, rescheduled on the next resolve."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sopdesk.engine import (
    CancelFollowup,
    Case,
    CaseStatus,
    Message,
    MessageKind,
    ScheduleFollowup,
    SendTemplate,
    World,
    add_message,
    change_status,
    decide,
    record,
    start_run,
)
from sopdesk.engine.state import FollowupStatus
from tests.engine.conftest import at, make_sop

OPENED = at(2, 10)
FOLLOWUPS = [
    {"id": "survey", "send": "csat-survey", "after": "1 day after resolved"},
    {
        "id": "review",
        "send": "review-request",
        "after": "7 days after resolved",
        "unless": "case.fields.complained",
    },
]


def sop_with(followups=FOLLOWUPS):
    return make_sop(followups=followups)


def started(calendar, sop, **case):
    return start_run(sop, Case("c", OPENED, **case), calendar, OPENED).state


def resolved_at(state, sop, calendar, when):
    return change_status(state, World(sop, calendar, when), CaseStatus.RESOLVED)


def of(kind, decisions):
    return [d for d in decisions if isinstance(d, kind)]


def test_scheduled_on_resolve(calendar):
    sop = sop_with()
    outcome = resolved_at(started(calendar, sop), sop, calendar, at(3, 15))
    assert of(ScheduleFollowup, outcome.decisions) == [
        ScheduleFollowup("c:followup:survey:r1", "survey", "csat-survey", "email", at(4, 15)),
        ScheduleFollowup("c:followup:review:r1", "review", "review-request", "email", at(10, 15)),
    ]
    assert {t.key: t.at for t in outcome.state.timers} == {
        "c:followup:survey:r1": at(4, 15),
        "c:followup:review:r1": at(10, 15),
    }


def test_sent_when_due_and_only_once(calendar):
    sop = sop_with()
    state = resolved_at(started(calendar, sop), sop, calendar, at(3, 15)).state
    assert of(SendTemplate, decide(state, sop, calendar, at(4, 14, 59))) == []
    decisions = decide(state, sop, calendar, at(4, 15))
    assert of(SendTemplate, decisions) == [
        SendTemplate("c:followup:survey:r1", "csat-survey", "email", "followup:survey")
    ]
    state = record(state, decisions, at(4, 15))
    assert state.followup("c:followup:survey:r1").status is FollowupStatus.SENT
    assert decide(state, sop, calendar, at(4, 16)) == []


def test_reopen_cancels_and_the_next_resolve_reschedules(calendar):
    sop = sop_with()
    state = resolved_at(started(calendar, sop), sop, calendar, at(3, 15)).state
    reply = Message("m9", MessageKind.INBOUND, at(3, 18))
    reopened = add_message(state, World(sop, calendar, at(3, 18)), reply)
    assert reopened.state.case.status is CaseStatus.OPEN and reopened.state.case.reopened == 1
    assert of(CancelFollowup, reopened.decisions) == [
        CancelFollowup("c:followup:survey:r1", "survey", "case reopened"),
        CancelFollowup("c:followup:review:r1", "review", "case reopened"),
    ]
    assert reopened.state.timers == ()
    again = resolved_at(reopened.state, sop, calendar, at(5, 10))
    assert [d.key for d in of(ScheduleFollowup, again.decisions)] == [
        "c:followup:survey:r2",
        "c:followup:review:r2",
    ]
    statuses = {f.key: f.status for f in again.state.followups}
    assert statuses["c:followup:survey:r1"] is FollowupStatus.CANCELLED
    assert statuses["c:followup:survey:r2"] is FollowupStatus.SCHEDULED


def test_a_sent_followup_is_not_cancelled_by_a_reopen(calendar):
    sop = sop_with()
    state = resolved_at(started(calendar, sop), sop, calendar, at(3, 15)).state
    state = record(state, decide(state, sop, calendar, at(4, 15)), at(4, 15))
    reopened = change_status(state, World(sop, calendar, at(5, 9)), CaseStatus.OPEN)
    assert [d.key for d in of(CancelFollowup, reopened.decisions)] == ["c:followup:review:r1"]


@pytest.mark.parametrize(("complained", "sends"), [(True, False), (False, True)])
def test_unless_is_checked_when_the_followup_falls_due(calendar, complained, sends):
    sop = sop_with()
    state = resolved_at(started(calendar, sop), sop, calendar, at(3, 15)).state
    state = replace(state, case=replace(state.case, fields={"complained": complained}))
    decisions = [d for d in decide(state, sop, calendar, at(10, 15)) if "review" in d.key]
    if sends:
        assert of(SendTemplate, decisions) and not of(CancelFollowup, decisions)
    else:
        assert of(CancelFollowup, decisions) == [
            CancelFollowup("c:followup:review:r1", "review", "unless case.fields.complained")
        ]
        state = record(state, decisions, at(10, 15))
        assert not [d for d in decide(state, sop, calendar, at(11)) if "review" in d.key]


def test_followup_anchored_on_opening_is_scheduled_at_once(calendar):
    sop = sop_with([{"id": "check-in", "send": "check-in", "after": "3 days"}])
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert of(ScheduleFollowup, plan.decisions) == [
        ScheduleFollowup("c:followup:check-in", "check-in", "check-in", "email", at(5, 10))
    ]


def test_business_time_followups_use_the_calendar(calendar):
    sop = sop_with([{"id": "nudge", "send": "nudge", "after": "2 business days after resolved"}])
    outcome = resolved_at(started(calendar, sop), sop, calendar, at(6, 15))  # Friday
    assert of(ScheduleFollowup, outcome.decisions)[0].send_at == at(10, 15)  # Tuesday
