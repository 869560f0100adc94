"""The returns SOP end to end, on paper: every decision from opening to reopening.

A worker is simulated by `run_until`: it fires each timer at its instant and records the
decisions, exactly as `sopdesk worker` will. Times are UTC in March 2026; the default
calendar opens Monday to Friday 09:00-17:00 (2 March is a Monday).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from sopdesk.engine import (
    CancelFollowup,
    Case,
    CaseStatus,
    Escalate,
    Message,
    MessageKind,
    RecordBreach,
    ScheduleFollowup,
    SendTemplate,
    World,
    add_message,
    change_status,
    complete_step,
    decide,
    plan_steps,
    record,
    record_event,
    resolve,
    start_run,
)
from sopdesk.engine.report import clock_statuses
from sopdesk.errors import Conflict
from tests.engine.conftest import at


class Desk:
    """One case on paper: the state, every decision so far, and the worker's loop."""

    def __init__(self, sop, calendar, state, decisions):
        self.sop, self.calendar, self.state = sop, calendar, state
        self.decisions = list(decisions)

    def world(self, now):
        return World(self.sop, self.calendar, now)

    def apply(self, outcome):
        self.state = outcome.state
        self.decisions += outcome.decisions
        return outcome.decisions

    def run_until(self, until):
        """Fire every timer due by `until`, in order; return the decisions made."""
        made = []
        while self.state.timers and min(t.at for t in self.state.timers) <= until:
            now = min(t.at for t in self.state.timers)
            decisions = decide(self.state, self.sop, self.calendar, now)
            self.state = record(self.state, decisions, now)
            made += decisions
        self.decisions += made
        return made

    def due(self, step_id, now):
        plan = plan_steps(self.state, self.sop, self.calendar, now)
        return next(s for s in plan if s.step_id == step_id).due_at


def escalations(decisions, target=None):
    return [
        (d.target, d.level)
        for d in decisions
        if isinstance(d, Escalate) and target in (None, d.target)
    ]


@pytest.fixture
def desk(returns_sop, calendar) -> Desk:
    case = Case("r1", at(2, 10), type="return", channel="email", subject="Return my boots")
    plan = start_run(returns_sop, case, calendar, at(2, 10))
    return Desk(returns_sop, calendar, plan.state, plan.decisions)


def test_the_returns_sop_end_to_end(desk):
    # Monday 10:00: the case opens and the acknowledgement goes out at once
    ack = SendTemplate("r1:step:acknowledge:send", "return-ack", "email", "step:acknowledge")
    assert desk.decisions[0] == ack
    desk.apply(add_message(desk.state, desk.world(at(2, 10, 1)), auto_reply(at(2, 10, 1))))
    assert desk.due("label", at(2, 11)) == at(3, 10)  # 1 business day after the ack
    assert desk.due("refund", at(2, 11)) is None  # waits for the item

    # the agent checks eligibility, replies with the label, completes both
    desk.apply(complete_step(desk.state, desk.world(at(2, 11)), "check-eligibility", "ann"))
    desk.apply(add_message(desk.state, desk.world(at(2, 11, 30)), reply("m2", at(2, 11, 30))))
    desk.apply(complete_step(desk.state, desk.world(at(2, 11, 30)), "label", "ann"))
    assert desk.run_until(at(4, 10)) == []  # nothing is late

    # Wednesday 11:00 the warehouse records the item: refund due 5 business days later
    desk.state = replace(desk.state, case=replace(desk.state.case, fields={"item_received": True}))
    desk.apply(record_event(desk.state, desk.world(at(4, 11)), "item_received", by="warehouse"))
    assert desk.due("receive", at(4, 11)) == at(5, 11)
    assert desk.due("refund", at(4, 11)) == at(11, 11)
    desk.apply(complete_step(desk.state, desk.world(at(4, 14)), "receive", "wh"))

    # warning at 75% of the refund's 40 business hours: Monday 9 March at the close
    made = desk.run_until(at(9, 17))
    assert escalations(made, "step:refund") == [("step:refund", 1)]
    warning = next(d for d in made if isinstance(d, Escalate) and d.target == "step:refund")
    assert warning.warning and warning.notify == ("support-lead",) and warning.assign is None

    # the breach on Wednesday 11 March 11:00: level 2 reassigns and raises the priority
    made = desk.run_until(at(11, 11))
    assert RecordBreach("r1:step:refund:breach", "step:refund", at(11, 11)) in made
    assert escalations(made, "step:refund") == [("step:refund", 2)]
    assert (desk.state.case.assignee, desk.state.case.priority) == ("support-manager", "high")

    # waiting on the customer pauses the clocks; their reply resumes them
    desk.apply(change_to(desk, CaseStatus.PENDING, at(11, 12)))
    assert desk.run_until(at(13, 9, 59)) == []
    desk.apply(add_message(desk.state, desk.world(at(13, 10)), inbound("m3", at(13, 10))))
    assert desk.state.case.status is CaseStatus.OPEN
    # resolution: 58 of 64 business hours used before the pause, so 6 h after the reply
    assert resolution_due(desk, at(13, 10)) == at(13, 16)

    # resolving is blocked by the critical refund until it is done
    with pytest.raises(Conflict, match="refund"):
        resolve(desk.state, desk.world(at(13, 11)))
    desk.apply(complete_step(desk.state, desk.world(at(13, 11, 30)), "refund", "ann"))
    made = desk.apply(resolve(desk.state, desk.world(at(13, 12)), by="ann"))
    assert [(d.followup_id, d.send_at) for d in made if isinstance(d, ScheduleFollowup)] == [
        ("survey", at(14, 12)),
        ("review", at(20, 12)),
    ]

    # the survey goes out a day later
    made = desk.run_until(at(16, 8))
    assert made[0] == SendTemplate(
        "r1:followup:survey:r1", "csat-survey", "email", "followup:survey"
    )

    # the customer writes back on Monday: the case reopens and the review request is cancelled
    made = desk.apply(add_message(desk.state, desk.world(at(16, 9)), inbound("m4", at(16, 9))))
    assert desk.state.case.reopened == 1
    assert [d for d in made if isinstance(d, CancelFollowup)] == [
        CancelFollowup("r1:followup:review:r1", "review", "case reopened")
    ]
    assert not any(t.key.startswith("r1:followup") for t in desk.state.timers)

    # over the whole story each (target, level) fired once
    fired = escalations(desk.decisions)
    assert len(fired) == len(set(fired))
    assert ("step:refund", 2) in fired


def test_the_review_request_goes_out_if_the_case_stays_resolved(desk):
    desk.state = replace(desk.state, case=replace(desk.state.case, fields={"item_received": True}))
    desk.apply(record_event(desk.state, desk.world(at(2, 12)), "item_received"))
    for step in ("check-eligibility", "label", "receive", "refund"):
        desk.apply(complete_step(desk.state, desk.world(at(2, 13)), step, "ann"))
    desk.apply(resolve(desk.state, desk.world(at(2, 14))))
    sends = [d.template for d in desk.run_until(at(31)) if isinstance(d, SendTemplate)]
    assert sends == ["csat-survey", "review-request"]
    assert desk.state.timers == ()


def auto_reply(when) -> Message:
    return Message("m1", MessageKind.PUBLIC, when, automated=True, author="system")


def reply(ident, when) -> Message:
    return Message(ident, MessageKind.PUBLIC, when, author="ann")


def inbound(ident, when) -> Message:
    return Message(ident, MessageKind.INBOUND, when, author="customer")


def change_to(desk, status, when):
    return change_status(desk.state, desk.world(when), status, by="ann")


def resolution_due(desk, now):
    rows = clock_statuses(desk.state, desk.sop, desk.calendar, now)
    return next(r.due_at for r in rows if r.target == "metric:resolution")
