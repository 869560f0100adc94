"""Two actions on one case at once: the second waits for the first and decides on its
result, so neither change is lost — on PostgreSQL by the case row lock, on SQLite by
starting every write action with `BEGIN IMMEDIATE`."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sopdesk.actions import case_changes, case_state, customers
from sopdesk.actions.case_reads import case_timeline
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.sop_files import do_load_library
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from tests.cases.conftest import MONDAY


def test_two_step_completions_at_once_keep_both(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(engine)
    with sessions() as setup:
        do_load_library(setup, now=MONDAY)
        case = do_open_case(
            setup,
            customer_email="ann@customer.example",
            subject="I want a refund",
            body="The shoes do not fit, please refund me.",
            channel="web",
            now=MONDAY,
            settings=settings,
        )
        pending = [s.step_id for s in case_timeline(setup, case.id).steps if s.status == "pending"]
    assert len(pending) >= 2
    first_loaded = threading.Event()
    real_load = case_state.load_for_work

    def slow_first_load(session: Session, case_id: int, *args: Any, **kwargs: Any) -> Any:
        loaded = real_load(session, case_id, *args, **kwargs)
        if threading.current_thread().name == "first":
            first_loaded.set()
            time.sleep(0.5)  # the second writer comes in while this one holds the case
        return loaded

    monkeypatch.setattr(case_changes, "load_for_work", slow_first_load)
    errors: list[BaseException] = []

    def complete(step_id: str, wait: bool) -> None:
        if wait:
            first_loaded.wait(5)
        with sessions() as own:
            try:
                case_changes.do_complete_step(
                    own, case.id, step_id, by="agent@shop.example", now=MONDAY, settings=settings
                )
            except BaseException as exc:
                errors.append(exc)

    threads = [
        threading.Thread(target=complete, args=(pending[0], False), name="first"),
        threading.Thread(target=complete, args=(pending[1], True), name="second"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    with sessions() as check:
        done = {s.step_id for s in case_timeline(check, case.id).steps if s.status == "done"}
    assert {pending[0], pending[1]} <= done


@pytest.mark.postgres
def test_two_first_messages_from_a_new_customer_at_once_make_one_customer(
    pg_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine_for(pg_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as setup:
        do_load_library(setup, now=MONDAY)
    both_looked = threading.Barrier(2, timeout=5)
    real_find = customers.find_customer

    def find_then_wait(session: Session, email: str) -> Any:
        found = real_find(session, email)
        if found is None and threading.current_thread().name.startswith("writer"):
            both_looked.wait()  # both saw no customer: both will insert
        return found

    monkeypatch.setattr(customers, "find_customer", find_then_wait)
    opened: list[int] = []

    def open_one(n: int) -> None:
        with sessions() as own:
            case = do_open_case(
                own,
                customer_email="new@customer.example",
                subject=f"Question {n}",
                body="Where is my order?",
                channel="web",
                now=MONDAY,
                settings=settings,
            )
            opened.append(case.customer_id)

    threads = [threading.Thread(target=open_one, args=(n,), name=f"writer{n}") for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    engine.dispose()
    assert len(opened) == 2 and opened[0] == opened[1]


def test_cases_opened_at_once_get_their_own_ids_and_references(
    engine: Engine, settings: Settings
) -> None:
    """The id (and the `SD-<id>` reference written with it) is known before the INSERT:
    on SQLite the largest id plus one under the write lock, so writers in other threads
    cannot take the same one; on PostgreSQL from the sequence."""
    sessions = session_factory(engine)
    with sessions() as setup:
        do_load_library(setup, now=MONDAY)
    opened: list[tuple[int, str | None]] = []
    failed: list[Exception] = []
    start = threading.Barrier(4, timeout=10)

    def open_some(n: int) -> None:
        start.wait()
        try:
            with sessions() as own:
                for i in range(5):
                    case = do_open_case(own, customer_email=f"c{n}-{i}@customer.example",
                                        subject="Where is my refund?", body="Refund please",
                                        channel="web", now=MONDAY, settings=settings)  # fmt: skip
                    opened.append((case.id, case.reference))
        except Exception as exc:  # reported below, in the main thread
            failed.append(exc)

    threads = [threading.Thread(target=open_some, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failed == []
    assert len(opened) == 20 and len({case_id for case_id, _ in opened}) == 20
    assert all(reference == f"SD-{case_id}" for case_id, reference in opened)
