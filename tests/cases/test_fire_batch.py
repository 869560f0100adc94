"""`do_fire_timers` leaves the same rows behind as `do_fire_timer` called per timer."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions import timers as timers_module
from sopdesk.actions.case_changes import (
    do_change_status,
    do_complete_step,
    do_override_step,
    do_resolve,
)
from sopdesk.actions.case_state import CaseTimers, look_at_runs
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.effects import schedule_timer
from sopdesk.actions.timers import do_fire_timer, do_fire_timers
from sopdesk.errors import Conflict
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, MessageRow, SopRunRow, StepStateRow, TimerRow
from tests.cases.conftest import MONDAY, events, outbox, timers
from tests.conftest import statements_sent

INQUIRIES = (
    ("I want a refund", "The shoes do not fit, please refund me."),
    ("Complaint about your service", "Nobody answered my call, this is not acceptable."),
    ("Quick question", "Where can I see my order history?"),
)


def open_set(session: Session, settings: Settings, tag: str) -> list[int]:
    return [
        do_open_case(
            session,
            customer_email=f"{tag}{i}@customer.example",
            customer_name="Ann Lee",
            subject=subject,
            body=body,
            channel="web",
            now=MONDAY,
            settings=settings,
        ).id
        for i, (subject, body) in enumerate(INQUIRIES)
    ]


def due_timer_ids(session: Session, case_ids: list[int], now: datetime) -> list[int]:
    query = (
        select(TimerRow.id)
        .where(TimerRow.case_id.in_(case_ids), TimerRow.status == "pending")
        .where(TimerRow.due_at <= now)
        .order_by(TimerRow.due_at, TimerRow.id)
    )
    return list(session.scalars(query))


def add_stray_timer(session: Session, case_id: int, key: str, due: datetime) -> int:
    """A timer on the case that is not the engine's: its fire finds nothing new to do."""
    row = TimerRow(
        key=key, case_id=case_id, kind="metric", due_at=due, status="pending", attempts=0,
        payload={"target": "metric:resolution"}, created_at=due,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


def snapshot(session: Session, case_id: int) -> dict[str, Any]:
    """What firing left on a case, with its reference taken out of keys."""
    case = session.get(CaseRow, case_id)
    assert case is not None
    ref = case.reference or ""

    def plain(key: str) -> str:
        return key.replace(ref, "REF")

    run = session.scalars(select(SopRunRow).where(SopRunRow.case_id == case_id)).one()
    steps = session.scalars(select(StepStateRow).where(StepStateRow.run_id == run.id))
    timers = session.scalars(select(TimerRow).where(TimerRow.case_id == case_id))
    return {
        "case": (case.status, case.priority, case.assignee, case.next_due_at, case.updated_at),
        "events": [
            (e.kind, e.at, "customer" if "@customer." in e.actor else e.actor)
            for e in events(session, case_id)
        ],
        "outbox": sorted(plain(row.key) for row in outbox(session, case_id)),
        "timers": sorted(
            (plain(t.key), t.status, t.due_at, t.fired_at, t.locked_by) for t in timers
        ),
        "steps": sorted((s.step_id, s.status, s.due_at, s.actor) for s in steps),
        "state_keys": sorted(run.state),
    }


def test_a_batch_fires_like_one_timer_at_a_time(library: Session, settings: Settings) -> None:
    one_by_one = open_set(library, settings, "single")
    batched = open_set(library, settings, "batch")
    later = MONDAY + timedelta(days=10)
    for timer_id in due_timer_ids(library, one_by_one, later):
        do_fire_timer(library, timer_id, now=later, worker_id="w1", settings=settings)
    ids = due_timer_ids(library, batched, later)
    assert len(ids) > len(batched)  # several timers per case, so cases are grouped
    results = do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings)
    assert results == dict.fromkeys(ids)
    library.expire_all()
    for single, batch in zip(one_by_one, batched, strict=True):
        assert snapshot(library, single) == snapshot(library, batch)
    # firing the same batch again changes nothing
    before = [snapshot(library, case_id) for case_id in batched]
    assert do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings) == (
        dict.fromkeys(ids)
    )
    library.expire_all()
    assert [snapshot(library, case_id) for case_id in batched] == before


def test_a_batch_skips_what_is_not_due_and_reports_unknown_ids(
    library: Session, settings: Settings
) -> None:
    (case_id,) = open_set(library, settings, "skip")[:1]
    ids = due_timer_ids(library, [case_id], MONDAY + timedelta(days=30))
    results = do_fire_timers(library, [*ids, 10**9], now=MONDAY, settings=settings)
    assert results == dict.fromkeys([*ids, 10**9])
    library.expire_all()
    statuses = set(library.scalars(select(TimerRow.status).where(TimerRow.id.in_(ids))))
    assert statuses == {"pending"}  # none was due at MONDAY
    assert do_fire_timers(library, [], settings=settings) == {}


def test_timers_that_may_not_fire_are_left_without_loading_their_case(
    library: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_ids = open_set(library, settings, "idle")
    later = MONDAY + timedelta(days=10)
    ids = due_timer_ids(library, case_ids, later)
    assert do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings)
    library.expire_all()
    before = [snapshot(library, case_id) for case_id in case_ids]
    loads: list[int] = []
    real_load = timers_module.load_case
    monkeypatch.setattr(
        timers_module,
        "load_case",
        lambda session, case_id, settings: (
            loads.append(case_id) or real_load(session, case_id, settings)
        ),
    )
    # done, cancelled and not-yet-due timers: every one is a no-op, none loads a case
    again = do_fire_timers(library, ids, now=later, worker_id="w2", settings=settings)
    assert again == dict.fromkeys(ids) and loads == []
    library.expire_all()
    assert [snapshot(library, case_id) for case_id in case_ids] == before


def test_a_fire_with_nothing_to_do_changes_no_row(library: Session, settings: Settings) -> None:
    case_ids = open_set(library, settings, "quiet")
    later = MONDAY + timedelta(days=10)
    ids = due_timer_ids(library, case_ids, later)
    do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings)
    library.expire_all()
    before = [snapshot(library, case_id) for case_id in case_ids]
    # a second, stray timer on every case: its fire finds the work already done
    stray = [add_stray_timer(library, case_id, f"stray:{case_id}", later) for case_id in case_ids]
    library.commit()
    an_hour_on = later + timedelta(hours=1)
    assert do_fire_timers(library, stray, now=an_hour_on, settings=settings) == dict.fromkeys(stray)
    library.expire_all()
    after = [snapshot(library, case_id) for case_id in case_ids]
    for old, new in zip(before, after, strict=True):
        done = [t for t in new["timers"] if t[0].startswith("stray:")]
        assert [(t[1], t[3]) for t in done] == [("done", an_hour_on)]
        new["timers"] = [t for t in new["timers"] if not t[0].startswith("stray:")]
        assert new == old  # updated_at, events, outbox, steps: all as they were


def test_a_case_that_fails_in_a_batch_fails_alone(
    library: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case_ids = open_set(library, settings, "fail")
    later = MONDAY + timedelta(days=10)
    ids = due_timer_ids(library, case_ids, later)
    broken = case_ids[1]
    real_wake = timers_module._wake

    def wake(session: Session, loaded: Any, now: datetime) -> None:
        if loaded.case.id == broken:
            raise RuntimeError("this case cannot be decided")
        real_wake(session, loaded, now)

    monkeypatch.setattr(timers_module, "_wake", wake)
    with caplog.at_level(logging.WARNING, logger="sopdesk.worker"):
        results = do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings)
    assert "failed as a whole" in caplog.text  # the operator learns why it went slower
    library.expire_all()
    case_of = dict(
        library.execute(select(TimerRow.id, TimerRow.case_id).where(TimerRow.id.in_(ids))).all()
    )
    for timer_id, error in results.items():
        if case_of[timer_id] == broken:
            assert isinstance(error, RuntimeError)
        else:
            assert error is None
    for case_id in case_ids:
        kinds = {e.kind for e in events(library, case_id)}
        assert ("sla.breached" in kinds) is (case_id != broken)
    pending = library.scalars(
        select(TimerRow.id).where(TimerRow.case_id == broken, TimerRow.status == "pending")
    )
    assert set(pending) >= {i for i in ids if case_of[i] == broken}


def test_a_timer_on_a_case_without_a_run_is_just_done(library: Session, settings: Settings) -> None:
    (case_id,) = open_set(library, settings, "triage")[:1]
    library.execute(
        SopRunRow.__table__.update().where(SopRunRow.case_id == case_id).values(status="cancelled")
    )
    library.commit()
    later = MONDAY + timedelta(days=10)
    ids = due_timer_ids(library, [case_id], later)
    assert do_fire_timers(library, ids, now=later, settings=settings) == dict.fromkeys(ids)
    library.expire_all()
    statuses = set(library.scalars(select(TimerRow.status).where(TimerRow.id.in_(ids))))
    assert statuses == {"done"} and events(library, case_id, "sla.breached") == []


def test_a_state_saved_elsewhere_is_read_again(library: Session, settings: Settings) -> None:
    """The text cache of run states never serves a state another process replaced."""
    (case_id,) = open_set(library, settings, "text")[:1]
    look = look_at_runs(library, [case_id], settings)[case_id]
    library.rollback()
    assert look is not None and look.state.case.priority != "urgent"
    run = library.scalars(select(SopRunRow).where(SopRunRow.case_id == case_id)).one()
    document = json.loads(json.dumps(run.state))
    document["case"]["priority"] = "urgent"
    library.execute(
        SopRunRow.__table__.update().where(SopRunRow.id == run.id).values(state=document)
    )
    library.commit()
    again = look_at_runs(library, [case_id], settings)[case_id]
    library.rollback()
    assert again is not None and again.state.case.priority == "urgent"


def test_an_unchanged_state_is_neither_read_nor_parsed_again(
    library: Session, settings: Settings
) -> None:
    """On PostgreSQL the row's `xmin` tells, without turning kilobytes of JSONB into text."""
    (case_id,) = open_set(library, settings, "stamp")[:1]
    first = look_at_runs(library, [case_id], settings)[case_id]
    library.rollback()
    bind = library.get_bind()
    try:
        with statements_sent(bind) as statements:
            second = look_at_runs(library, [case_id], settings)[case_id]
    finally:
        library.rollback()
    assert first is not None and second is not None and second.state is first.state
    if bind.dialect.name == "postgresql":
        assert not [s for s in statements if "sop_runs.state" in s]


def test_follow_ups_sent_by_a_batch_are_those_sent_one_by_one(
    library: Session, settings: Settings
) -> None:
    """Customer e-mails (the survey, the review request) queued by a batch's fire."""

    def resolved_set(tag: str) -> list[int]:
        """`open_set`'s cases, each step completed (or overridden), then resolved."""
        case_ids = open_set(library, settings, tag)
        for case_id in case_ids:
            run_id = library.scalar(select(SopRunRow.id).where(SopRunRow.case_id == case_id))
            steps = library.scalars(
                select(StepStateRow.step_id).where(
                    StepStateRow.run_id == run_id, StepStateRow.status == "pending"
                )
            ).all()
            for step_id in steps:
                who = {"by": "agent@shop.example", "now": MONDAY, "settings": settings}
                try:
                    do_complete_step(library, case_id, step_id, **who)
                except Conflict:
                    do_override_step(library, case_id, step_id, reason="test", **who)
            do_resolve(library, case_id, by="agent@shop.example", now=MONDAY, settings=settings)
        return case_ids

    one_by_one, batched = resolved_set("fu-single"), resolved_set("fu-batch")
    later = MONDAY + timedelta(days=8)
    for timer_id in due_timer_ids(library, one_by_one, later):
        do_fire_timer(library, timer_id, now=later, worker_id="w1", settings=settings)
    ids = due_timer_ids(library, batched, later)
    assert do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings) == (
        dict.fromkeys(ids)
    )
    library.expire_all()

    def sent(case_id: int) -> list[str]:
        """The subjects of the case's outbound messages, its reference taken out."""
        reference = library.scalar(select(CaseRow.reference).where(CaseRow.id == case_id))
        query = select(MessageRow.subject).where(
            MessageRow.case_id == case_id, MessageRow.kind == "outbound"
        )
        return sorted(
            (subject or "").replace(reference or "", "REF") for subject in library.scalars(query)
        )

    followed_up = 0
    for single, batch in zip(one_by_one, batched, strict=True):
        assert snapshot(library, single) == snapshot(library, batch)
        assert sent(single) == sent(batch)
        keys = [row.key for row in outbox(library, batch)]
        followed_up += any("followup" in key for key in keys)
    assert followed_up  # the comparison covered customer follow-ups


def test_a_case_found_quiet_is_not_decided_again_until_its_next_timer(
    library: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (case_id,) = open_set(library, settings, "quiet")[:1]

    def next_due() -> datetime:
        pending = TimerRow.case_id == case_id, TimerRow.status == "pending"
        return min(library.scalars(select(TimerRow.due_at).where(*pending)))

    later = next_due()  # the first timer fires; the case then waits for the next one
    do_fire_timers(library, due_timer_ids(library, [case_id], later), now=later, settings=settings)
    library.expire_all()
    upcoming = next_due()
    decided: list[datetime] = []
    real_redecide = timers_module.redecide

    def redecide(state: Any, world: Any) -> Any:
        decided.append(world.now)
        return real_redecide(state, world)

    monkeypatch.setattr(timers_module, "redecide", redecide)

    def fire_stray(at: datetime) -> None:
        timer_id = add_stray_timer(library, case_id, f"stray:{at.isoformat()}", at)
        library.commit()
        assert do_fire_timers(library, [timer_id], now=at, settings=settings) == {timer_id: None}
        library.expire_all()

    assert upcoming > later
    soon, sooner = later + (upcoming - later) / 3, upcoming - timedelta(seconds=1)
    fire_stray(soon)
    assert decided == [soon]  # decided once: nothing to do until `upcoming`
    fire_stray(sooner)
    assert decided == [soon]  # known quiet: not decided again
    fire_stray(upcoming)
    assert decided == [soon, upcoming]  # its next timer is due: decided again
    kinds = [e.kind for e in events(library, case_id)]
    do_change_status(
        library, case_id, "pending", by="agent@company.example", now=upcoming, settings=settings
    )
    assert [e.kind for e in events(library, case_id)] != kinds
    fire_stray(upcoming + timedelta(seconds=1))
    assert len(decided) == 3  # the state changed: decided on the new one


def test_a_batch_loads_only_the_timers_its_decisions_name(
    library: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case's other timers (here 30 strays due later) are neither read nor locked by
    the fire that does its work; the rows left behind are those of single fires."""
    one_by_one = open_set(library, settings, "few")
    batched = open_set(library, settings, "many")
    later = MONDAY + timedelta(days=10)
    for case_id in (*one_by_one, *batched):
        ref = library.get(CaseRow, case_id).reference  # type: ignore[union-attr]
        for i in range(30):
            add_stray_timer(library, case_id, f"stray:{ref}:{i}", later + timedelta(days=9))
    library.commit()
    for timer_id in due_timer_ids(library, one_by_one, later):
        do_fire_timer(library, timer_id, now=later, worker_id="w1", settings=settings)
    read: list[int] = []
    real_load = timers_module.load_cases

    def load_cases(*args: Any, **kwargs: Any) -> Any:
        loaded, by_id = real_load(*args, **kwargs)
        read.extend(timer.id for timer in by_id.values())
        for case in loaded.values():
            assert case.state is not None and case.prefetched is not None
        return loaded, by_id

    monkeypatch.setattr(timers_module, "load_cases", load_cases)
    ids = due_timer_ids(library, batched, later)
    assert do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings) == (
        dict.fromkeys(ids)
    )
    strays = set(library.scalars(select(TimerRow.id).where(TimerRow.key.like("stray:%"))))
    assert read and not strays & set(read)
    library.expire_all()
    for single, batch in zip(one_by_one, batched, strict=True):
        assert snapshot(library, single) == snapshot(library, batch)


def test_a_batch_takes_the_states_it_decided_on_without_reading_them_again(
    library: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look that decided a case read its state; loading the case to apply the
    decisions neither reads the stored document again nor decodes it."""
    case_ids = open_set(library, settings, "looked")
    later = MONDAY + timedelta(days=10)
    looked: dict[int, Any] = {}
    loaded_states: dict[int, Any] = {}
    real_look, real_load = timers_module.look_at_runs, timers_module.load_cases

    def look_at_runs(*args: Any, **kwargs: Any) -> Any:
        found = real_look(*args, **kwargs)
        looked.update({case_id: look.state for case_id, look in found.items() if look})
        return found

    def load_cases(*args: Any, **kwargs: Any) -> Any:
        with statements_sent(bind) as statements:
            loaded, by_id = real_load(*args, **kwargs)
        assert not [s for s in statements if "sop_runs.state" in s]
        loaded_states.update({case_id: case.state for case_id, case in loaded.items()})
        return loaded, by_id

    bind = library.get_bind()
    monkeypatch.setattr(timers_module, "look_at_runs", look_at_runs)
    monkeypatch.setattr(timers_module, "load_cases", load_cases)
    ids = due_timer_ids(library, case_ids, later)
    do_fire_timers(library, ids, now=later, worker_id="w1", settings=settings)
    assert set(loaded_states) == set(case_ids)
    assert all(loaded_states[case_id] is looked[case_id] for case_id in case_ids)


def test_a_timer_key_not_read_up_front_is_looked_up_when_a_decision_names_it(
    library: Session, settings: Settings
) -> None:
    """`CaseTimers` read for some keys only: a decision about another key finds and
    moves the existing row (no second row with the same key), and a key that has no
    row yet gets a new one."""
    (case_id,) = open_set(library, settings, "lookup")[:1]
    existing = timers(library, case_id)
    key = sorted(existing)[0]
    library.commit()
    known = CaseTimers(asked=set())
    at = MONDAY + timedelta(days=3)
    moved = schedule_timer(
        library, key, at, "metric:resolution", MONDAY, case_id=case_id, known=known
    )
    assert moved.id == existing[key].id and key in known.asked and known[key] is moved
    fresh = schedule_timer(
        library, "lookup:new", at, "metric:resolution", MONDAY, case_id=case_id, known=known
    )
    library.commit()
    assert fresh.id is not None and fresh.id != moved.id
    assert library.scalar(select(TimerRow.due_at).where(TimerRow.key == key)) == at
    assert known.lookup(library, "lookup:absent") is None and "lookup:absent" in known.asked


def test_quiet_cases_timers_are_finished_in_one_update_that_checks_each_may_fire(
    library: Session, settings: Settings
) -> None:
    """Done: a due timer this worker holds or nobody holds. Left alone: one already
    done, one not due, one another worker holds. Handed back to fire alone: one that is
    not on the cases given."""
    first, other = open_set(library, settings, "quiet")[:2]
    now = MONDAY + timedelta(days=1)
    due = now - timedelta(minutes=5)
    ids = {
        name: add_stray_timer(library, case_id, f"quiet:{name}", at)
        for name, case_id, at in (
            ("mine", first, due), ("free", first, due), ("done", first, due),
            ("later", first, now + timedelta(hours=1)), ("held", first, due),
            ("elsewhere", other, due),
        )
    }  # fmt: skip
    rows = {name: library.get(TimerRow, timer_id) for name, timer_id in ids.items()}
    rows["mine"].status, rows["mine"].locked_by = "running", "w1"  # type: ignore[union-attr]
    rows["done"].status = "done"  # type: ignore[union-attr]
    rows["held"].status, rows["held"].locked_by = "running", "w2"  # type: ignore[union-attr]
    rows["held"].locked_until = now + timedelta(minutes=1)  # type: ignore[union-attr]
    library.commit()
    left = timers_module._finish_quiet(library, {first: list(ids.values())}, now, "w1")
    library.commit()
    assert left == [ids["elsewhere"]]
    statuses = dict(library.execute(select(TimerRow.key, TimerRow.status).where(
        TimerRow.key.like("quiet:%"))).all())  # fmt: skip
    assert statuses == {
        "quiet:mine": "done", "quiet:free": "done", "quiet:done": "done",
        "quiet:later": "pending", "quiet:held": "running", "quiet:elsewhere": "pending",
    }  # fmt: skip
    fired = dict(library.execute(select(TimerRow.key, TimerRow.fired_at)).all())
    assert fired["quiet:mine"] == fired["quiet:free"] == now and fired["quiet:done"] is None
