"""Properties over random case histories (hypothesis, modest budgets).

- deciding again after recording the decisions yields nothing new;
- an escalation level fires at most once per (case, target, level);
- pausing never makes a breach earlier;
- `project` answers what `plan_steps` and `next_due_at` answer separately;
- starting a run with the case's first message decides what starting and then adding
  the message decides.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopdesk.calendar import parse_duration
from sopdesk.engine import (
    Case,
    CaseStatus,
    Escalate,
    Message,
    MessageKind,
    World,
    add_message,
    change_status,
    complete_step,
    decide,
    next_due_at,
    plan_steps,
    project,
    quiet_until,
    record,
    record_event,
    start_run,
)
from sopdesk.engine.clocks import PausableClock, counting_intervals
from sopdesk.errors import SopdeskError
from sopdesk.sop.parser import load_sop
from tests.engine.conftest import LIBRARY, at

OPENED = at(2, 9, 30)
STANDARDS = {
    "first_response": "4 business hours",
    "next_response": "2 business hours",
    "periodic_update": "1 business day",
    "resolution": "3 business days",
}
STEPS = ("check-eligibility", "label", "receive", "refund")
ACTIONS = st.one_of(
    st.sampled_from(["pending", "open", "on_hold", "resolve", "reply", "inbound", "event", "tick"]),
    st.sampled_from([f"complete:{s}" for s in STEPS]),
)
HISTORY = st.lists(st.tuples(st.integers(1, 60 * 30), ACTIONS), min_size=1, max_size=25)
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("HX", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def act(state, world, action, serial):
    """Apply one random action; a refused one (a closed gate, ...) is only a worker tick."""
    status = {"pending": CaseStatus.PENDING, "open": CaseStatus.OPEN, "on_hold": CaseStatus.ON_HOLD}
    now = world.now
    try:
        if action in status:
            return change_status(state, world, status[action]).state
        if action == "resolve":
            return change_status(state, world, CaseStatus.RESOLVED).state
        if action in ("reply", "inbound"):
            kind = MessageKind.PUBLIC if action == "reply" else MessageKind.INBOUND
            return add_message(state, world, Message(f"m{serial}", kind, now)).state
        if action == "event":
            return record_event(state, world, "item_received").state
        if action.startswith("complete:"):
            return complete_step(state, world, action.partition(":")[2], "ann").state
    except SopdeskError:
        pass
    decisions = decide(state, world.sop, world.calendar, now)
    return record(state, decisions, now)


def play(sop, calendar, history):
    """Yield (state, now) after each action of a random history."""
    state = start_run(
        sop, Case("p", OPENED, fields={"item_received": True}), calendar, OPENED
    ).state
    now = OPENED
    for serial, (minutes, action) in enumerate(history):
        now += timedelta(minutes=minutes)
        state = act(state, World(sop, calendar, now), action, serial)
        yield state, now


@SETTINGS
@given(history=HISTORY)
def test_deciding_again_after_recording_yields_nothing(returns_sop, calendar, history):
    sop = returns_sop.model_copy(update={"standards": STANDARDS})
    for state, now in play(sop, calendar, history):
        assert decide(state, sop, calendar, now) == []


@SETTINGS
@given(history=HISTORY, tail_hours=st.integers(0, 24 * 20))
def test_escalations_never_fire_twice(returns_sop, calendar, history, tail_hours):
    sop = returns_sop.model_copy(update={"standards": STANDARDS})
    fired: list[tuple[str, int]] = []
    state, now = None, OPENED
    for state, now in play(sop, calendar, history):  # noqa: B007
        fired += [(e.target, e.level) for e in state.escalations]
    # then let the worker fire every timer for a while
    until = now + timedelta(hours=tail_hours)
    while state.timers and min(t.at for t in state.timers) <= until:
        now = min(t.at for t in state.timers)
        decisions = decide(state, sop, calendar, now)
        fired_now = [(d.target, d.level) for d in decisions if isinstance(d, Escalate)]
        assert not set(fired_now) & {(e.target, e.level) for e in state.escalations}
        state = record(state, decisions, now)
    keys = [(e.target, e.level) for e in state.escalations]
    assert len(keys) == len(set(keys))


STATUSES = st.sampled_from([CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.ON_HOLD])
HALTED = frozenset({CaseStatus.PENDING, CaseStatus.RESOLVED, CaseStatus.CLOSED})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(st.tuples(st.integers(1, 60 * 48), STATUSES), max_size=6),
    pause_at=st.integers(0, 60 * 24 * 5),
    pause_for=st.integers(1, 60 * 24 * 5),
    allowance=st.sampled_from(["4 business hours", "2 business days", "30 hours", "90 minutes"]),
)
def test_pausing_never_makes_a_breach_earlier(calendar, changes, pause_at, pause_for, allowance):
    timeline, when = [(OPENED, CaseStatus.NEW)], OPENED
    for minutes, status in changes:
        when += timedelta(minutes=minutes)
        timeline.append((when, status))
    paused_from = OPENED + timedelta(minutes=pause_at)
    paused_until = paused_from + timedelta(minutes=pause_for)
    with_pause = insert_pause(timeline, paused_from, paused_until)
    duration = parse_duration(allowance)
    now = OPENED + timedelta(days=60)

    def due(line):
        intervals = tuple(counting_intervals(line, OPENED, None, HALTED))
        return PausableClock(calendar, OPENED, duration, intervals).due_at(now)

    before, after = due(timeline), due(with_pause)
    if before is None:
        assert after is None
    else:
        assert after is None or after >= before


def insert_pause(timeline, start, end):
    """The timeline with the case pending from `start` to `end`, otherwise unchanged."""
    status_at_end = timeline[0][1]
    for changed_at, status in timeline:
        if changed_at <= end:
            status_at_end = status
    kept = [(t, s) for t, s in timeline if t < start or t > end]
    return sorted([*kept, (start, CaseStatus.PENDING), (end, status_at_end)], key=lambda p: p[0])


@SETTINGS
@given(history=HISTORY, share=st.floats(0, 1, exclude_max=True))
def test_a_quiet_case_stays_quiet_until_its_next_timer(returns_sop, calendar, history, share):
    """What lets the worker skip deciding again on a case it found quiet (`quiet_until`)."""
    sop = returns_sop.model_copy(update={"standards": STANDARDS})
    for state, now in play(sop, calendar, history):
        until = quiet_until(state) or now + timedelta(days=400)
        later = min(now + (until - now) * share, until - timedelta(microseconds=1))
        assert decide(state, sop, calendar, later) == []


@SETTINGS
@given(history=HISTORY, later_hours=st.integers(0, 24 * 10))
def test_project_is_the_plan_and_the_next_due_instant(returns_sop, calendar, history, later_hours):
    sop = returns_sop.model_copy(update={"standards": STANDARDS})
    for state, now in play(sop, calendar, history):
        for moment in (now, now + timedelta(hours=later_hours)):
            projection = project(state, sop, calendar, moment)
            assert projection.steps == plan_steps(state, sop, calendar, moment)
            assert projection.next_due_at == next_due_at(state, sop, calendar, moment)


LIBRARY_SOPS = [load_sop(path).document for path in sorted(LIBRARY.glob("*.md"))]
STATUSES = st.sampled_from([CaseStatus.NEW, CaseStatus.OPEN])


@SETTINGS
@given(
    index=st.integers(0, len(LIBRARY_SOPS) - 1),
    opened_minutes=st.integers(0, 60 * 24 * 9),
    message_after=st.integers(0, 60 * 24),
    start_after=st.integers(0, 60 * 24 * 3),
    status=STATUSES,
)
def test_starting_with_the_first_message_decides_what_adding_it_after_does(
    calendar, index, opened_minutes, message_after, start_after, status
):
    document = LIBRARY_SOPS[index]
    assert document is not None
    sop = document.meta
    opened = OPENED + timedelta(minutes=opened_minutes)
    message = Message("m1", MessageKind.INBOUND, opened + timedelta(minutes=message_after))
    now = message.at + timedelta(minutes=start_after)
    case = Case("c", opened, status=status, type="return", fields={"item_received": True})
    split = start_run(sop, case, calendar, now)
    added = add_message(split.state, World(sop, calendar, now), message)
    together = start_run(sop, case, calendar, now, messages=(message,))
    assert together.decisions == (*split.decisions, *added.decisions)
    assert together.state == added.state
