"""Two workers on PostgreSQL (`FOR UPDATE SKIP LOCKED`) never claim the same timer:
3,000 due timers, two threads with an engine each, every key fired exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from sopdesk.actions.base import utcnow
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import CaseEventRow, TimerRow
from sopdesk.worker.runner import Worker
from tests.worker.support import add_timers, config, fake_fire_timer, fired_counts

pytestmark = pytest.mark.postgres
TIMERS = 3000


def test_two_workers_never_fire_the_same_timer(pg_url: str) -> None:
    engine = create_engine_for(pg_url)
    upgrade(engine)
    now = utcnow()
    with session_factory(engine)() as session:
        add_timers(session, TIMERS, now - timedelta(minutes=5))
    by_worker: Counter[str] = Counter()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        own = create_engine_for(pg_url)
        try:
            worker = Worker(
                session_factory(own),
                config(name, timer_batch=50),
                deliver=None,
                fire_timer=fake_fire_timer,
            )
            while (stats := worker.run_once()).worked:
                by_worker[name] += stats.fired
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors
        with session_factory(engine)() as session:
            fired = fired_counts(session)
            assert len(fired) == TIMERS
            assert set(fired.values()) == {1}
            assert set(session.scalars(select(TimerRow.status))) == {"done"}
            assert set(session.scalars(select(TimerRow.attempts))) == {1}  # never claimed twice
            actors = Counter(session.scalars(select(CaseEventRow.actor)))
        assert sum(by_worker.values()) == TIMERS
        assert actors == by_worker
        assert min(by_worker.values()) > 0, "both workers should have shared the queue"
    finally:
        engine.dispose()
