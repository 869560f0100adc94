"""Warnings at a share of the allowance, escalation levels at and after the breach."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sopdesk.engine import (
    Case,
    CaseStatus,
    Escalate,
    Message,
    MessageKind,
    RecordBreach,
    ScheduleTimer,
    World,
    add_message,
    change_status,
    decide,
    record,
    start_run,
)
from sopdesk.engine.escalation import levels
from tests.engine.conftest import at, make_sop

OPENED = at(2, 10)  # Monday 10:00; step due Tuesday 10:00
MATRIX = [
    {"at": "75%", "notify": "lead"},
    {"at": "breach", "assign": "manager", "priority": "high", "notify": ["lead"]},
    {"at": "2 business hours after breach", "notify": "director", "priority": "urgent"},
]


def one_step_sop(matrix=MATRIX, **extra):
    step = {"id": "a", "title": "Step a", "owner": "agent", "within": "8 business hours"}
    return make_sop(steps=[step], escalation=matrix, **extra)


def fired(decisions):
    return sorted((d.target, d.level) for d in decisions if isinstance(d, Escalate))


@pytest.mark.parametrize(
    ("now", "expected", "breach"),
    [
        (at(2, 15, 59), [], False),
        (at(2, 16), [("step:a", 1)], False),
        (at(3, 9, 59), [("step:a", 1)], False),
        # the breach passed before anyone looked: the warning is moot, the breach fires
        (at(3, 10), [("step:a", 2)], True),
        (at(3, 12), [("step:a", 2), ("step:a", 3)], True),
    ],
)
def test_what_fires_by_when(calendar, now, expected, breach):
    sop = one_step_sop()
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    decisions = decide(state, sop, calendar, now)
    assert fired(decisions) == expected
    assert any(isinstance(d, RecordBreach) for d in decisions) is breach


def test_each_level_fires_once_and_the_timer_walks_the_matrix(calendar):
    sop = one_step_sop()
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    assert state.timers[0].at == at(2, 16)
    seen = []
    for now in (at(2, 16), at(2, 17), at(3, 10), at(3, 11), at(3, 12), at(4, 9)):
        decisions = decide(state, sop, calendar, now)
        seen += fired(decisions)
        state = record(state, decisions, now)
    assert seen == [("step:a", 1), ("step:a", 2), ("step:a", 3)]
    assert [b.due_at for b in state.breaches] == [at(3, 10)]
    assert state.timers == ()  # nothing left to wake up for


def test_escalation_reassigns_and_raises_priority_only_upwards(calendar):
    sop = one_step_sop()
    case = Case("c", OPENED, priority="high")
    state = start_run(sop, case, calendar, OPENED).state
    decisions = decide(state, sop, calendar, at(3, 12))
    by_level = {d.level: d for d in decisions if isinstance(d, Escalate)}
    assert by_level[2].assign == "manager" and by_level[2].priority is None
    assert by_level[2].notify == ("lead",)
    assert by_level[3].priority == "urgent"
    state = record(state, decisions, at(3, 12))
    assert state.case.assignee == "manager" and state.case.priority == "urgent"


def test_pending_pauses_the_march_to_the_breach(calendar):
    sop = one_step_sop()
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    # pending from Monday 12:00 (2 h used) until Wednesday 12:00
    state = change_status(state, World(sop, calendar, at(2, 12)), CaseStatus.PENDING).state
    assert fired(decide(state, sop, calendar, at(3, 10))) == []  # 75% not reached: 2 h of 8
    assert not any(isinstance(d, RecordBreach) for d in decide(state, sop, calendar, at(4, 11)))
    state = change_status(state, World(sop, calendar, at(4, 12)), CaseStatus.OPEN).state
    timers = {t.key: t.at for t in state.timers}
    assert timers["c:step:a"] == at(4, 16)  # 75%: 4 more hours of the 6
    # due Thursday 10:00 (Wednesday 12-17 and Thursday 9-10), not Tuesday 10:00
    assert fired(decide(state, sop, calendar, at(5, 9, 59))) == [("step:a", 1)]
    assert fired(decide(state, sop, calendar, at(5, 11))) == [("step:a", 2)]


@pytest.mark.parametrize(
    ("scope", "targets"),
    [
        (None, {"step:a", "metric:resolution"}),
        ("steps", {"step:a"}),
        ("sla", {"metric:resolution"}),
        ("a", {"step:a"}),
        ("resolution", {"metric:resolution"}),
        ("first_response", set()),
    ],
)
def test_levels_scoped_by_metric(calendar, scope, targets):
    row = {"at": "breach", "notify": "lead"}
    if scope:
        row["metric"] = scope
    sop = one_step_sop([row], standards={"resolution": "8 business hours"})
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    assert {t for t, _ in fired(decide(state, sop, calendar, at(3, 10)))} == targets


def test_levels_are_numbered_by_position_unless_given():
    sop = one_step_sop([{"at": "50%", "notify": "x"}, {"at": "breach", "level": 5, "notify": "y"}])
    assert [lv.number for lv in levels(sop)] == [1, 5]


def test_a_settled_step_does_not_escalate(calendar):
    sop = one_step_sop()
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    state = replace(state, steps=(replace(state.steps[0], status="done", completed_at=at(2, 11)),))
    decisions = decide(state, sop, calendar, at(4, 9))
    assert not any(isinstance(d, (Escalate, RecordBreach, ScheduleTimer)) for d in decisions)


def test_each_next_response_cycle_escalates_once(calendar):
    sop = make_sop(
        standards={"next_response": "1 business hour"},
        escalation=[{"at": "breach", "notify": "lead", "metric": "next_response"}],
    )
    state = start_run(sop, Case("c", OPENED), calendar, OPENED).state
    story = [  # messages in time order, with worker ticks (None) between them
        (at(2, 10, 30), Message("r1", MessageKind.PUBLIC, at(2, 10, 30))),
        (at(2, 11), Message("m1", MessageKind.INBOUND, at(2, 11))),  # due 12:00
        (at(2, 12), None),
        (at(2, 12, 30), None),
        (at(2, 13), Message("r2", MessageKind.PUBLIC, at(2, 13))),
        (at(2, 14), Message("m2", MessageKind.INBOUND, at(2, 14))),  # due 15:00
        (at(2, 15, 30), None),
    ]
    seen = []
    for now, message in story:
        if message is None:
            decisions = decide(state, sop, calendar, now)
            state = record(state, decisions, now)
        else:
            outcome = add_message(state, World(sop, calendar, now), message)
            state, decisions = outcome.state, outcome.decisions
        seen += fired(decisions)
    assert sorted(set(seen)) == sorted(seen)
    assert sorted(seen) == [("metric:next_response:m1", 1), ("metric:next_response:m2", 1)]


def test_deciding_is_deterministic(calendar, returns_sop):
    state = start_run(returns_sop, Case("c", OPENED), calendar, OPENED).state
    assert decide(state, returns_sop, calendar, at(9)) == decide(
        state, returns_sop, calendar, at(9)
    )
