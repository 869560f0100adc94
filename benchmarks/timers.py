"""Benchmark: firing due timers on PostgreSQL with 1 and 2 worker processes.

    .venv/bin/python benchmarks/timers.py [--pending 1000000] [--due 100000]
        [--fire-due N] [--cases 2000] [--own-cases 5000] [--offered 5000]
        [--runs fire1,fire2,own2,paced2,keep2,bare2]
        [--pg-url URL] [--json F]

Database: per run, a scratch database created on the server named by
`SOPDESK_TEST_PG_URL` (default postgresql://postgres@127.0.0.1:5432/test) and dropped
afterwards; migrated and the built-in SOP library published, as `sopdesk init` does.

Workload: for every worker run, up to `--cases` real cases are opened through
`sopdesk.actions.cases.do_open_case` with `now` 10 days in the past (banking77
inquiries, as in intake.py), so every SLA limit of their SOP runs has passed and the
first timer fired on a case has real work to do: breaches, warnings, escalations, and a
notice e-mail queued per role address. Their own timers (the engine's keys and targets)
get due instants from the benchmark; synthetic timers — copies of those timers' kinds
and targets under new keys, attached to the same cases — bring the run's due set to
`--fire-due` (default `--due`). Timers due 1 to 30 days ahead (they must never fire),
bulk-loaded with COPY and topped up before each run, make every run start with
`--pending` pending timers. Every timer a worker run fires goes through the real
worker: `Worker.run_once()` of `sopdesk.worker.runner` (reclaim, `claim_timers` in
batches of 300, the worker's default, with `FOR UPDATE SKIP LOCKED`, then
`sopdesk.actions.timers.do_fire_timers` on slices of `FIRE_SLICE` (300) as
`sopdesk worker` does: one transaction per slice, which locks its cases, reads their
runs, `decide`s, applies the decisions and marks the timers done), looped by
`Worker.run()` itself (an idle worker sleeps until the next timer is due, at most the
1 s poll interval; its `on_round` hook counts the rounds), with `deliver=None` (e-mail
stays queued).

Runs, each on its own scratch database (created, migrated, loaded with the library and
the far timers, dropped afterwards; since session 9 — before, the runs shared one
database, so a later run started with the earlier runs' leftover timers, up to 1.08 M
pending, and on their churned tables and indexes), on fresh cases and a fresh due set
(VACUUM ANALYZE before each, because the server runs with autovacuum off):

- fire1 / fire2, backlog with 1 / 2 workers: everything is due when the workers start
  (due times spread over the minute before); timers/s = timers out of the queue (done,
  cancelled by their case's earlier fire, or fired and moved on) / time to drain.
- own2, backlog with 2 workers on `--own-cases` fresh cases and only the timers the
  engine scheduled for them, no synthetic copies. In the runs above most due timers are
  copies whose work their case's first fire already did (the engine decides everything
  due by `now` at once), so they measure mostly the check that there is nothing left
  to do; in own2 every case's first fire does all its work (breaches, warnings,
  escalations, notices) and its other timers are cancelled or moved by it: the rate
  for timers that carry real effects.
- paced2: due times spread evenly so that timers come due at `--offered` per second
  (the target rate) while 2 workers run; lateness p50/p99 = fired_at - due_at.
- keep2: the same at half the rate fire2 measured, for 30 s (`--keep-offered`,
  `--keep-seconds`): the lateness when the workers keep up.
- bare2: `--due` timers all due, claimed by the real `claim_timers` (batches of 100)
  and completed by one UPDATE per batch, no effect — the queue's own ceiling.

In backlog runs lateness is dominated by the backlog itself, so those runs report it as
queueing delay (fired_at - max(due_at, start)). Rates are per wall second of the run;
the workers' process CPU and the server backends' CPU (read from /proc, local server)
are reported beside them. The last line is one JSON object with
`timers_per_s_2_workers` (fire2; target >= 5,000) and `lateness_p99_s` (paced2;
target < 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, text, update
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).parent))

from intake import (  # the sibling benchmark's workload and helpers
    DEFAULT_PG_URL,
    backend_cpu,
    case_kwargs,
    inquiries,
    load_open_case,
    log,
    prepare_database,
    scratch_postgres,
)

from sopdesk.actions.base import utcnow
from sopdesk.actions.timers import do_fire_timers
from sopdesk.channels.email_out import Mailbox
from sopdesk.process import tune_gc
from sopdesk.settings import Settings
from sopdesk.store.engine import create_engine_for, session_factory
from sopdesk.store.tables import (
    CaseEventRow,
    OutboxRow,
    TimerRow,
    TimerStatus,
)
from sopdesk.worker.claim import DEFAULT_TIMER_BATCH, claim_timers
from sopdesk.worker.runner import RoundStats, Worker, WorkerConfig

SEED = 20261124
ROLES = (
    "account-manager", "agent", "business-owner", "crisis-lead", "faq-editor",
    "onboarding-agent", "senior-agent", "specialist", "support-lead", "support-manager",
    "warehouse",
)  # fmt: skip
SECRET = "benchmark-secret"
BATCH = DEFAULT_TIMER_BATCH  # timers a worker claims per round, as `sopdesk worker` does
BARE_BATCH = 100  # the bare ceiling's batches, as peer-measurements.md §3 measured them
POLL_INTERVAL = 1.0  # WorkerConfig's default: the longest an idle worker waits
OPENED_AGO = timedelta(days=10)
COPY_COLUMNS = "key, case_id, customer_id, kind, due_at, status, attempts, payload, created_at"


def bench_settings() -> Settings:
    addresses = {role: f"{role}@support.example" for role in ROLES}
    return Settings(secret_key=SECRET, role_addresses=addresses)


# --- loading -----------------------------------------------------------------------------


def open_cases(engine: Engine, settings: Settings, n: int, tag: str) -> tuple[int, int, float]:
    """Open `n` real cases 10 days ago; returns (first case id, last case id, seconds)."""
    action = load_open_case()
    build = case_kwargs(action, settings)
    opened = utcnow() - OPENED_AGO
    started = time.perf_counter()
    seed = SEED + sum(map(ord, tag))
    with session_factory(engine)() as session:
        ids = [
            action(session, **build(inquiry), now=opened).id
            for inquiry in inquiries(n, seed=seed, tag=tag)
        ]
    return min(ids), max(ids), time.perf_counter() - started


def copy_timers(engine: Engine, rows: Iterable[tuple[Any, ...]]) -> tuple[int, int, int]:
    """COPY `rows` into timers; returns (first id, last id, rows)."""
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        with connection.cursor() as cursor:
            before = cursor.execute("SELECT coalesce(max(id), 0) FROM timers").fetchone()[0]
            count = 0
            with cursor.copy(f"COPY timers ({COPY_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            after = cursor.execute("SELECT coalesce(max(id), 0) FROM timers").fetchone()[0]
        raw.commit()
    finally:
        raw.close()
    return before + 1, after, count


def case_timers(engine: Engine, first: int, last: int) -> list[tuple[int, int, int, str, str]]:
    """(timer id, case id, customer id, kind, payload JSON) of the cases' pending timers."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(TimerRow.id, TimerRow.case_id, TimerRow.customer_id, TimerRow.kind,
                   TimerRow.payload)
            .where(TimerRow.case_id.between(first, last),
                   TimerRow.status == TimerStatus.PENDING.value)
            .order_by(TimerRow.id)
        ).all()  # fmt: skip
    return [(r[0], r[1], r[2], r[3], json.dumps(r[4])) for r in rows]


def far_rows(
    templates: list[tuple[int, int, int, str, str]], n: int, now: datetime, rng: random.Random,
    prefix: str = "",
) -> Iterable[tuple[Any, ...]]:  # fmt: skip
    """`n` pending timers due 1 to 30 days ahead, on the given cases."""
    for i in range(n):
        _, case_id, customer_id, kind, payload = templates[i % len(templates)]
        due = now + timedelta(days=1 + 29 * rng.random())
        key = f"bench:far:{prefix}{i}"
        yield (key, case_id, customer_id, kind, due, "pending", 0, payload, now)


def due_rows(
    templates: list[tuple[int, int, int, str, str]], n: int, run: str, due: list[datetime],
    now: datetime,
) -> Iterable[tuple[Any, ...]]:  # fmt: skip
    """`n` synthetic due timers: copies of the cases' own timers under new keys."""
    for i in range(n):
        timer_id, case_id, customer_id, kind, payload = templates[i % len(templates)]
        key = f"bench:{run}:{timer_id}:{i}"
        yield (key, case_id, customer_id, kind, due[i], "pending", 0, payload, now)


def redate(engine: Engine, ids: list[int], due: list[datetime]) -> None:
    """Give the cases' own timers the benchmark's due instants (see the module docstring)."""
    if not ids:
        return
    statement = (
        update(TimerRow.__table__)
        .where(TimerRow.__table__.c.id == bindparam("tid"))
        .values(due_at=bindparam("due"))
    )
    with engine.begin() as connection:
        connection.execute(statement, [{"tid": i, "due": d} for i, d in zip(ids, due, strict=True)])


def park(engine: Engine, ids: list[int]) -> None:
    """Move timers 30 days ahead: pending, but not part of this run."""
    with engine.begin() as connection:
        connection.execute(
            update(TimerRow)
            .where(TimerRow.id.in_(ids))
            .values(due_at=utcnow() + timedelta(days=30))
        )


def vacuum(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE timers"))


# --- the workers ---------------------------------------------------------------------------


def worker_main(
    index: int, url: str, mode: str, go: Any, stop: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    """One worker process: the real worker loop (`fire`) or the bare claim loop (`bare`)."""
    tune_gc()  # as `sopdesk worker` does at start
    engine = create_engine_for(url)
    sessions = session_factory(engine)
    settings = bench_settings()
    name = f"bench-{mode}-{index}"
    with engine.connect() as connection:  # open the pooled connection before the clock
        connection.execute(text("SELECT 1"))
    results.put(("ready", index, None))
    go.wait()
    cpu, wall = time.process_time(), time.perf_counter()
    totals = {"rounds": 0, "fired": 0, "failures": 0, "dead": 0, "claimed": 0}
    if mode == "fire":
        options = {
            "worker_id": name, "secret": SECRET, "sender": Mailbox(settings.support_address),
            "timer_batch": BATCH, "poll_interval": POLL_INTERVAL,
        }  # fmt: skip
        known = {f.name for f in dataclasses.fields(WorkerConfig)}
        config = WorkerConfig(**{k: v for k, v in options.items() if k in known})
        committed: dict[int, datetime] = {}  # timer id -> when its slice had committed

        def fire(session: Session, ids: list[int], **kwargs: Any) -> Any:
            results = do_fire_timers(session, ids, settings=settings, **kwargs)  # commits
            committed.update(dict.fromkeys(ids, utcnow()))
            return results

        def count(stats: RoundStats) -> None:
            totals["rounds"] += 1
            totals["fired"] += stats.fired
            totals["failures"] += stats.timer_failures
            totals["dead"] += stats.dead

        worker = Worker(sessions, config, deliver=None, fire_timers=fire)
        threading.Thread(target=stop_when_told, args=(stop, worker), daemon=True).start()
        worker.run(on_round=count)  # the loop `sopdesk worker` runs
    else:
        with sessions() as session:
            while True:
                now = utcnow()
                claimed = claim_timers(session, now, name, BARE_BATCH)
                totals["rounds"] += 1
                if not claimed:
                    if stop.is_set():
                        break
                    stop.wait(0.05)
                    continue
                totals["claimed"] += len(claimed)
                complete(session, [c.id for c in claimed], name, now)
    totals["cpu_s"] = round(time.process_time() - cpu, 3)
    totals["wall_s"] = round(time.perf_counter() - wall, 3)
    if mode == "fire":
        totals["committed"] = committed
    results.put(("done", index, totals))
    engine.dispose()


def stop_when_told(stop: Any, worker: Any) -> None:
    stop.wait()
    worker.request_stop()


def complete(session: Session, ids: list[int], worker_id: str, now: datetime) -> None:
    """The bare loop's "effect": mark the claimed batch done in one statement."""
    session.execute(
        update(TimerRow)
        .where(TimerRow.id.in_(ids), TimerRow.locked_by == worker_id)
        .values(status=TimerStatus.DONE.value, fired_at=now, locked_by=None, locked_until=None)
    )
    session.commit()


def remaining(engine: Engine, horizon: datetime) -> int:
    """Timers due by `horizon` that are not finished yet."""
    live = (TimerStatus.PENDING.value, TimerStatus.RUNNING.value)
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(TimerRow)
                .where(TimerRow.status.in_(live), TimerRow.due_at <= horizon)
            )
            or 0
        )


def max_id(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.coalesce(func.max(model.id), 0))) or 0)


def wait_for(results: Any, processes: list[Any], timeout: float) -> tuple[str, int, Any]:
    """The next message from the workers; fails as soon as one of them died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return results.get(timeout=0.5)  # type: ignore[no-any-return]
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise SystemExit(
                    f"a worker process failed: {[p.exitcode for p in processes]}"
                ) from None
    raise SystemExit("the workers did not answer in time")


def run_workers(
    engine: Engine, url: str, mode: str, workers: int, horizon: datetime, timeout: float
) -> dict[str, Any]:
    """Start the workers, release them together, stop them when nothing due is left."""
    context = mp.get_context("fork")
    go, stop, results = context.Event(), context.Event(), context.Queue()
    engine.dispose()  # no pooled connection crosses the fork
    processes = [
        context.Process(target=worker_main, args=(i, url, mode, go, stop, results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        wait_for(results, processes, timeout=120)
    server_before = backend_cpu(engine)
    started = utcnow()
    go.set()
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.2)
        if utcnow() > horizon and remaining(engine, horizon) == 0:
            break
        if any(p.exitcode not in (None, 0) for p in processes):
            stop.set()
            raise SystemExit(f"a worker process failed: {[p.exitcode for p in processes]}")
        if time.monotonic() > deadline:
            log(f"  timed out after {timeout:.0f} s; stopping the workers")
            break
    drained = utcnow()
    server_after = backend_cpu(engine)
    stop.set()
    reports = [wait_for(results, processes, timeout=120)[2] for _ in processes]
    committed: dict[int, datetime] = {}
    for report in reports:
        committed.update(report.pop("committed", {}))
    for process in processes:
        process.join(timeout=60)
    server_s = sum(
        cpu - (server_before or {}).get(pid, 0.0) for pid, cpu in (server_after or {}).items()
    )
    return {
        "started": started,
        "drained": drained,
        "workers": reports,
        "worker_cpu_s": round(sum(r["cpu_s"] for r in reports), 3),
        "server_cpu_s": round(server_s, 3),
        "committed": committed,
    }


# --- one run -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * (len(sorted_values) - 1))))
    return sorted_values[index]


def spread(values: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max of sorted `values`."""
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p90": round(percentile(values, 0.90), 3),
        "p99": round(percentile(values, 0.99), 3),
        "max": round(values[-1], 3) if values else None,
    }


def timeline(by_second: dict[int, list[float]]) -> list[list[float]]:
    """[second of the window, timers due in it, their p50 and max lateness] per second."""
    rows = []
    for second, late in sorted(by_second.items()):
        late.sort()
        rows.append([second, len(late), round(percentile(late, 0.5), 3), round(late[-1], 3)])
    return rows


def measure(
    engine: Engine, started: datetime, drained: datetime, first_synthetic: int,
    own_ids: list[int], horizon: datetime, paced: bool, before: dict[str, int],
    committed: dict[int, datetime],
) -> dict[str, Any]:  # fmt: skip
    """What the run did, from the rows: processed timers, rate, lateness, effects.

    Lateness is measured twice for every fired timer: to `fired_at`, the instant the
    worker's slice read the clock and the engine decided at, and to the moment that
    slice's transaction had committed (`committed`, from the workers), when its effects
    (events, queued e-mail) became visible to everyone else."""
    with engine.connect() as connection:
        mine = (TimerRow.id >= first_synthetic) & (TimerRow.due_at <= horizon)
        if own_ids:
            mine = mine | TimerRow.id.in_(own_ids)
        rows = connection.execute(
            select(TimerRow.id, TimerRow.status, TimerRow.due_at, TimerRow.fired_at).where(mine)
        ).all()
        events = dict(
            connection.execute(
                select(CaseEventRow.kind, func.count())
                .where(CaseEventRow.id > before["events"])
                .group_by(CaseEventRow.kind)
            ).all()
        )
        outbox = connection.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.id > before["outbox"])
        )
        cases_touched = connection.scalar(
            select(func.count(func.distinct(CaseEventRow.case_id))).where(
                CaseEventRow.id > before["events"]
            )
        )
    by_status: dict[str, int] = {}
    fired_at: list[datetime] = []
    lateness: list[float] = []
    until_commit: list[float] = []
    by_second: dict[int, list[float]] = {}  # paced: lateness by second of due time
    first_due = started if not paced else min(r[2] for r in rows)
    moved = 0  # fired, and left pending at a later instant by the engine
    for timer_id, status, due, fired in rows:
        by_status[status] = by_status.get(status, 0) + 1
        moved += status == TimerStatus.PENDING.value and fired is not None
        if fired is not None and status == TimerStatus.DONE.value:
            fired_at.append(fired)
            late_from = due if paced else max(due, started)
            lateness.append((fired - late_from).total_seconds())
            if timer_id in committed:
                until_commit.append((committed[timer_id] - late_from).total_seconds())
            second = int((due - first_due).total_seconds())
            by_second.setdefault(second, []).append(lateness[-1])
    lateness.sort()
    until_commit.sort()
    processed = sum(by_status.get(s, 0) for s in ("done", "cancelled", "dead")) + moved
    last = max(fired_at) if fired_at else drained
    span = max((last - max(started, first_due)).total_seconds(), 1e-9)
    return {
        "timers": len(rows),
        "by_status": by_status,
        "processed": processed,
        "fired": len(fired_at),
        "fired_and_moved": moved,
        "seconds": round(span, 3),
        "timers_per_s": round(processed / span, 1),
        "fired_per_s": round(len(fired_at) / span, 1),
        "lateness_s" if paced else "queue_delay_s": spread(lateness),
        ("lateness_to_commit_s" if paced else "queue_delay_to_commit_s"): spread(until_commit),
        **({"lateness_by_second": timeline(by_second)} if paced else {}),
        "effects": {
            "case_events": events,
            "outbox_rows": int(outbox or 0),
            "cases_with_new_events": int(cases_touched or 0),
        },
    }


def one_run(
    engine: Engine, url: str, settings: Settings, args: argparse.Namespace, name: str,
    workers: int, mode: str, due_n: int, offered: float | None, far: list,
) -> dict[str, Any]:  # fmt: skip
    """Open cases, build this run's due set, top the table up to `--pending` pending
    timers, run the workers, measure. `offered` set: a paced run."""
    rng = random.Random(f"{SEED}:{name}")
    paced = offered is not None
    if mode == "fire":
        own_only = name.startswith("own")  # the engine's own timers, as many as they come
        cases = args.own_cases if own_only else min(args.cases, max(10, due_n // 4))
        log(f"[{name}] opening {cases:,} cases via do_open_case (10 days ago)")
        first, last, open_s = open_cases(engine, settings, cases, tag=f"{name}-")
        templates = case_timers(engine, first, last)
        own_ids = [t[0] for t in templates]
        if own_only:
            due_n = len(own_ids)
        elif len(own_ids) > due_n:  # more own timers than this run wants due: park the rest
            park(engine, own_ids[due_n:])
            own_ids = own_ids[:due_n]
    else:  # the bare loop never looks at the case: hang its timers on the far cases
        first, last, open_s, templates, own_ids = 0, -1, 0.0, far, []
    synthetic = max(0, due_n - len(own_ids))
    now = utcnow()
    if offered is not None:
        window = due_n / offered
        base = now + timedelta(seconds=args.lead)
        due = sorted(base + timedelta(seconds=window * rng.random()) for _ in range(due_n))
        horizon = base + timedelta(seconds=window)
    else:
        window = 0.0
        due = sorted(now - timedelta(seconds=60 * rng.random()) for _ in range(due_n))
        horizon = now
    rng.shuffle(due)
    redate(engine, own_ids, due[: len(own_ids)])
    first_synthetic, _, copied = copy_timers(
        engine, due_rows(templates, synthetic, name, due[len(own_ids) :], now)
    )
    top_up = args.pending - remaining(engine, now + timedelta(days=365))
    if top_up > 0:
        copy_timers(engine, far_rows(far, top_up, now, rng, prefix=f"{name}-"))
    vacuum(engine)
    pending = remaining(engine, now + timedelta(days=365))
    due_now = remaining(engine, horizon)
    log(f"[{name}] {pending:,} pending timers, {due_now:,} due; {workers} worker(s), {mode}"
        + (f", paced at {offered:,.0f}/s over {window:.1f} s" if paced else ""))  # fmt: skip
    before = {"events": max_id(engine, CaseEventRow), "outbox": max_id(engine, OutboxRow)}
    ran = run_workers(engine, url, mode, workers, horizon, args.timeout)
    result = measure(engine, ran["started"], ran["drained"], first_synthetic, own_ids,
                     horizon, paced, before, ran.pop("committed"))  # fmt: skip
    result |= {
        "workers": workers,
        "mode": mode,
        "paced": paced,
        "pending_at_start": pending,
        "due_in_window" if paced else "due_at_start": due_now,
        "own_case_timers": len(own_ids),
        "synthetic_timers": copied,
        "cases": last - first + 1,
        "open_cases_s": round(open_s, 2),
        "worker_cpu_s": ran["worker_cpu_s"],
        "server_cpu_s": ran["server_cpu_s"],
        "per_worker": ran["workers"],
    }
    if paced:
        result["window_s"] = round(window, 3)
        result["offered_per_s"] = offered
    if result["processed"]:
        per_timer = ran["worker_cpu_s"] / result["processed"]
        result["ms_worker_cpu_per_timer"] = round(1000 * per_timer, 3)
        result["ms_server_cpu_per_timer"] = round(
            1000 * ran["server_cpu_s"] / result["processed"], 3
        )
    log(f"[{name}] {result['processed']:,} timers in {result['seconds']} s = "
        f"{result['timers_per_s']:,}/s; events {sum(result['effects']['case_events'].values()):,},"
        f" e-mails queued {result['effects']['outbox_rows']:,}")  # fmt: skip
    return result


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=1_000_000, help="pending timers per run")
    parser.add_argument("--due", type=int, default=100_000, help="due timers per run")
    parser.add_argument("--cases", type=int, default=2000, help="real cases per run")
    parser.add_argument("--offered", type=float, default=5000, help="paced run: timers/s due")
    parser.add_argument("--lead", type=float, default=3.0, help="paced run: s before the first")
    parser.add_argument("--fire-due", type=int, help="due timers per worker run (default --due)")
    parser.add_argument("--keep-offered", type=float, help="keep run: timers/s due (default:"
                        " half the fire2 rate)")  # fmt: skip
    parser.add_argument("--keep-seconds", type=float, default=30, help="keep run: window, s")
    parser.add_argument("--own-cases", type=int, default=5000, help="own run: real cases")
    parser.add_argument("--runs", default="fire1,fire2,own2,paced2,keep2,bare2",
                        help="which runs, in order")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    parser.add_argument("--pg-url", default=os.environ.get("SOPDESK_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--json", type=Path, help="also write the result here, indented")
    args = parser.parse_args()

    load_open_case()  # fail early, with the import error, if the action is missing
    folder = Path(tempfile.mkdtemp(prefix="sopdesk-timers-"))
    settings = bench_settings()
    result: dict[str, Any] = {
        "benchmark": "timers",
        "workload": {
            "pending": args.pending, "due": args.due, "fire_due": args.fire_due or args.due,
            "cases_per_run": args.cases,
            "timer_batch": BATCH, "bare_batch": BARE_BATCH, "poll_interval_s": POLL_INTERVAL,
            "offered_per_s": args.offered,
            "cases_opened_ago_days": OPENED_AGO.days,
        },
        "machine": {
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "runs": {},
    }  # fmt: skip
    fire_due = args.fire_due or args.due
    runs = result["runs"]
    try:
        for run in args.runs.split(","):
            # each run on its own scratch database, loaded the same way: a run's figures
            # do not depend on which runs went before it (their leftover timers, the
            # churn of their updates in the tables and indexes)
            with scratch_postgres(args.pg_url, f"sopdesk_bench_timers_{os.getpid()}") as url:
                engine = create_engine_for(url)
                with engine.connect() as connection:
                    result["machine"]["postgresql"] = connection.scalar(text("SHOW server_version"))
                    result["machine"]["synchronous_commit"] = connection.scalar(
                        text("SHOW synchronous_commit")
                    )
                prepare_database(engine)
                far = load_far(engine, settings, args)
                runs[run] = run_one(engine, url, settings, args, run, fire_due, runs, far)
                engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    runs = result["runs"]
    if "fire2" in runs:
        result["timers_per_s_1_worker"] = runs.get("fire1", {}).get("timers_per_s")
        result["timers_per_s_2_workers"] = runs["fire2"]["timers_per_s"]
    if "paced2" in runs:
        result["lateness_p50_s"] = runs["paced2"]["lateness_s"]["p50"]
        result["lateness_p99_s"] = runs["paced2"]["lateness_s"]["p99"]
        result["lateness_to_commit_p50_s"] = runs["paced2"]["lateness_to_commit_s"]["p50"]
        result["lateness_to_commit_p99_s"] = runs["paced2"]["lateness_to_commit_s"]["p99"]
    if "keep2" in runs:
        result["keep_up_offered_per_s"] = runs["keep2"]["offered_per_s"]
        result["keep_up_lateness_p50_s"] = runs["keep2"]["lateness_s"]["p50"]
        result["keep_up_lateness_p99_s"] = runs["keep2"]["lateness_s"]["p99"]
    if "own2" in runs:
        result["own_timers_per_s_2_workers"] = runs["own2"]["timers_per_s"]
        result["own_fired_per_s_2_workers"] = runs["own2"]["fired_per_s"]
    if "bare2" in runs:
        result["bare_ceiling_per_s_2_workers"] = runs["bare2"]["timers_per_s"]
    result["targets"] = {"timers_per_s_2_workers": 5000, "lateness_p99_s": 2}
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, default=str))


def run_one(
    engine: Engine, url: str, settings: Settings, args: argparse.Namespace, run: str,
    fire_due: int, runs: dict[str, Any], far: list,
) -> dict[str, Any]:  # fmt: skip
    """One named run (`fire1`, `own2`, `paced2`, `keep2`, `bare2`, ...): the last digit
    is the number of workers."""
    workers = int(run[-1])
    if run.startswith(("fire", "own")):
        return one_run(engine, url, settings, args, run, workers, "fire", fire_due, None, far)
    if run.startswith("paced"):
        return one_run(engine, url, settings, args, run, workers, "fire", fire_due,
                       args.offered, far)  # fmt: skip
    if run.startswith("keep"):  # paced at half the measured 2-worker rate
        rate = args.keep_offered or 0.5 * runs.get("fire2", {}).get("timers_per_s", 100)
        due_n = max(100, round(rate * args.keep_seconds))
        return one_run(engine, url, settings, args, run, workers, "fire", due_n,
                       round(rate, 1), far)  # fmt: skip
    return one_run(engine, url, settings, args, run, workers, "bare", args.due, None, far)


def load_far(engine: Engine, settings: Settings, args: argparse.Namespace) -> list:
    """The timers that are pending but not due: COPY-loaded onto a few hundred real cases."""
    count = min(args.cases, 500)
    log(f"[setup] opening {count:,} cases for the far timers")
    first, last, _ = open_cases(engine, settings, count, tag="far-")
    templates = case_timers(engine, first, last)
    park(engine, [t[0] for t in templates])  # these cases' own timers belong to no run
    far = max(0, args.pending - max(args.due, args.fire_due or 0) - len(templates))
    started = time.perf_counter()
    _, _, copied = copy_timers(engine, far_rows(templates, far, utcnow(), random.Random(SEED)))
    log(f"[setup] {copied:,} far timers loaded with COPY in {time.perf_counter() - started:.1f} s")
    return templates


if __name__ == "__main__":
    main()
