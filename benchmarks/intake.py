"""Benchmark: case intake, sopdesk's full path against django-helpdesk ticket creation.

    .venv/bin/python benchmarks/intake.py [--n 2000] [--peer-n 1000] [--skip-pg] [--json F]

What is measured, one inquiry per call and one transaction per case (as a web form or an
e-mail arriving does it):

* sopdesk: `sopdesk.actions.cases.do_open_case` — find or create the customer, create
  the case, route it to an SOP, start the SOP run pinned to the published version,
  compute every step's due time in business time, write the timers, queue the
  acknowledgement in the outbox, log the events — on SQLite (a file in a temporary
  folder) and on PostgreSQL (a scratch database created on the server named by
  `SOPDESK_TEST_PG_URL`, default postgresql://postgres@127.0.0.1:5432/test, and dropped
  afterwards). The built-in SOP library is loaded and published first
  (`do_load_library`, what `sopdesk init` does).
* the peer, django-helpdesk 2.6.1 on Django 5.2.19 and SQLite, installed by this script
  into a venv under a temporary folder (`django-admin startproject`, settings appended,
  `migrate`), tickets created in that venv's Python by
  `benchmarks/_peers/django_helpdesk_create.py` through `PublicTicketForm(data=...)
  .is_valid(); form.save(user=None)` — the public submit view's own code path (ticket,
  follow-up, rendered `newticket_submitter` e-mail handed to a dummy backend).

Both sides get the same seeded inquiries: customer questions from the banking77 test set
(`/work/shared/data/banking77/test.csv`, read in place) with a subject per kind — about
30 % returns/refunds, 30 % complaints, 40 % questions — and 85 % first-time customers.
The headline is cases per CPU-second of the creating process (SQLite runs inside it, so
the database work is counted on both sides); on PostgreSQL the server backends' CPU is
read from /proc and reported beside the client's. Wall-clock rates are reported too;
the cores are shared, so they swing with the load.

Both sides run with the garbage collector's thresholds of sopdesk's long-running
processes (`sopdesk.process.tune_gc`, which `sopdesk serve` and `sopdesk mail serve`
apply): the same interpreter settings for both code paths. The peer runs a second time
with CPython's defaults, as a Django deployment ships, for reference.

The last line printed is one JSON object with `ratio_vs_django_helpdesk` (sopdesk SQLite
cases per CPU-s / peer tickets per CPU-s, same run, same GC settings; target >= 10),
`ratio_vs_django_helpdesk_default_gc` (against the peer at CPython's defaults) and
`ratio_vs_django_helpdesk_wall`.
"""

from __future__ import annotations

import argparse
import collections
import csv
import importlib
import inspect
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sopdesk.actions.base import utcnow
from sopdesk.actions.sop_files import do_load_library
from sopdesk.process import GC_THRESHOLDS, tune_gc
from sopdesk.settings import Settings, normalise_database_url
from sopdesk.store.engine import create_engine_for, session_factory
from sopdesk.store.migrate import upgrade
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerRow,
    MessageRow,
    OutboxRow,
    SopRunRow,
    TimerRow,
)

SEED = 20261124
DATA = Path("/work/shared/data/banking77/test.csv")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PEER_SCRIPT = Path(__file__).with_name("_peers") / "django_helpdesk_create.py"
PEER_PACKAGES = (
    "django-helpdesk==2.6.1",
    "Django==5.2.19",
    "djangorestframework==3.18.3",
    "django-model-utils==5.0.0",
    "django-cleanup==9.0.0",
)
PEER_SETTINGS = """

# --- appended by sopdesk benchmarks/intake.py (as in peer-measurements section 2) ---
INSTALLED_APPS += [
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
SITE_ID = 1
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
HELPDESK_TEAMS_MODE_ENABLED = False  # else pinax-teams is required
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # rendered, not delivered
"""
PEER_URLS = """from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("helpdesk/", include("helpdesk.urls")),
]
"""

# banking77 intents grouped by what the customer wants; each kind gets subjects that say so
RETURNS = frozenset(
    {
        "request_refund",
        "Refund_not_showing_up",
        "transaction_charged_twice",
        "reverted_card_payment?",
        "extra_charge_on_statement",
        "card_payment_fee_charged",
        "direct_debit_payment_not_recognised",
        "cash_withdrawal_charge",
        "transfer_fee_charged",
        "top_up_by_card_charge",
    }
)
COMPLAINTS = frozenset(
    {
        "card_not_working",
        "contactless_not_working",
        "virtual_card_not_working",
        "wrong_amount_of_cash_received",
        "card_swallowed",
        "declined_card_payment",
        "declined_transfer",
        "declined_cash_withdrawal",
        "failed_transfer",
        "top_up_failed",
        "pin_blocked",
        "wrong_exchange_rate_for_cash_withdrawal",
        "card_payment_wrong_exchange_rate",
        "balance_not_updated_after_bank_transfer",
        "transfer_not_received_by_recipient",
    }
)
SUBJECTS = {
    "return": (
        "Refund request",
        "I want my money back",
        "Please refund this charge",
        "Return and refund",
        "Refund for a wrong charge",
    ),
    "complaint": (
        "Complaint about your service",
        "Very disappointed",
        "This is not acceptable",
        "Complaint: card problem",
        "Unhappy with how this was handled",
    ),
    "question": (
        "Question about my account",
        "Quick question",
        "Information needed",
        "How do I do this?",
        "Enquiry about your card",
    ),
}
KIND_WEIGHTS = {"return": 0.3, "complaint": 0.3, "question": 0.4}
PEER_QUEUE = {"return": "returns", "complaint": "complaints", "question": "questions"}
FIRST_NAMES = ("Ann", "Bob", "Chen", "Dara", "Emeka", "Fatima", "Gita", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Smith", "Okafor", "Novak", "Garcia", "Khan", "Muller", "Rossi", "Sato", "Berg")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the workload ------------------------------------------------------------------------


@dataclass(frozen=True)
class Inquiry:
    kind: str  # return / complaint / question
    intent: str  # the banking77 label the body came from
    subject: str
    body: str
    email: str
    name: str


def kind_of(intent: str) -> str:
    if intent in RETURNS:
        return "return"
    if intent in COMPLAINTS:
        return "complaint"
    return "question"


def inquiries(n: int, data: Path = DATA, seed: int = SEED, tag: str = "") -> list[Inquiry]:
    """`n` seeded inquiries: ~30 % returns, 30 % complaints, 40 % questions; 85 % new
    customers, the rest write again. `tag` keeps the addresses of separate sets apart."""
    with data.open(newline="", encoding="utf-8") as handle:
        rows = [(row["text"].strip(), row["category"]) for row in csv.DictReader(handle)]
    pools: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for body, intent in rows:
        if body:
            pools[kind_of(intent)].append((body, intent))
    rng = random.Random(seed)
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    out: list[Inquiry] = []
    customers: list[tuple[str, str]] = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        body, intent = rng.choice(pools[kind])
        if customers and rng.random() < 0.15:
            email, name = rng.choice(customers)
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            email = f"{name.split()[0].lower()}.{tag}{i}@customers.example"
            customers.append((email, name))
        out.append(Inquiry(kind, intent, rng.choice(SUBJECTS[kind]), body, email, name))
    return out


# --- sopdesk -------------------------------------------------------------------------------


def load_open_case() -> Callable[..., Any]:
    """The real action; it is imported late so that the harness can report its absence."""
    module = importlib.import_module("sopdesk.actions.cases")
    return module.do_open_case  # type: ignore[no-any-return]


def case_kwargs(action: Callable[..., Any], settings: Settings) -> Callable[[Inquiry], dict]:
    """Map an inquiry onto `do_open_case`'s keywords (checked against its signature)."""
    accepted = set(inspect.signature(action).parameters)
    wanted = {"customer_email", "subject", "body"}
    if missing := wanted - accepted:
        raise SystemExit(f"do_open_case lacks the keywords {sorted(missing)}; adapt intake.py")

    def build(inquiry: Inquiry) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "customer_email": inquiry.email,
            "subject": inquiry.subject,
            "body": inquiry.body,
        }
        optional = {"customer_name": inquiry.name, "channel": "web", "settings": settings}
        kwargs |= {key: value for key, value in optional.items() if key in accepted}
        return kwargs

    return build


def prepare_database(engine: Engine) -> float:
    """Migrate and publish the built-in library; returns the wall seconds it took."""
    started = time.perf_counter()
    upgrade(engine)
    with session_factory(engine)() as session:
        report = do_load_library(session)
    if not report.ok:
        raise SystemExit("the built-in SOP library did not load")
    return time.perf_counter() - started


def backend_cpu(engine: Engine) -> dict[int, float] | None:
    """CPU seconds used so far by each PostgreSQL backend serving this database (local
    server only: read from /proc); None when it cannot be read."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        pids = list(pids)
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return out


def pool_backend_cpu(before: dict[int, float] | None, after: dict[int, float] | None) -> float:
    if before is None or after is None:
        return float("nan")
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def census(session: Session) -> dict[str, Any]:
    """What the runs left in the database: proof that the whole path ran."""

    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    by_sop = session.execute(select(CaseRow.sop_id, func.count()).group_by(CaseRow.sop_id))
    by_timer = session.execute(select(TimerRow.kind, func.count()).group_by(TimerRow.kind))
    return {
        "customers": count(CustomerRow),
        "cases": count(CaseRow),
        "messages": count(MessageRow),
        "sop_runs": count(SopRunRow),
        "timers": count(TimerRow),
        "outbox": count(OutboxRow),
        "case_events": count(CaseEventRow),
        "cases_by_sop": {str(sop): n for sop, n in by_sop},
        "timers_by_kind": {str(kind): n for kind, n in by_timer},
    }


def run_sopdesk(
    url: str, work: list[Inquiry], warmup: list[Inquiry], settings: Settings
) -> dict[str, Any]:
    """Open every inquiry of `work` as a case, one call (one transaction) each, in this
    process tuned as `sopdesk serve` and `sopdesk mail serve` tune theirs (`tune_gc`)."""
    tune_gc()
    action = load_open_case()
    build = case_kwargs(action, settings)
    engine = create_engine_for(url)
    try:
        setup_s = prepare_database(engine)
        sessions = session_factory(engine)
        with sessions() as session:
            for inquiry in warmup:
                action(session, **build(inquiry), now=utcnow())
            calls = [build(inquiry) for inquiry in work]
            server_before = backend_cpu(engine)
            cpu, wall = time.process_time(), time.perf_counter()
            for kwargs in calls:
                action(session, **kwargs, now=utcnow())
            cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
            server_s = pool_backend_cpu(server_before, backend_cpu(engine))
            left = census(session)
        n = len(work)
        result: dict[str, Any] = {
            "backend": engine.dialect.name,
            "n": n,
            "warmup": len(warmup),
            "setup_wall_s": round(setup_s, 3),
            "cpu_s": round(cpu_s, 4),
            "wall_s": round(wall_s, 4),
            "per_cpu_s": round(n / cpu_s, 1),
            "per_wall_s": round(n / wall_s, 1),
            "ms_cpu_per_case": round(1000 * cpu_s / n, 3),
            "database": left,
        }
        if engine.dialect.name == "postgresql":
            result["server_cpu_s"] = round(server_s, 4)
            result["per_cpu_s_client_and_server"] = round(n / (cpu_s + server_s), 1)
        return result
    finally:
        engine.dispose()


@contextmanager
def scratch_postgres(base_url: str, name: str) -> Iterator[str]:
    """A fresh database on the server of `base_url`, dropped on the way out."""
    admin = create_engine(normalise_database_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalise_database_url(base_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the peer ------------------------------------------------------------------------------


def make_peer(folder: Path, reuse: Path | None) -> tuple[Path, Path, dict[str, Any]]:
    """The peer's venv and a migrated django-helpdesk project (SQLite) in `folder`."""
    venv = reuse or folder / "venv"
    python = venv / "bin" / "python"
    timings: dict[str, Any] = {}
    started = time.perf_counter()
    if not python.exists():
        log(f"peer: installing {' '.join(PEER_PACKAGES)} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *PEER_PACKAGES],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if pip.returncode:
            raise SystemExit(f"pip could not install the peer:\n{pip.stdout}{pip.stderr}")
    timings["install_wall_s"] = round(time.perf_counter() - started, 2)
    project = folder / "hdproj"
    project.mkdir()
    subprocess.run(
        [str(venv / "bin" / "django-admin"), "startproject", "hdproj", str(project)], check=True
    )
    settings = project / "hdproj" / "settings.py"
    settings.write_text(settings.read_text() + PEER_SETTINGS)
    (project / "hdproj" / "urls.py").write_text(PEER_URLS)
    started = time.perf_counter()
    subprocess.run(
        [str(python), "manage.py", "migrate", "--verbosity", "0"], cwd=project, check=True
    )
    timings["migrate_wall_s"] = round(time.perf_counter() - started, 2)
    freeze = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    timings["pip_freeze"] = freeze.stdout.split()
    return python, project, timings


def run_peer(
    python: Path, project: Path, folder: Path, work: list[Inquiry], warmup: int, timeout: float,
    gc_thresholds: tuple[int, ...] | None = None,
) -> dict[str, Any]:  # fmt: skip
    source = folder / "inquiries.json"
    rows = [
        {"title": i.subject, "body": i.body, "email": i.email, "queue": PEER_QUEUE[i.kind]}
        for i in work
    ]
    source.write_text(json.dumps(rows), encoding="utf-8")
    gc_arg = [",".join(map(str, gc_thresholds))] if gc_thresholds else []
    log(f"peer: {len(work):,} tickets through PublicTicketForm (+{warmup} untimed), "
        f"GC thresholds {gc_thresholds or 'CPython defaults'}")  # fmt: skip
    done = subprocess.run(
        [str(python), str(PEER_SCRIPT), str(project), str(source), str(len(work)), str(warmup),
         *gc_arg],
        check=True, capture_output=True, text=True, timeout=timeout, cwd=project,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["per_cpu_s"] = round(report["n"] / report["cpu_s"], 1)
    report["per_wall_s"] = round(report["n"] / report["wall_s"], 1)
    report["ms_cpu_per_ticket"] = round(1000 * report["cpu_s"] / report["n"], 3)
    report["gc_thresholds"] = list(gc_thresholds) if gc_thresholds else "CPython defaults"
    return report


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="sopdesk cases per database")
    parser.add_argument("--peer-n", type=int, default=1000, help="django-helpdesk tickets")
    parser.add_argument("--warmup", type=int, default=50, help="untimed first cases, each side")
    parser.add_argument("--data", type=Path, default=DATA, help="banking77 test.csv (read)")
    parser.add_argument("--pg-url", default=os.environ.get("SOPDESK_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-venv", type=Path, help="reuse (or create) the peer's venv here")
    parser.add_argument("--peer-timeout", type=float, default=1800)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", type=Path, help="also write the result here, indented")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sopdesk-intake-"))
    total = max(args.n, args.peer_n)
    every = inquiries(args.warmup + total, data=args.data)
    warmup, work = every[: args.warmup], every[args.warmup :]
    mix = collections.Counter(i.kind for i in work[: args.n])
    result: dict[str, Any] = {
        "benchmark": "intake",
        "workload": {
            "n": args.n,
            "peer_n": args.peer_n,
            "warmup": args.warmup,
            "seed": SEED,
            "source": str(args.data),
            "kinds": dict(mix),
            "distinct_customers": len({i.email for i in work[: args.n]}),
        },
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "sopdesk": {},
    }
    peer: dict[str, Any] | None = None
    shipped: dict[str, Any] | None = None
    try:
        settings = Settings(data_dir=folder / "data", secret_key="benchmark-secret")
        sqlite_url = f"sqlite:///{folder / 'sopdesk.db'}"
        try:
            load_open_case()
        except (ImportError, AttributeError) as missing:
            log(f"sopdesk side skipped: {missing}")
            result["sopdesk"]["missing"] = f"sopdesk.actions.cases.do_open_case: {missing}"
        if "missing" not in result["sopdesk"]:
            log(f"sopdesk SQLite: {args.n:,} cases (+{args.warmup} untimed) in {folder}")
            result["sopdesk"]["sqlite"] = run_sopdesk(sqlite_url, work[: args.n], warmup, settings)
        if not args.skip_pg and "missing" not in result["sopdesk"]:
            name = f"sopdesk_bench_intake_{os.getpid()}"
            with scratch_postgres(args.pg_url, name) as pg_url:
                log(f"sopdesk PostgreSQL: {args.n:,} cases in scratch database {name}")
                result["sopdesk"]["postgresql"] = run_sopdesk(
                    pg_url, work[: args.n], warmup, settings
                )
        if not args.skip_peer:
            python, project, setup = make_peer(folder, args.peer_venv)
            peer = run_peer(python, project, folder, work[: args.peer_n], args.warmup,
                            args.peer_timeout, GC_THRESHOLDS)  # fmt: skip
            peer["setup"] = setup
            result["django_helpdesk"] = peer
            shipped = run_peer(python, project, folder, work[: args.peer_n], args.warmup,
                               args.peer_timeout)  # fmt: skip
            result["django_helpdesk_default_gc"] = shipped
        ours = result["sopdesk"].get("sqlite")
        if peer is not None and ours is not None:
            result["ratio_vs_django_helpdesk"] = round(ours["per_cpu_s"] / peer["per_cpu_s"], 2)
            result["ratio_vs_django_helpdesk_wall"] = round(
                ours["per_wall_s"] / peer["per_wall_s"], 2
            )
            result["target_ratio"] = 10
            if shipped is not None:
                result["ratio_vs_django_helpdesk_default_gc"] = round(
                    ours["per_cpu_s"] / shipped["per_cpu_s"], 2
                )
    finally:
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
