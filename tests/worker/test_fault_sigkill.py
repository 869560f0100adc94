"""The fault test: `sopdesk worker` killed with SIGKILL at random points, again and again.

SQLite: 2,000 return cases are opened (30 days ago, so every SLA timer is due); a
real aiosmtpd sink in this process counts Message-IDs. `sopdesk worker` runs as a
subprocess and is killed with SIGKILL at a random instant of its work 50 times,
restarted each time, then left to drain and stopped with SIGTERM. PostgreSQL: the
same with 400 cases and two workers sharing the queue, a random one of them killed
25 times (its claims come back after a 2-second lease). Then:

- every due timer fired exactly once: no timer is left pending, running or dead, and
  every case has exactly one `sla.breached` and one `escalated` event per SLA target;
- no e-mail was lost: every outbox row is `sent`, and its Message-ID reached the sink;
- duplicates only where docs/worker.md says (crash point E3: killed after the SMTP
  server accepted a message, before `sent` was committed): at most one per kill, each
  with the same Message-ID as the original. The measured number is printed.

SOPDESK_FAULT_CASES / SOPDESK_FAULT_KILLS make it smaller or bigger.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sopdesk.actions.base import utcnow
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.sop_files import do_load_library
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import CaseEventRow, OutboxRow, TimerRow
from sopdesk.worker.status import outbox_status, timer_status
from tests.worker.support import smtp_sink

pytestmark = pytest.mark.slow

CASES = int(os.environ.get("SOPDESK_FAULT_CASES", "2000"))
KILLS = int(os.environ.get("SOPDESK_FAULT_KILLS", "50"))
ROLES = {"support-lead": "lead@shop.example", "support-manager": "manager@shop.example"}
CLI = "from sopdesk.cli import main; main()"
TARGETS = {"step:check-eligibility", "step:label", "metric:first_response", "metric:resolution"}


def open_cases(url: str, settings: Settings, cases: int) -> None:
    engine = create_engine_for(url)
    upgrade(engine)
    opened = utcnow() - timedelta(days=30)
    with session_factory(engine)() as session:
        do_load_library(session, now=opened)
        for i in range(cases):
            do_open_case(
                session,
                customer_email=f"customer{i}@customer.example",
                subject=f"I want to return order {i}",
                body="The shoes do not fit; please refund me.",
                channel="email",
                case_type="return",
                now=opened + timedelta(seconds=i),
                settings=settings,
            )
    engine.dispose()


def start_worker(env: dict[str, str], log: Path, args: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", CLI, "worker", "--batch", "25", "--timer-batch", "25", *args]
    command += ["--poll-interval", "0.05", "--shutdown-grace", "30"]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_started(process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while b": started" not in log.read_bytes():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.01)


def drained(url: str) -> bool:
    """No row claimable now and none claimed (read in-process: no CPU for a subprocess)."""
    engine = create_engine_for(url)
    try:
        with session_factory(engine)() as session:
            now = utcnow()
            queues = (timer_status(session, now), outbox_status(session, now))
    finally:
        engine.dispose()
    return all(q.due == 0 and q.in_flight == 0 for q in queues)


def test_sigkill_at_random_points_loses_nothing_and_fires_once(tmp_path: Path) -> None:
    """SQLite: one worker (the file lock), killed and restarted KILLS times."""
    url = f"sqlite:///{tmp_path / 'sopdesk.db'}"
    run_fault_test(url, tmp_path, cases=CASES, kills=KILLS, workers=1)


@pytest.mark.postgres
def test_two_workers_on_postgres_killed_at_random_points(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL: two workers share the queue (SKIP LOCKED); a random one of them is
    killed each time, and its claims come back when the 2-second lease runs out."""
    run_fault_test(pg_url, tmp_path, cases=CASES // 5, kills=KILLS // 2, workers=2)


def run_fault_test(url: str, tmp_path: Path, *, cases: int, kills: int, workers: int) -> None:
    settings = Settings(database_url=url, role_addresses=ROLES)
    started = time.monotonic()
    open_cases(url, settings, cases)
    phases = [time.monotonic()]
    rng = random.Random(4)
    args = ["--lease", "2"] if workers > 1 else []
    with smtp_sink() as (sink, smtp):
        env = dict(os.environ)
        env |= {
            "SOPDESK_DATABASE_URL": url,
            "SOPDESK_SMTP_URL": f"smtp://{smtp.host}:{smtp.port}?starttls=false&timeout=2",
            "SOPDESK_ROLE_ADDRESSES": json.dumps(ROLES),
            "PYTHONPATH": os.pathsep.join(sys.path),
        }
        lives = 0

        def launch() -> tuple[subprocess.Popen[bytes], Path]:
            nonlocal lives
            log = tmp_path / f"worker-{lives}.log"
            lives += 1
            process = start_worker(env, log, args)
            wait_started(process, log)
            return process, log

        running = [launch() for _ in range(workers)]
        for _ in range(kills):
            time.sleep(rng.uniform(0.0, 1.5))
            victim = rng.randrange(workers)
            running[victim][0].send_signal(signal.SIGKILL)
            assert running[victim][0].wait(10) == -signal.SIGKILL
            running[victim] = launch()
        sent_while_killing = sum(sink.message_ids.values())
        phases.append(time.monotonic())
        deadline = time.monotonic() + 240
        while not drained(url):
            assert time.monotonic() < deadline, "the queues did not drain"
            time.sleep(0.5)
        phases.append(time.monotonic())
        for process, _log in running:
            process.send_signal(signal.SIGTERM)
        for process, log in running:
            assert process.wait(60) == 0, log.read_text()
            assert b": stopped" in log.read_bytes()

    engine = create_engine_for(url)
    with session_factory(engine)() as session:
        timers = Counter(session.scalars(select(TimerRow.status)))
        assert set(timers) <= {"done", "cancelled"}, timers
        assert timers["done"] >= cases  # the first-response timer of every case fired

        events = session.execute(
            select(CaseEventRow.case_id, CaseEventRow.kind, CaseEventRow.data).where(
                CaseEventRow.kind.in_(["sla.breached", "escalated"])
            )
        ).all()
        per_target = Counter((case, kind, data["target"]) for case, kind, data in events)
        assert set(per_target.values()) == {1}, "an SLA timer's effect happened twice"
        assert len(per_target) == cases * len(TARGETS) * 2
        assert {target for _, _, target in per_target} == TARGETS

        rows = session.execute(select(OutboxRow.status, OutboxRow.message_id)).all()
    engine.dispose()
    # per case: the acknowledgement, and one notice telling the lead of all four breaches
    assert Counter(status for status, _ in rows) == {"sent": cases * 2}
    expected = {message_id for _, message_id in rows}
    assert set(sink.message_ids) == expected, "an e-mail was lost"
    duplicates = sum(count - 1 for count in sink.message_ids.values())
    print(
        f"\nfault test ({workers} worker(s)): {cases} cases, {len(rows)} e-mails, "
        f"{kills} SIGKILLs ({sent_while_killing} e-mails delivered while killing), "
        f"{duplicates} duplicate deliveries, {time.monotonic() - started:.0f} s "
        f"(opening cases {phases[0] - started:.0f} s, killing {phases[1] - phases[0]:.0f} s, "
        f"draining {phases[2] - phases[1]:.0f} s)"
    )
    assert duplicates <= kills  # at most one per kill, the E3 window (docs/worker.md)
