"""SOP versions pin runs; re-pinning after an SOP change; two workers on one timer (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sopdesk.actions import cases as changes
from sopdesk.actions import sops
from sopdesk.actions.case_reads import get_case
from sopdesk.actions.sop_files import do_load_library
from sopdesk.actions.timers import do_fire_timer, do_fire_timers
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import CaseEventRow, CaseRow, SopRunRow, TimerRow
from tests.cases.conftest import MONDAY, timers
from tests.conftest import sop_text


def open_refund(session: Session, settings: Settings) -> int:
    case = changes.do_open_case(
        session,
        customer_email="ann@customer.example",
        subject="Refund please",
        body="refund",
        sop_id="refunds",
        now=MONDAY,
        settings=settings,
    )
    return case.id


def publish(session: Session, text: str, hours: int) -> None:
    sops.do_create_draft(session, text, "ann", now=MONDAY + timedelta(hours=hours))
    sops.do_publish(session, "refunds", approver="bob", now=MONDAY + timedelta(hours=hours))


def test_a_run_stays_on_its_version_until_re_pinned(session: Session, settings: Settings) -> None:
    publish(session, sop_text(within="24 business hours"), 0)
    case_id = open_refund(session, settings)
    key = f"{get_case(session, case_id).reference}:metric:first_response"
    publish(session, sop_text(within="8 business hours"), 1)
    run = session.scalar(select(SopRunRow).where(SopRunRow.case_id == case_id))
    assert run is not None and run.sop_version.version == 1
    later = MONDAY + timedelta(hours=2)
    changes.do_complete_step(
        session, case_id, "acknowledge", by="sam", now=later, settings=settings
    )
    pinned_due = timers(session, case_id)[key].due_at
    assert changes.do_retime_open_cases(session, later, settings=settings) == 1
    assert timers(session, case_id)[key].due_at == pinned_due
    changes.do_retime_open_cases(session, later, settings=settings, repin=True)
    session.expire_all()
    run = session.scalar(select(SopRunRow).where(SopRunRow.case_id == case_id))
    assert run is not None and run.sop_version.version == 2
    assert run.state["run"]["version"] == 2
    # 8 instead of 24 business hours from Monday 10:00 (09:00-17:00 days)
    assert pinned_due == MONDAY + timedelta(days=3)
    assert timers(session, case_id)[key].due_at == MONDAY + timedelta(days=1)


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine_for(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_two_workers_firing_one_timer_apply_it_once(pg_engine: Engine, settings: Settings) -> None:
    sessions = session_factory(pg_engine)
    with sessions() as setup:
        do_load_library(setup, now=MONDAY - timedelta(days=30))
        case = changes.do_open_case(
            setup,
            customer_email="ann@customer.example",
            subject="Return my shoes",
            body="I want a refund",
            now=MONDAY,
            settings=settings,
        )
        timer = min(timers(setup, case.id).values(), key=lambda t: t.due_at)
        timer_id, due, case_id = timer.id, timer.due_at, case.id
    with sessions() as holder:
        holder.get(CaseRow, case_id, with_for_update=True)  # both workers queue behind this
        errors: list[BaseException] = []

        def worker(name: str) -> None:
            with sessions() as session:
                try:
                    do_fire_timer(session, timer_id, now=due, worker_id=name, settings=settings)
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in (1, 2)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert all(thread.is_alive() for thread in threads), "workers must wait for the case lock"
        holder.rollback()
        for thread in threads:
            thread.join(timeout=10)
    assert errors == []
    with sessions() as check:
        warnings = check.scalar(
            select(func.count(CaseEventRow.id)).where(CaseEventRow.kind == "sla.warning")
        )
        assert warnings == 1


@pytest.mark.postgres
def test_a_batch_passes_over_a_case_held_elsewhere_then_fires_it(
    pg_engine: Engine, settings: Settings
) -> None:
    """Cases another transaction holds do not hold up the rest of the batch."""
    sessions = session_factory(pg_engine)
    with sessions() as setup:
        do_load_library(setup, now=MONDAY - timedelta(days=30))
        held, free = (
            changes.do_open_case(
                setup,
                customer_email=f"{name}@customer.example",
                subject="Return my shoes",
                body="I want a refund",
                now=MONDAY,
                settings=settings,
            ).id
            for name in ("held", "free")
        )
        later = MONDAY + timedelta(days=10)
        ids = {
            case_id: [t.id for t in timers(setup, case_id).values() if t.due_at <= later]
            for case_id in (held, free)
        }

    def statuses(case_id: int) -> set[str]:
        with sessions() as look:
            rows = look.scalars(select(TimerRow.status).where(TimerRow.id.in_(ids[case_id])))
            return set(rows)

    results: list[object] = []
    with sessions() as holder:
        holder.get(CaseRow, held, with_for_update=True)
        batch = [*ids[held], *ids[free]]

        def fire() -> None:
            with sessions() as session:
                results.append(
                    do_fire_timers(session, batch, now=later, worker_id="w1", settings=settings)
                )

        thread = threading.Thread(target=fire)
        thread.start()
        deadline = time.monotonic() + 10
        while statuses(free) == {"pending"} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "pending" not in statuses(free), "the free case fires while the other is held"
        assert thread.is_alive() and statuses(held) == {"pending"}
        holder.rollback()
        thread.join(timeout=10)
    assert results == [dict.fromkeys(batch)]
    assert "pending" not in statuses(held)
    with sessions() as check:
        breaches = check.execute(
            select(CaseEventRow.case_id, func.count())
            .where(CaseEventRow.kind == "sla.breached")
            .group_by(CaseEventRow.case_id)
        )
        per_case = dict(breaches.all())
    assert per_case[held] == per_case[free] > 0
