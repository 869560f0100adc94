"""Benchmark: the web app with 1,000,000 cases loaded, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/web.py [--cases 1000000 | --quick] [--clients 50] [--json F]

Per database: a scratch database (SQLite file in a temporary folder; a PostgreSQL
database created on the server of `--pg-url` and dropped afterwards) is migrated, the
built-in SOP library loaded and published (`do_load_library`), users created, and
`--cases` cases loaded by `benchmarks/_web_load.py` (a few hundred through the real
actions, the rest cloned from them in bulk — its docstring says exactly how). Then
`sopdesk serve` (Uvicorn, one process, no worker) is started on a free port and driven
over HTTP by an asyncio client (httpx): pages with the cookie of the real sign-in form,
the API with a bearer token made by `do_create_token`.

Measured per endpoint: latency p50/p95/p99 with one client (no concurrency), and with
`--clients` clients firing back to back (a stress test: on 2 shared cores it measures
queueing); case creation (`POST /api/v1/cases`) as requests per second with the same
concurrency. Then **50 agents at work** (`--clients` of them): each, signed in as one
of the loader's eight agents (so "mine" differs between them), opens an inbox view,
then a case, then the inbox again…, pausing between clicks for a random think time
(exponential, mean `--think` seconds, as people read before they click); latencies of
inbox and case pages under that concurrent load, and the server's CPU per page.

The last line printed is one JSON object with `inbox_p95_ms_1m`: the worse of the two
databases' inbox p95 with the 50 agents at work (`case_p95_ms_1m` beside it); the
single-client and back-to-back figures are there too (`inbox_p95_ms_1m_single`,
`inbox_p95_ms_1m_concurrent`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select, text

sys.path.insert(0, str(Path(__file__).parent))

import _web_load as loader
from intake import inquiries, prepare_database, scratch_postgres

from sopdesk.actions.users import do_create_token
from sopdesk.settings import Settings
from sopdesk.store.engine import create_engine_for, session_factory
from sopdesk.store.tables import CaseRow

SEED = 20261124
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret-key-not-for-production"
INBOX_VIEWS = ("all", "due_soon", "breached", "unassigned", "mine")
ME = loader.AGENTS[0]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the database ----------------------------------------------------------------------------


def build(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Migrate, publish the library, load the cases; the load report."""
    engine = create_engine_for(url)
    try:
        setup_s = prepare_database(engine)
        work = inquiries(args.templates, tag="tpl")
        report = loader.load(engine, session_factory(engine), Settings(), work, args.cases,
                             args.customers or max(1, args.cases // 5), SEED)  # fmt: skip
        return {"setup_s": round(setup_s, 1), **report.as_dict(), **loader.census(engine)}
    finally:
        engine.dispose()


def samples(engine: Engine, rng: random.Random, n: int) -> dict[str, list[str]]:
    """Case references to open: open cases and finished ones, picked at random."""
    out: dict[str, list[str]] = {}
    with engine.connect() as connection:
        top = int(connection.scalar(text("SELECT max(id) FROM cases")) or 0)
        open_ = connection.scalars(
            select(CaseRow.reference)
            .where(CaseRow.status.not_in(("resolved", "closed")))
            .order_by(CaseRow.next_due_at)
            .limit(20_000)
        ).all()
    out["open"] = rng.sample(list(open_), min(n, len(open_)))
    out["resolved"] = [f"SD-{rng.randint(1, top)}" for _ in range(n)]  # ≈ 94 % finished
    return out


def bearer_token(engine: Engine) -> str:
    with session_factory(engine)() as session:
        return do_create_token(session, ME, name="bench").token


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(url: str, folder: Path, workers: int = 1) -> Iterator[tuple[str, int]]:
    """`sopdesk serve [--workers N]` on a free port against `url`; (base URL, pid)."""
    port = free_port()
    env = os.environ | {
        "SOPDESK_DATABASE_URL": url,
        "SOPDESK_DATA_DIR": str(folder),
        "SOPDESK_SECRET_KEY": SECRET,
    }
    sopdesk = Path(sys.executable).with_name("sopdesk")
    out = (folder / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [str(sopdesk), "serve", "--port", str(port), "--no-worker", "--workers", str(workers)],
        env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/signin", timeout=5).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"sopdesk serve did not start; see {out.name}")
            time.sleep(0.3)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        out.close()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (`--workers N`) so far,
    from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return own + sum(process_cpu(int(kid)) for kid in kids)


def sign_in(base: str, email: str = ME) -> httpx.Cookies:
    """The real sign-in form: GET for the CSRF token, POST email and password."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        page = client.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if token is None:
            raise SystemExit("no CSRF token on the sign-in page")
        form = {"csrf_token": token.group(1), "email": email, "password": loader.PASSWORD,
                "next": "/inbox"}  # fmt: skip
        answer = client.post("/signin", data=form)
        if answer.status_code != 303:
            raise SystemExit(f"sign-in failed: {answer.status_code}")
        return client.cookies


# --- the client ---------------------------------------------------------------------------------

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50_ms": round(at(0.5), 1), "p95_ms": round(at(0.95), 1),
            "p99_ms": round(at(0.99), 1), "max_ms": round(ordered[-1], 1)}  # fmt: skip


async def drive(
    client: httpx.AsyncClient, request: Request, total: int, clients: int
) -> dict[str, Any]:
    """`total` requests by `clients` concurrent loops; latencies and throughput."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    counter = iter(range(total))

    async def loop() -> None:
        for i in counter:
            started = time.perf_counter()
            try:
                answer = await request(client, i)
            except httpx.TransportError as exc:  # counted, not timed
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(1000 * (time.perf_counter() - started))
            if answer.status_code >= 400:
                failures[str(answer.status_code)] = failures.get(str(answer.status_code), 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    wall = time.perf_counter() - started
    return {**percentiles(latencies), "per_s": round(total / wall, 1), "errors": failures}


def get(path_of: Callable[[int], str]) -> Request:
    async def request(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.get(path_of(i))

    return request


def api_pages(query: str, pages: int) -> Request:
    """The first page of `GET /api/v1/cases?query`, then `pages - 1` next pages by cursor."""

    async def request(client: httpx.AsyncClient, i: int) -> httpx.Response:
        answer = await client.get(f"/api/v1/cases?{query}")
        for _ in range(pages - 1):
            cursor = answer.json().get("next_cursor") if answer.status_code == 200 else None
            if not cursor:
                break
            answer = await client.get(f"/api/v1/cases?{query}&cursor={cursor}")
        return answer

    return request


def create_case(run: str) -> Request:
    bodies = inquiries(2000, seed=SEED + 1, tag=f"web-{run}-")

    async def request(client: httpx.AsyncClient, i: int) -> httpx.Response:
        inquiry = bodies[i % len(bodies)]
        body = {"customer": {"email": inquiry.email.replace("@", f".{i}@"),
                             "name": inquiry.name},
                "subject": inquiry.subject, "body": inquiry.body, "channel": "api"}  # fmt: skip
        return await client.post("/api/v1/cases", json=body)

    return request


def endpoints(refs: dict[str, list[str]]) -> dict[str, Request]:
    """What is measured, by name."""
    out: dict[str, Request] = {}
    for view in INBOX_VIEWS:
        out[f"inbox_{view}"] = get(lambda _i, v=view: f"/inbox?view={v}")
    for kind, picks in refs.items():
        out[f"case_page_{kind}"] = get(lambda i, p=picks: f"/cases/{p[i % len(p)]}")
    out["api_list_first_page"] = get(lambda _i: "/api/v1/cases")
    out["api_list_4_pages"] = api_pages("", 4)
    out["api_list_open_4_pages"] = api_pages("status=open&status=new", 4)
    out["api_list_breached_4_pages"] = api_pages("breached=true", 4)
    out["api_list_channel_email_4_pages"] = api_pages("channel=email", 4)
    out["api_list_assignee_4_pages"] = api_pages(f"assignee={ME}", 4)
    return out


async def measure(
    base: str, cookies: httpx.Cookies, token: str, refs: dict[str, list[str]],
    args: argparse.Namespace, pid: int, run: str,
) -> dict[str, Any]:  # fmt: skip
    # idle connections expire before Uvicorn's 5 s keep-alive closes them under us
    limits = httpx.Limits(max_connections=args.clients + 5, keepalive_expiry=4)
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits, timeout=120) as pages,
        httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as api,
    ):
        for name, request in endpoints(refs).items():
            client = api if name.startswith("api") else pages
            await drive(client, request, 5, 1)  # warm-up
            single = await drive(client, request, args.single, 1)
            cpu = process_cpu(pid)
            concurrent = await drive(client, request, args.requests, args.clients)
            concurrent["server_cpu_ms_per_request"] = round(
                1000 * (process_cpu(pid) - cpu) / args.requests, 2
            )
            results[name] = {"single": single, "concurrent": concurrent}
            log(f"  {name}: single p50 {single['p50_ms']} p95 {single['p95_ms']} ms; "
                f"{args.clients} clients p50 {concurrent['p50_ms']} p95 {concurrent['p95_ms']} "
                f"ms, {concurrent['per_s']}/s")  # fmt: skip
        cpu = process_cpu(pid)
        created = await drive(api, create_case(run), args.creates, args.clients)
        created["server_cpu_ms_per_request"] = round(
            1000 * (process_cpu(pid) - cpu) / args.creates, 2
        )
        results["api_create_case"] = {"concurrent": created}
        log(f"  create: {created['per_s']}/s, p95 {created['p95_ms']} ms, "
            f"errors {created['errors']}")  # fmt: skip
    return results


async def agents_at_work(
    base: str, people: list[httpx.Cookies], refs: dict[str, list[str]], args: argparse.Namespace
) -> dict[str, Any]:
    """`--clients` agents alternating inbox views and case pages with think time; agent
    k is signed in as person k mod len(people) (the loader's eight agents), so the
    inbox's "mine" is each person's own."""
    rng = random.Random(SEED + 7)
    cases = [ref for picks in refs.values() for ref in picks]
    latencies: dict[str, list[float]] = {"inbox": [], "case_page": []}
    failures: dict[str, int] = {}
    limits = httpx.Limits(max_connections=args.clients + 5, keepalive_expiry=4)

    async def agent(client: httpx.AsyncClient, seed: int) -> None:
        own = random.Random(seed)
        await asyncio.sleep(own.uniform(0, args.think))  # agents do not start in step
        for click in range(args.clicks):
            kind = "inbox" if click % 2 == 0 else "case_page"
            if kind == "inbox":
                path = f"/inbox?view={own.choice(INBOX_VIEWS)}"
            else:
                path = f"/cases/{own.choice(cases)}"
            started = time.perf_counter()
            answer = await client.get(path)
            latencies[kind].append(1000 * (time.perf_counter() - started))
            if answer.status_code >= 400:
                failures[str(answer.status_code)] = failures.get(str(answer.status_code), 0) + 1
            await asyncio.sleep(own.expovariate(1 / args.think))

    started = time.perf_counter()
    clients = [
        httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits, timeout=120)
        for cookies in people
    ]
    try:
        await asyncio.gather(
            *(agent(clients[k % len(clients)], rng.randrange(2**32)) for k in range(args.clients))
        )
    finally:
        for client in clients:
            await client.aclose()
    wall = time.perf_counter() - started
    total = sum(len(values) for values in latencies.values())
    return {
        "agents": args.clients,
        "people": len(people),
        "think_s": args.think,
        "per_s": round(total / wall, 1),
        "errors": failures,
        **{kind: percentiles(values) for kind, values in latencies.items()},
    }


def run_one(url: str, args: argparse.Namespace, folder: Path, name: str) -> dict[str, Any]:
    """Load (unless reused), serve and measure one database."""
    out: dict[str, Any] = {}
    if not args.reuse:
        log(f"[{name}] loading {args.cases:,} cases")
        out["load"] = build(url, args)
        log(f"[{name}] loaded: {json.dumps(out['load'], default=str)}")
    if args.load_only:
        return out
    engine = create_engine_for(url)
    try:
        refs = samples(engine, random.Random(SEED), 200)
        token = bearer_token(engine)
    finally:
        engine.dispose()
    workers = args.serve_workers if name == "postgresql" else 1  # SQLite: one writer
    with server(url, folder, workers) as (base, pid):
        cookies = sign_in(base)
        out["endpoints"] = asyncio.run(measure(base, cookies, token, refs, args, pid, name))
        log(f"[{name}] {args.clients} agents at work, think time {args.think} s")
        people = [sign_in(base, email) for email in loader.AGENTS]
        cpu = process_cpu(pid)
        out["agents"] = asyncio.run(agents_at_work(base, people, refs, args))
        pages = sum(out["agents"][kind]["n"] for kind in ("inbox", "case_page"))
        out["agents"]["server_cpu_ms_per_request"] = round(
            1000 * (process_cpu(pid) - cpu) / max(1, pages), 2
        )
        log(f"  agents: {json.dumps(out['agents'])}")
    return out


def headline(result: dict[str, Any]) -> None:
    """`inbox_p95_ms_1m` and friends: the worse database for each figure."""
    suffix = "_1m" if result["workload"]["cases"] >= 1_000_000 else ""
    for page in ("inbox", "case_page"):
        worst_at_work: tuple[float, str] | None = None
        for db, found in result["databases"].items():
            p95 = found.get("agents", {}).get(page, {}).get("p95_ms")
            if p95 is not None and (worst_at_work is None or p95 > worst_at_work[0]):
                worst_at_work = (p95, db)
        if worst_at_work:
            key = "inbox_p95_ms" if page == "inbox" else "case_p95_ms"
            result[f"{key}{suffix}"] = worst_at_work[0]
            result[f"{key}_worst"] = worst_at_work[1]
    for mode, key in (("single", "inbox_p95_ms_single"), ("concurrent", "inbox_p95_ms_concurrent")):
        worst: tuple[float, str] | None = None
        for db, found in result["databases"].items():
            for view in INBOX_VIEWS:
                p95 = (
                    found.get("endpoints", {}).get(f"inbox_{view}", {}).get(mode, {}).get("p95_ms")
                )
                if p95 is not None and (worst is None or p95 > worst[0]):
                    worst = (p95, f"{db}:{view}")
        if worst:
            result[key.replace("_ms", "_ms" + suffix) if suffix else key] = worst[0]
            result[f"{key}_worst"] = worst[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 cases: a smoke run")
    parser.add_argument("--customers", type=int, help="default: cases / 5")
    parser.add_argument("--templates", type=int, default=360, help="cases opened for real")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500, help="per endpoint, concurrent")
    parser.add_argument("--single", type=int, default=100, help="per endpoint, one client")
    parser.add_argument("--creates", type=int, default=500, help="POST /api/v1/cases")
    parser.add_argument("--think", type=float, default=2.0, help="agents' mean think time, s")
    parser.add_argument(
        "--serve-workers", type=int, default=1, help="sopdesk serve --workers N (PostgreSQL)"
    )
    parser.add_argument("--clicks", type=int, default=20, help="pages each agent opens")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--pg-url", default=os.environ.get("SOPDESK_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--keep", type=Path, help="keep the databases: SQLite file in this "
                        "folder, PostgreSQL database sopdesk_bench_web_keep")  # fmt: skip
    parser.add_argument("--reuse", action="store_true", help="measure the --keep databases")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.cases = 50_000
    folder = Path(tempfile.mkdtemp(prefix="sopdesk-web-"))
    result: dict[str, Any] = {
        "benchmark": "web",
        "workload": {"cases": args.cases, "clients": args.clients, "requests": args.requests,
                     "single": args.single, "creates": args.creates,
                     "think_s": args.think, "clicks": args.clicks,
                     "serve_workers_postgresql": args.serve_workers},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_start": [round(x, 2) for x in os.getloadavg()]},
        "databases": {},
    }  # fmt: skip
    try:
        if not args.skip_sqlite:
            where = args.keep or folder
            where.mkdir(parents=True, exist_ok=True)
            path = where / "web.db"
            if not args.reuse and path.exists():
                path.unlink()
            result["databases"]["sqlite"] = run_one(f"sqlite:///{path}", args, folder, "sqlite")
        if not args.skip_pg:
            with postgres(args) as url:
                result["databases"]["postgresql"] = run_one(url, args, folder, "postgresql")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    headline(result)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, default=str))


@contextmanager
def postgres(args: argparse.Namespace) -> Iterator[str]:
    """A scratch database, dropped afterwards — or the kept one with --keep/--reuse."""
    if args.keep is None:
        with scratch_postgres(args.pg_url, f"sopdesk_bench_web_{os.getpid()}") as url:
            yield url
        return
    from sqlalchemy.engine import make_url

    from sopdesk.settings import normalise_database_url

    name = "sopdesk_bench_web_keep"
    if not args.reuse:
        admin = create_engine_for(normalise_database_url(args.pg_url))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    url = make_url(normalise_database_url(args.pg_url)).set(database=name)
    yield url.render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
