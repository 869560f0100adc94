"""Diagnostic: what one heavy first fire costs, alone (no peer; see timers.py for the
issue's figures).

    .venv/bin/python benchmarks/heavy_fire.py [--cases 1000] [--pg-url URL] [--json F]

Opens `--cases` real cases 10 days in the past on a scratch PostgreSQL database (as
timers.py does, so every SLA limit of their runs has passed), makes all their own timers
due, and fires them with one real worker loop (`Worker.run_once()` until it finds
nothing) in this process. Each case's first fire does everything it owes: breaches,
warnings, escalations and their notices. Prints, as the last line, one JSON object with
the worker's and the server's CPU per case and what the fires wrote.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))

from intake import DEFAULT_PG_URL, backend_cpu, pool_backend_cpu, prepare_database, scratch_postgres
from timers import BATCH, SECRET, bench_settings, case_timers, open_cases, redate

from sopdesk.actions.base import utcnow
from sopdesk.actions.timers import do_fire_timers
from sopdesk.process import tune_gc
from sopdesk.store.engine import create_engine_for, session_factory
from sopdesk.store.tables import CaseEventRow, OutboxRow
from sopdesk.worker.runner import Worker, WorkerConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tune_gc()  # this process is the worker: as `sopdesk worker` does at start
    with scratch_postgres(args.pg_url, "sopdesk_bench_heavy") as url:
        engine = create_engine_for(url)
        prepare_database(engine)
        settings = bench_settings()
        first, last, _ = open_cases(engine, settings, args.cases, "heavy")
        timers = case_timers(engine, first, last)
        redate(engine, [t[0] for t in timers], [utcnow() - timedelta(minutes=1)] * len(timers))
        with engine.connect() as connection:
            events_before = connection.scalar(select(func.count()).select_from(CaseEventRow))
            outbox_before = connection.scalar(select(func.count()).select_from(OutboxRow))
        fire = functools.partial(do_fire_timers, settings=settings)
        config = WorkerConfig(worker_id="heavy", secret=SECRET, timer_batch=BATCH)
        worker = Worker(session_factory(engine), config, deliver=None, fire_timers=fire)
        server_before = backend_cpu(engine)
        cpu, wall, fired = time.process_time(), time.perf_counter(), 0
        while (stats := worker.run_once()).worked:
            fired += stats.fired
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        server = pool_backend_cpu(server_before, backend_cpu(engine))
        with engine.connect() as connection:
            events = connection.scalar(select(func.count()).select_from(CaseEventRow))
            outbox = connection.scalar(select(func.count()).select_from(OutboxRow))
        engine.dispose()
    result = {
        "benchmark": "heavy_fire",
        "cases": args.cases,
        "timers": len(timers),
        "fired": fired,
        "worker_cpu_ms_per_case": round(1000 * cpu / args.cases, 3),
        "server_cpu_ms_per_case": round(1000 * server / args.cases, 3),
        "wall_s": round(wall, 3),
        "events_per_case": round((events - events_before) / args.cases, 2),
        "emails_per_case": round((outbox - outbox_before) / args.cases, 2),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
