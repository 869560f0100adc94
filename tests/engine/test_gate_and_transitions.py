"""The completion gate and the step transitions (complete, skip, override, events, messages)."""

from __future__ import annotations

import pytest

from sopdesk.engine import (
    Case,
    CaseStatus,
    LogStep,
    Message,
    MessageKind,
    StepStatus,
    World,
    add_message,
    can_resolve,
    change_status,
    complete_step,
    override_step,
    record_event,
    resolve,
    skip_step,
    start_run,
)
from sopdesk.errors import Conflict, InvalidInput, NotFound
from tests.engine.conftest import at, make_sop

OPENED = at(2, 10)
NOW = at(2, 12)
STEPS = [
    {"id": "check", "title": "Check", "owner": "agent", "within": "4 business hours"},
    {"id": "pay", "title": "Pay", "owner": "agent", "within": "1 business day", "critical": True},
    {"id": "extra", "title": "Extra", "owner": "agent", "when": "case.fields.extra"},
    {"id": "after", "title": "After", "owner": "agent", "within": "1 day after resolved"},
]
SOP = make_sop(steps=STEPS, events={"arrived": "It arrived"})


def begin(calendar, **case):
    return start_run(SOP, Case("c", OPENED, **case), calendar, OPENED).state


def world(calendar, now=NOW):
    return World(SOP, calendar, now)


@pytest.mark.parametrize(
    ("done", "fields", "blocking", "needs_override"),
    [
        ([], {}, ("pay",), ("check",)),
        (["pay"], {}, (), ("check",)),
        (["check"], {}, ("pay",), ()),
        (["check", "pay"], {}, (), ()),
        (["check", "pay"], {"extra": True}, (), ("extra",)),
    ],
)
def test_gate(calendar, done, fields, blocking, needs_override):
    state = begin(calendar, fields=fields)
    for step_id in done:
        state = complete_step(state, world(calendar), step_id, by="ann").state
    gate = can_resolve(state, SOP)
    assert (gate.blocking, gate.needs_override) == (blocking, needs_override)
    assert gate.allowed is (not blocking and not needs_override)


def test_resolving_through_a_closed_gate_is_refused(calendar):
    state = begin(calendar)
    with pytest.raises(Conflict, match="critical steps not done: pay"):
        resolve(state, world(calendar))


def test_override_with_a_reason_opens_the_gate_and_is_logged(calendar):
    state = complete_step(begin(calendar), world(calendar), "pay", by="ann").state
    outcome = override_step(state, world(calendar), "check", reason="checked by phone", by="bob")
    assert LogStep(
        "c:step:check:overridden", "check", "overridden", "bob", "checked by phone", NOW
    ) in (outcome.decisions)
    step = outcome.state.step("check")
    assert (step.status, step.reason, step.by) == (StepStatus.OVERRIDDEN, "checked by phone", "bob")
    assert outcome.state.log[-1].what == "step_overridden"
    resolved = resolve(outcome.state, world(calendar, at(2, 13)))
    assert resolved.state.case.status is CaseStatus.RESOLVED


@pytest.mark.parametrize("transition", [skip_step, override_step])
def test_skipping_or_overriding_needs_a_reason(calendar, transition):
    with pytest.raises(InvalidInput):
        transition(begin(calendar), world(calendar), "check", reason="  ", by="bob")


@pytest.mark.parametrize("transition", [skip_step, override_step])
def test_a_critical_step_cannot_be_skipped_or_overridden(calendar, transition):
    with pytest.raises(Conflict, match="critical"):
        transition(begin(calendar), world(calendar), "pay", reason="customer said so", by="bob")


def test_completing_twice_or_an_unknown_step_is_refused(calendar):
    state = complete_step(begin(calendar), world(calendar), "check", by="ann").state
    with pytest.raises(Conflict):
        complete_step(state, world(calendar), "check", by="ann")
    with pytest.raises(NotFound):
        complete_step(state, world(calendar), "nope", by="ann")


def test_completion_cancels_the_step_timer(calendar):
    state = begin(calendar)
    assert any(t.key == "c:step:check" for t in state.timers)
    outcome = complete_step(state, world(calendar), "check", by="ann")
    assert not any(t.key == "c:step:check" for t in outcome.state.timers)
    assert outcome.state.step("check").completed_at == NOW


def test_only_declared_events_can_be_recorded(calendar):
    with pytest.raises(InvalidInput, match="arrived"):
        record_event(begin(calendar), world(calendar), "teleported")
    outcome = record_event(begin(calendar), world(calendar), "arrived", at(2, 11), by="wh")
    assert outcome.state.events[-1].at == at(2, 11)


@pytest.mark.parametrize(
    ("status", "kind", "after"),
    [
        (CaseStatus.PENDING, MessageKind.INBOUND, CaseStatus.OPEN),
        (CaseStatus.ON_HOLD, MessageKind.INBOUND, CaseStatus.OPEN),
        (CaseStatus.OPEN, MessageKind.INBOUND, CaseStatus.OPEN),
        (CaseStatus.PENDING, MessageKind.PUBLIC, CaseStatus.PENDING),
        (CaseStatus.PENDING, MessageKind.NOTE, CaseStatus.PENDING),
        (CaseStatus.CLOSED, MessageKind.INBOUND, CaseStatus.CLOSED),
    ],
)
def test_customer_messages_wake_the_case(calendar, status, kind, after):
    state = begin(calendar)
    if status is CaseStatus.CLOSED:
        state = complete_step(state, world(calendar), "check", by="a").state
        state = complete_step(state, world(calendar), "pay", by="a").state
    state = change_status(state, world(calendar), status).state
    outcome = add_message(state, world(calendar, at(2, 14)), Message("m", kind, at(2, 14)))
    assert outcome.state.case.status is after


def test_status_changes_are_history(calendar):
    state = begin(calendar)
    state = change_status(state, world(calendar), CaseStatus.PENDING, by="ann").state
    state = change_status(state, world(calendar, at(2, 13)), CaseStatus.OPEN, by="ann").state
    assert [(c.at, c.status) for c in state.status_history] == [
        (NOW, CaseStatus.PENDING),
        (at(2, 13), CaseStatus.OPEN),
    ]
