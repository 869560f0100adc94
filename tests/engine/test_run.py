"""Starting a run: due instants by anchor, conditional steps, system-owned sends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sopdesk.engine import (
    Case,
    CaseStatus,
    ScheduleTimer,
    SendTemplate,
    StepStatus,
    World,
    change_status,
    complete_step,
    plan_steps,
    record_event,
    start_run,
)
from tests.engine.conftest import at, make_sop

OPENED = at(2, 10)  # Monday 10:00
LATE_MONDAY = at(2, 16)


def steps_sop(*steps: dict, **extra) -> object:
    return make_sop(steps=list(steps), **extra)


def due_of(plan, step_id):
    return next(s for s in plan.steps if s.step_id == step_id).due_at


@pytest.mark.parametrize(
    ("within", "due"),
    [
        ("4 business hours", at(2, 14)),
        ("8 business hours", at(3, 10)),
        ("1 business day", at(3, 10)),
        ("5 business days", at(9, 10)),
        ("2 hours", at(2, 12)),
        ("3 days", at(5, 10)),
        ("within 24 business hours after case opened", at(5, 10)),
    ],
)
def test_due_from_opened(calendar, within, due):
    sop = steps_sop({"id": "a", "title": "Step a", "owner": "agent", "within": within})
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert due_of(plan, "a") == due


def test_step_anchored_on_a_step_waits_for_its_completion(calendar):
    sop = steps_sop(
        {"id": "first", "title": "First", "owner": "agent", "within": "1 business day"},
        {
            "id": "second",
            "title": "Second",
            "owner": "agent",
            "within": "2 business hours after first",
        },
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    second = next(s for s in plan.steps if s.step_id == "second")
    assert second.due_at is None and second.waiting_for == "first"
    assert not any(isinstance(d, ScheduleTimer) and "second" in d.key for d in plan.decisions)

    outcome = complete_step(plan.state, World(sop, calendar, at(2, 16)), "first", by="ann")
    assert due_of_state(outcome.state, sop, calendar, "second") == at(3, 10)
    assert ScheduleTimer("c:step:second", at(3, 10), "step:second") in outcome.decisions


def due_of_state(state, sop, calendar, step_id, now=LATE_MONDAY):
    return next(s for s in plan_steps(state, sop, calendar, now) if s.step_id == step_id).due_at


def test_step_anchored_on_an_event_waits_for_the_event(calendar):
    sop = steps_sop(
        {
            "id": "refund",
            "title": "Refund",
            "owner": "agent",
            "within": "5 business days after item_received",
        },
        events={"item_received": "The item arrived"},
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert plan.steps[0].waiting_for == "item_received" and plan.steps[0].due_at is None

    outcome = record_event(plan.state, World(sop, calendar, at(4, 11)), "item_received", at(4, 11))
    assert due_of_state(outcome.state, sop, calendar, "refund", at(4, 11)) == at(11, 11)


def test_step_anchored_on_resolution_runs_after_it(calendar):
    sop = steps_sop(
        {
            "id": "call",
            "title": "Call back",
            "owner": "agent",
            "within": "2 business days after resolved",
        },
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert plan.steps[0].waiting_for == "resolved"
    outcome = change_status(plan.state, World(sop, calendar, at(3, 12)), CaseStatus.RESOLVED)
    # a step that runs after the resolution does not gate it, and its clock runs while resolved
    assert due_of_state(outcome.state, sop, calendar, "call", at(3, 12)) == at(5, 12)


@pytest.mark.parametrize(
    ("when", "fields", "applies"),
    [
        ("case.fields.vip", {"vip": True}, True),
        ("case.fields.vip", {}, False),
        ("case.channel == 'email'", {}, True),
        ("case.channel == 'phone'", {}, False),
        ("not case.fields.item_received", {"item_received": True}, False),
        (None, {}, True),
    ],
)
def test_conditional_steps(calendar, when, fields, applies):
    step = {"id": "a", "title": "Step a", "owner": "agent", "within": "1 business day"}
    if when:
        step["when"] = when
    plan = start_run(steps_sop(step), Case("c", OPENED, fields=fields), calendar, OPENED)
    assert plan.steps[0].applies is applies
    assert (plan.steps[0].due_at is not None) is applies


def test_a_condition_that_becomes_true_schedules_the_step(calendar):
    sop = steps_sop(
        {
            "id": "a",
            "title": "Step a",
            "owner": "agent",
            "within": "1 business day",
            "when": "case.fields.go",
        }
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert plan.steps[0].due_at is None
    state = replace(plan.state, case=replace(plan.state.case, fields={"go": True}))
    assert due_of_state(state, sop, calendar, "a") == at(3, 10)


def test_system_step_sends_at_once_with_an_idempotency_key(calendar, returns_sop):
    plan = start_run(returns_sop, Case("c7", OPENED, type="return"), calendar, OPENED)
    send = SendTemplate("c7:step:acknowledge:send", "return-ack", "email", "step:acknowledge")
    assert plan.decisions[0] == send
    ack = plan.state.step("acknowledge")
    assert ack.status is StepStatus.DONE and ack.by == "system" and ack.completed_at == OPENED
    # steps anchored on the acknowledgement are scheduled in the same breath
    assert due_of(plan, "label") == at(3, 10)
    assert due_of(plan, "check-eligibility") == at(2, 14)


def test_system_step_anchored_on_an_event_sends_when_it_is_recorded(calendar):
    sop = steps_sop(
        {
            "id": "thanks",
            "title": "Thank",
            "owner": "system",
            "send": "thanks",
            "within": "1 hour after item_received",
        },
        events={"item_received": "The item arrived"},
        templates={"thanks": {"body": "Thank you"}},
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert not any(isinstance(d, SendTemplate) for d in plan.decisions)
    outcome = record_event(plan.state, World(sop, calendar, at(3, 9)), "item_received")
    assert [d for d in outcome.decisions if isinstance(d, SendTemplate)] == [
        SendTemplate("c:step:thanks:send", "thanks", "email", "step:thanks")
    ]


def test_the_run_pins_the_sop_version(calendar, returns_sop):
    plan = start_run(returns_sop, Case("c", OPENED), calendar, OPENED, version=3)
    assert plan.state.run.version == 3 and plan.state.run.sop is returns_sop
    assert [s.step_id for s in plan.state.steps] == [s.id for s in returns_sop.steps]


def test_a_chain_of_system_steps_runs_in_one_decision(calendar):
    sop = steps_sop(
        {"id": "one", "title": "One", "owner": "system", "send": "t1"},
        {
            "id": "two",
            "title": "Two",
            "owner": "system",
            "send": "t2",
            "within": "1 hour after one",
        },
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert [d.template for d in plan.decisions if isinstance(d, SendTemplate)] == ["t1", "t2"]


def test_a_system_step_after_resolution_sends_on_resolve(calendar):
    sop = steps_sop(
        {
            "id": "bye",
            "title": "Bye",
            "owner": "system",
            "send": "bye",
            "within": "1 hour after resolved",
        },
    )
    plan = start_run(sop, Case("c", OPENED), calendar, OPENED)
    assert not [d for d in plan.decisions if isinstance(d, SendTemplate)]
    outcome = change_status(plan.state, World(sop, calendar, at(2, 12)), CaseStatus.RESOLVED)
    assert [d.template for d in outcome.decisions if isinstance(d, SendTemplate)] == ["bye"]
