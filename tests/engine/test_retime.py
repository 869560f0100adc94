"""Re-timing open cases when the calendar or the SOP changes, without rewriting history."""

from __future__ import annotations

from datetime import date

from sopdesk.engine import (
    CancelTimer,
    Case,
    CaseStatus,
    RecordBreach,
    ScheduleFollowup,
    ScheduleTimer,
    World,
    change_status,
    decide,
    record,
    retime,
    start_run,
)
from sopdesk.engine.state import StepStatus
from tests.engine.conftest import at, make_sop

OPENED = at(2, 10)  # Monday
STEP = {"id": "a", "title": "Step a", "owner": "agent", "within": "8 business hours"}
SOP = make_sop(steps=[STEP], escalation=[{"at": "breach", "notify": "lead"}])


def test_a_closure_moves_the_open_due_instants(calendar):
    state = start_run(SOP, Case("c", OPENED), calendar, OPENED).state
    assert state.timers[0].at == at(3, 10)
    closed_tuesday = calendar.with_closures([date(2026, 3, 3)])
    outcome = retime(state, SOP, closed_tuesday, at(2, 12))
    assert outcome.decisions == (ScheduleTimer("c:step:a", at(4, 10), "step:a"),)
    assert outcome.state.run == state.run  # same SOP, same pin


def test_retiming_twice_changes_nothing_more(calendar):
    state = start_run(SOP, Case("c", OPENED), calendar, OPENED).state
    closed_tuesday = calendar.with_closures([date(2026, 3, 3)])
    once = retime(state, SOP, closed_tuesday, at(2, 12)).state
    assert retime(once, SOP, closed_tuesday, at(2, 12)).decisions == ()


def test_a_recorded_breach_stays_when_the_due_moves_later(calendar):
    state = start_run(SOP, Case("c", OPENED), calendar, OPENED).state
    decisions = decide(state, SOP, calendar, at(3, 11))
    assert [d.due_at for d in decisions if isinstance(d, RecordBreach)] == [at(3, 10)]
    state = record(state, decisions, at(3, 11))
    # a retroactive closure on Tuesday moves the due to Wednesday 10:00
    outcome = retime(state, SOP, calendar.with_closures([date(2026, 3, 3)]), at(3, 12))
    assert outcome.state.breaches == state.breaches
    assert outcome.state.escalations == state.escalations
    assert not any(isinstance(d, RecordBreach) for d in outcome.decisions)


def test_a_new_sop_version_repins_the_run(calendar):
    state = start_run(SOP, Case("c", OPENED), calendar, OPENED).state
    faster = {**STEP, "within": "4 business hours"}
    added = {"id": "b", "title": "Step b", "owner": "agent", "within": "1 business day"}
    new_sop = make_sop(steps=[faster, added])
    outcome = retime(state, new_sop, calendar, at(2, 11))
    assert outcome.state.run.version == 2 and outcome.state.run.sop is new_sop
    assert outcome.state.run.started_at == OPENED
    assert outcome.state.step("b").status is StepStatus.PENDING
    # without escalation rows each open step still wakes the worker at its due (to record it)
    timers = {t.key: t.at for t in outcome.state.timers}
    assert timers == {"c:step:a": at(2, 14), "c:step:b": at(3, 10)}


def test_steps_dropped_by_the_new_version_stop_running(calendar):
    state = start_run(SOP, Case("c", OPENED), calendar, OPENED).state
    other = make_sop(steps=[{"id": "z", "title": "Z", "owner": "agent"}])
    outcome = retime(state, other, calendar, at(2, 11), version=7)
    assert CancelTimer("c:step:a", "step:a") in outcome.decisions
    assert outcome.state.run.version == 7
    assert outcome.state.step("a").status is StepStatus.PENDING  # history kept as it was


def test_scheduled_followups_move_with_the_calendar(calendar):
    sop = make_sop(followups=[{"id": "f", "send": "t", "after": "1 business day after resolved"}])
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    state = change_status(state, World(sop, calendar, at(2, 15)), CaseStatus.RESOLVED).state
    assert state.followup("c:followup:f:r1").send_at == at(3, 15)
    outcome = retime(state, sop, calendar.with_closures([date(2026, 3, 3)]), at(2, 16))
    assert ScheduleFollowup("c:followup:f:r1", "f", "t", "email", at(4, 15)) in outcome.decisions
