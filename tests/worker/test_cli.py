"""`sopdesk worker --once | status | retry-dead`, the SQLite single-worker lock, and the
worker inside `sopdesk serve` (create_app(with_worker=True))."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sopdesk.actions.base import utcnow
from sopdesk.actions.cases import do_open_case, do_resolve
from sopdesk.process import GC_THRESHOLDS
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import CaseRow, OutboxRow, TimerRow
from sopdesk.web.app import create_app
from sopdesk.worker.lock import WorkerLockHeld, lock_path, single_worker_lock
from tests.conftest import Runner
from tests.worker.support import Sink, add_emails, add_timers, smtp_sink


@pytest.fixture
def env(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    monkeypatch.setenv("SOPDESK_DATABASE_URL", db_url)
    with smtp_sink() as (sink, smtp):
        monkeypatch.setenv("SOPDESK_SMTP_URL", f"smtp://{smtp.host}:{smtp.port}")
        yield sink


def test_worker_once_fires_timers_and_sends_email(cli: Runner, env: Sink, session: Session) -> None:
    now = utcnow()
    add_timers(session, 3, now - timedelta(minutes=1))
    add_emails(session, 2, now - timedelta(minutes=1))
    run = cli("worker", "--once", "--id", "cli-test")
    assert run.code == 0, run.err
    assert run.out.strip() == "fired 3 timers, sent 2 e-mails, 0 failed, 0 dead"
    assert sum(env.message_ids.values()) == 2
    session.expire_all()
    assert set(session.scalars(select(TimerRow.status))) == {"done"}


def test_worker_once_closes_resolved_cases_past_their_reopen_window(
    cli: Runner, env: Sink, session: Session
) -> None:
    now = utcnow()
    old = do_open_case(session, customer_email="ann@customer.example", subject="Hi",
                       body="Call me", now=now - timedelta(days=30))  # fmt: skip
    do_resolve(session, old.id, by="sam", now=now - timedelta(days=15))
    recent = do_open_case(session, customer_email="bo@customer.example", subject="Hi",
                          body="Call me", now=now - timedelta(days=3))  # fmt: skip
    do_resolve(session, recent.id, by="sam", now=now - timedelta(days=2))
    run = cli("worker", "--once")
    assert run.code == 0, run.err
    assert run.out.strip().endswith("0 dead, closed 1 resolved case(s)")
    session.expire_all()
    assert [session.get(CaseRow, c.id).status for c in (old, recent)] == ["closed", "resolved"]  # type: ignore[union-attr]


def test_the_worker_tunes_the_garbage_collector(cli: Runner, env: Sink) -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        assert cli("worker", "--once").code == 0
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.set_threshold(*before)


def test_status_shows_depth_lag_and_dead_letters_and_retry_dead_requeues(
    cli: Runner, env: Sink, session: Session
) -> None:
    now = utcnow()
    add_timers(session, 2, now - timedelta(minutes=10))
    add_emails(session, 1, now - timedelta(minutes=1))
    session.execute(
        update(OutboxRow).values(status="dead", attempts=12, last_error="550 no such user")
    )
    session.commit()

    run = cli("worker", "status", "--format", "json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["queues"]["timers"]["due"] == 2
    assert data["queues"]["timers"]["lag_seconds"] >= 600
    assert data["queues"]["outbox"]["dead"] == 1
    assert data["dead_letters"][0]["last_error"] == "550 no such user"
    text = cli("worker", "status").out
    assert "timers" in text and "dead outbox #1 m:0 after 12 attempts: 550 no such user" in text

    assert cli("worker", "retry-dead", "--queue", "outbox").out.strip() == (
        "requeued 0 timers and 1 e-mails"
    )
    assert cli("worker", "--once").out.startswith("fired 2 timers, sent 1 e-mails")
    assert cli("worker", "status", "--format", "xml").code == 2


@pytest.fixture
def sqlite_session(sqlite_url: str) -> Iterator[Session]:
    engine = create_engine_for(sqlite_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_one_worker_per_sqlite_database(sqlite_url: str) -> None:
    with single_worker_lock(sqlite_url) as only:
        assert only is True
        with pytest.raises(WorkerLockHeld, match="already runs"), single_worker_lock(sqlite_url):
            pass
    with single_worker_lock(sqlite_url):  # released on exit
        pass
    path = lock_path(sqlite_url)
    assert path is not None and path.name == "sopdesk.db-worker.lock"
    assert lock_path("postgresql+psycopg://u@h/db") is None
    assert lock_path("sqlite://") is None


def test_worker_refuses_to_start_next_to_another_on_sqlite(
    cli: Runner, sqlite_url: str, sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPDESK_DATABASE_URL", sqlite_url)
    with single_worker_lock(sqlite_url):
        run = cli("worker", "--once")
    assert run.code == 1
    assert "a worker already runs on this SQLite database" in run.err


def test_serve_runs_the_worker_in_process_on_sqlite(
    sqlite_url: str, sqlite_session: Session
) -> None:
    session = sqlite_session
    add_timers(session, 2, utcnow() - timedelta(minutes=1))
    settings = Settings(database_url=sqlite_url)
    with TestClient(create_app(settings, with_worker=True)) as client:
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 10
        while True:
            session.expire_all()
            if set(session.scalars(select(TimerRow.status))) == {"done"}:
                break
            assert time.monotonic() < deadline, "the in-process worker did not run"
            time.sleep(0.05)
        # it holds the SQLite worker lock meanwhile
        with pytest.raises(WorkerLockHeld), single_worker_lock(sqlite_url):
            pass
    with single_worker_lock(sqlite_url):  # and gives it back on shutdown
        pass
