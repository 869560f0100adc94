"""Loader for `benchmarks/web.py`: a database holding N cases shaped by the real intake.

Opening 1,000,000 cases through `do_open_case` would take hours on this machine (≈ 6 ms
of CPU each, see docs/performance.md), so the loader does it in two parts:

1. **Templates, through the real code.** A few hundred cases are opened with
   `do_open_case` (banking77 inquiries, every channel and priority) at instants spread
   over the week before the run, then worked through the real actions: assigned
   (`do_assign`), answered (`do_reply`, sometimes leaving the case pending), noted
   (`do_add_note`), their steps completed or overridden and the case resolved
   (`do_resolve`) or closed (`do_change_status`). Every row these cases have — the
   case, messages, SOP run with its engine state, step states, timers, events — is
   what the application writes.
2. **Clones, in bulk.** Each further case copies one template's rows under new ids
   (case, run, messages, events, timers), for one of ~200,000 bulk-inserted
   customers, moved back in time by a whole number of weeks so that business-hour
   due times stay on the same weekday and hour (holidays aside). References
   (`SD-<id>`), timer keys, Message-IDs, the customer's address and the ids inside the
   engine's JSON state are rewritten to the clone's. Rows go in with `executemany`
   (SQLite) or `COPY` (PostgreSQL), in batches.

What clones leave out, honestly: outbox rows (delivered mail is not read by any page
measured), and timers of finished cases (only open cases get their template's timers);
the greeting inside a cloned message names the template's customer.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.actions import cases as case_actions
from sopdesk.actions.base import utcnow
from sopdesk.actions.users import do_create_user
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.settings import Settings
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerRow,
    MessageRow,
    SopRunRow,
    StepStateRow,
    TimerRow,
)

PASSWORD = "bench-password-8c1f"
OWNER = "owner@bench.example"
AGENTS = tuple(f"agent{i}@bench.example" for i in range(1, 9))
CHANNELS = ("email", "email", "email", "web", "web", "api", "chat", "phone")
PRIORITIES = ("normal", "normal", "normal", "low", "high", "urgent")
FIRST = ("Ann", "Bob", "Chen", "Dara", "Emeka", "Fatima", "Gita", "Hugo", "Ines", "Jon")
LAST = ("Smith", "Okafor", "Novak", "Garcia", "Khan", "Muller", "Rossi", "Sato", "Berg")
# what a template is worked into; the clone mix is set separately (`CLONE_MIX`)
OPEN_KINDS = ("new", "assigned", "open", "pending")
DONE_KINDS = ("resolved", "closed")
CLONE_MIX = {"resolved": 0.56, "closed": 0.375, "new": 0.015, "assigned": 0.02,
             "open": 0.015, "pending": 0.015}  # fmt: skip
WEEK = timedelta(weeks=1)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00")
TABLES: dict[str, Table] = {
    "cases": CaseRow.__table__,  # type: ignore[dict-item]
    "messages": MessageRow.__table__,  # type: ignore[dict-item]
    "sop_runs": SopRunRow.__table__,  # type: ignore[dict-item]
    "step_states": StepStateRow.__table__,  # type: ignore[dict-item]
    "case_events": CaseEventRow.__table__,  # type: ignore[dict-item]
    "timers": TimerRow.__table__,  # type: ignore[dict-item]
}


def log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


# --- people --------------------------------------------------------------------------


def create_people(sessions: sessionmaker[Session]) -> None:
    """The owner and eight agents, through the real action (passwords hashed as usual)."""
    with sessions() as session:
        do_create_user(session, OWNER, role="owner", password=PASSWORD, name="Olive Owner")
        for i, email in enumerate(AGENTS, 1):
            do_create_user(session, email, role="agent", password=PASSWORD, name=f"Agent {i}")


# --- templates: real cases -------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    case_id: int
    kind: str


def build_templates(
    sessions: sessionmaker[Session], settings: Settings, inquiries: list[Any], now: datetime,
    rng: random.Random,
) -> list[Template]:  # fmt: skip
    """Open each inquiry as a case with the real actions and work it into one kind."""
    kinds = OPEN_KINDS + DONE_KINDS
    out: list[Template] = []
    with sessions() as session:
        for i, inquiry in enumerate(inquiries):
            kind = kinds[i % len(kinds)]
            # open cases: the last three days (some still due soon); others: the week before
            hours = rng.uniform(4, 72) if kind in OPEN_KINDS else rng.uniform(24, 8 * 24)
            opened = now - timedelta(hours=hours)
            case = case_actions.do_open_case(
                session, customer_email=inquiry.email, customer_name=inquiry.name,
                subject=inquiry.subject, body=inquiry.body, channel=rng.choice(CHANNELS),
                priority=rng.choice(PRIORITIES), now=opened, settings=settings,
            )  # fmt: skip
            if work_case(session, case.id, kind, opened, settings, rng):
                out.append(Template(case.id, kind))
    return out


def work_case(
    session: Session, case_id: int, kind: str, opened: datetime, settings: Settings,
    rng: random.Random,
) -> bool:  # fmt: skip
    """Assign, answer, note, finish and resolve/close as `kind` says; False if refused."""
    agent = rng.choice(AGENTS)
    at = opened + timedelta(minutes=rng.randint(5, 90))
    if kind == "new":
        return True
    case_actions.do_assign(session, case_id, agent, by=OWNER, now=at, settings=settings)
    if kind == "assigned":
        return True
    at += timedelta(minutes=rng.randint(10, 120))
    status = "pending" if kind == "pending" else None
    case_actions.do_reply(session, case_id, author=agent, text=REPLY, status=status, now=at,
                          settings=settings)  # fmt: skip
    if rng.random() < 0.3:
        case_actions.do_add_note(session, case_id, author=agent, text=NOTE,
                                 now=at + timedelta(minutes=3), settings=settings)  # fmt: skip
    if kind in OPEN_KINDS:
        return True
    at += timedelta(hours=rng.randint(1, 12))
    if not resolve(session, case_id, agent, at, settings):
        return False
    if kind == "closed":
        case_actions.do_change_status(session, case_id, "closed", by=agent,
                                      now=at + timedelta(hours=2), settings=settings)  # fmt: skip
    return True


REPLY = "Thank you for your patience. I have looked into this and sorted it out for you."
NOTE = "Checked the account history; nothing unusual. Waiting on the customer."


def resolve(session: Session, case_id: int, agent: str, at: datetime, settings: Settings) -> bool:
    """Complete (or, when refused, override) every open step, then resolve."""
    run_id = session.scalar(select(SopRunRow.id).where(SopRunRow.case_id == case_id))
    steps = session.scalars(
        select(StepStateRow.step_id).where(
            StepStateRow.run_id == run_id, StepStateRow.status.not_in(("done", "skipped"))
        )
    ).all()
    for step in steps:
        try:
            case_actions.do_complete_step(session, case_id, step, by=agent, now=at,
                                          settings=settings)  # fmt: skip
        except (Conflict, InvalidInput):
            with contextlib.suppress(Conflict, InvalidInput):
                case_actions.do_override_step(session, case_id, step, reason="handled by phone",
                                              by=agent, now=at, settings=settings)  # fmt: skip
    try:
        case_actions.do_resolve(session, case_id, by=agent, now=at, settings=settings)
    except (Conflict, InvalidInput):
        return False
    return True


# --- blueprints: a template's rows with placeholders ----------------------------------


@dataclass
class Blueprint:
    """A template's rows per table: column names, and per row a list of cells, each a
    value or a marker for what the clone puts there."""

    kind: str
    opened_at: datetime
    rows: dict[str, list[list[Any]]] = field(default_factory=dict)
    messages: int = 0
    cache: dict[int, dict[str, list[list[Any]]]] = field(default_factory=dict)


class Slot(str):
    """A cell the clone fills: "id", "case", "customer", "run", "msg<j>"."""


def read_blueprint(connection: Any, template: Template) -> Blueprint:
    """The template case's rows, ids and own strings replaced by slots/placeholders."""
    cases = TABLES["cases"]
    case = connection.execute(select(cases).where(cases.c.id == template.case_id)).mappings().one()
    email = connection.scalar(
        select(CustomerRow.email).where(CustomerRow.id == case["customer_id"])
    )
    ref, bp = case["reference"], Blueprint(template.kind, case["opened_at"])
    by_table = {name: _rows(connection, name, table, template.case_id) for name, table in
                TABLES.items()}  # fmt: skip
    message_ids = [row["id"] for row in by_table["messages"]]
    message_keys = [row["message_id"] for row in by_table["messages"] if row["message_id"]]
    bp.messages = len(message_ids)
    subst = _substituter(ref, email, message_keys)
    for name, rows in by_table.items():
        bp.rows[name] = [_cells(name, row, message_ids, subst) for row in rows]
    return bp


def _rows(connection: Any, name: str, table: Table, case_id: int) -> list[dict[str, Any]]:
    if name == "step_states":
        runs = select(SopRunRow.id).where(SopRunRow.case_id == case_id)
        where = table.c.run_id.in_(runs)
    elif name == "cases":
        where = table.c.id == case_id
    else:
        where = table.c.case_id == case_id
    order = [table.c[c.name] for c in table.primary_key.columns]
    return [dict(r) for r in connection.execute(select(table).where(where).order_by(*order))
            .mappings()]  # fmt: skip


def _substituter(ref: str, email: str, message_keys: list[str]) -> Callable[[str], str]:
    ref_pattern = re.compile(re.escape(ref) + r"(?!\d)")

    def subst(value: str) -> str:
        value = ref_pattern.sub("@@R@@", value).replace(email, "@@E@@")
        for j, key in enumerate(message_keys):
            value = value.replace(key, f"@@K{j}@@")
        return value

    return subst


def _cells(
    table: str, row: dict[str, Any], message_ids: list[int], subst: Callable[[str], str]
) -> list[Any]:
    """One row as cells: ids become slots, JSON becomes text, strings get placeholders."""
    cells: list[Any] = []
    for column, value in row.items():
        if column == "id":
            cells.append(Slot("id"))
        elif column in ("case_id", "customer_id", "run_id") and value is not None:
            cells.append(Slot(column.removesuffix("_id")))
        elif isinstance(value, (dict, list)):
            cells.append(subst(json.dumps(_mark_ids(table, column, value, message_ids))))
        elif isinstance(value, str):
            cells.append(subst(value))
        else:
            cells.append(value)
    return cells


def _mark_ids(table: str, column: str, value: Any, message_ids: list[int]) -> Any:
    """Ids inside JSON documents that name the template's own rows, as placeholders."""
    if table == "sop_runs" and column == "state":
        value = json.loads(json.dumps(value))
        if isinstance(value.get("customer"), dict):
            value["customer"]["id"] = "@@C@@"
        for message in value.get("messages", []):
            if message.get("id", "").isdigit() and int(message["id"]) in message_ids:
                message["id"] = f"@@S{message_ids.index(int(message['id']))}@@"
    elif table == "case_events" and column == "data" and value.get("message") in message_ids:
        value = {**value, "message": f"@@N{message_ids.index(value['message'])}@@"}
    return value


# --- cloning -----------------------------------------------------------------------------


def shifted(bp: Blueprint, weeks: int, sqlite: bool) -> dict[str, list[list[Any]]]:
    """The blueprint moved `weeks` back, datetimes formatted for the database (cached)."""
    found = bp.cache.get(weeks)
    if found is not None:
        return found
    delta = weeks * WEEK

    def iso(match: re.Match[str]) -> str:
        return (datetime.fromisoformat(match.group(0)) - delta).isoformat()

    out: dict[str, list[list[Any]]] = {}
    for name, rows in bp.rows.items():
        out[name] = [
            [
                _when(cell - delta, sqlite) if isinstance(cell, datetime)
                else ISO.sub(iso, cell) if isinstance(cell, str) and not isinstance(cell, Slot)
                else (int(cell) if sqlite and isinstance(cell, bool) else cell)
                for cell in row
            ]
            for row in rows
        ]  # fmt: skip
    bp.cache[weeks] = out
    return out


def _when(value: datetime, sqlite: bool) -> Any:
    if sqlite:  # what UTCDateTime + SQLite's DateTime store: naive UTC text
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@dataclass
class Ids:
    """The next free id per table."""

    next: dict[str, int]

    def take(self, table: str, n: int = 1) -> int:
        first = self.next[table]
        self.next[table] = first + n
        return first


def fill(
    rows: list[list[Any]], table: str, ids: Ids, case_id: int, customer: tuple[int, str],
    run_id: int | None, message_first: int,
) -> Iterator[tuple[Any, ...]]:  # fmt: skip
    """The clone's rows of one table: slots filled, placeholders replaced."""
    customer_id, email = customer
    ref = f"SD-{case_id}"
    for row in rows:
        out = list(row)
        for position in _varying(row):
            cell = row[position]
            if isinstance(cell, Slot):
                out[position] = (
                    case_id if table == "cases" and cell == "id"
                    else ids.take(table) if cell == "id"
                    else case_id if cell == "case"
                    else customer_id if cell == "customer"
                    else run_id
                )  # fmt: skip
            else:
                out[position] = _placeholders(cell, ref, email, customer_id, case_id,
                                              message_first)  # fmt: skip
        yield tuple(out)


_VARYING: dict[int, tuple[int, ...]] = {}


def _varying(row: list[Any]) -> tuple[int, ...]:
    """Positions of the cells a clone changes (slots and strings with placeholders)."""
    found = _VARYING.get(id(row))
    if found is None:
        found = _VARYING[id(row)] = tuple(
            i for i, cell in enumerate(row)
            if isinstance(cell, Slot) or (isinstance(cell, str) and "@@" in cell)
        )  # fmt: skip
    return found


PLACEHOLDER = re.compile(r'"@@([NS])(\d+)@@"|@@([RECK])(\d*)@@')


def _placeholders(
    value: str, ref: str, email: str, customer_id: int, case_id: int, message_first: int
) -> str:
    value = value.replace("@@R@@", ref).replace("@@E@@", email)
    if "@@" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(1) == "N":  # an int id inside JSON
            return str(message_first + int(match.group(2)))
        if match.group(1) == "S":  # a string id inside JSON
            return f'"{message_first + int(match.group(2))}"'
        kind, index = match.group(3), match.group(4)
        if kind == "R":
            return ref
        if kind == "E":
            return email
        if kind == "C":
            return str(customer_id)
        return f"sd.b{case_id}m{index}@example.com"  # a Message-ID, unique per clone

    return PLACEHOLDER.sub(one, value)


# --- the plan: which template, when, for whom ---------------------------------------------


def clone_plan(
    n: int, templates: dict[str, list[Blueprint]], customers: int, rng: random.Random
) -> Iterator[tuple[Blueprint, int, int]]:
    """(blueprint, weeks back, customer index) for each clone.

    Finished cases spread over two years; open cases are mostly recent (this week's
    clones keep the template's due times, so some are due soon and some breached),
    the rest weeks old (breached: the worker has not caught up with them)."""
    kinds = [k for k in CLONE_MIX if templates.get(k)]
    weights = [CLONE_MIX[k] for k in kinds]
    for _ in range(n):
        kind = rng.choices(kinds, weights)[0]
        bp = rng.choice(templates[kind])
        if kind in DONE_KINDS:
            weeks = rng.randint(1, 104)
        else:
            roll = rng.random()
            weeks = 0 if roll < 0.5 else rng.randint(1, 2) if roll < 0.75 else rng.randint(3, 26)
        yield bp, weeks, int(customers * rng.random() ** 1.5)  # some customers write often


# --- writing ----------------------------------------------------------------------------------


class Writer:
    """Bulk insert: sqlite3 executemany, or psycopg COPY, on one raw connection."""

    def __init__(self, engine: Engine) -> None:
        self.sqlite = engine.dialect.name == "sqlite"
        self.raw = engine.raw_connection()
        self.columns = {name: [c.name for c in table.columns] for name, table in TABLES.items()}
        self.columns["customers"] = [c.name for c in CustomerRow.__table__.columns]
        if self.sqlite:
            self.raw.driver_connection.execute("PRAGMA synchronous=OFF")

    def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = self.columns[table]
        names = ", ".join(f'"{c}"' for c in columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.raw.driver_connection.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", rows
            )
            return
        cursor = self.raw.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        self.raw.close()


def customer_rows(
    first_id: int, n: int, now: datetime, sqlite: bool, rng: random.Random
) -> Iterator[tuple[Any, ...]]:
    """Bulk customers (column order of the `customers` table)."""
    tags = json.dumps([])
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        created = _when(now - timedelta(days=rng.uniform(14, 800)), sqlite)
        tier = "vip" if rng.random() < 0.03 else "standard"
        yield (first_id + i, f"{first.lower()}.{last.lower()}.{i}@customers.example",
               f"{first} {last}", first, last, None, tier, tags, rng.randint(0, 12),
               created, created, None)  # fmt: skip


# --- the whole load ---------------------------------------------------------------------------


@dataclass
class LoadReport:
    cases: int
    templates: int
    customers: int
    rows: dict[str, int]
    templates_s: float
    bulk_s: float
    index_s: float

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__ | {"total_s": round(self.templates_s + self.bulk_s + self.index_s, 1)}


def load(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings, inquiries: list[Any],
    cases: int, customers: int, seed: int,
) -> LoadReport:  # fmt: skip
    """Templates through the real actions, then clones in bulk up to `cases` cases."""
    _VARYING.clear()  # keyed by id(row): rows of an earlier load are gone, their ids reused
    rng = random.Random(seed)
    now = utcnow()
    started = time.perf_counter()
    create_people(sessions)
    templates = build_templates(sessions, settings, inquiries, now, rng)
    templates_s = time.perf_counter() - started
    log(f"  {len(templates)} template cases opened and worked through the actions in "
        f"{templates_s:.1f} s")  # fmt: skip
    with engine.connect() as connection:
        blueprints: dict[str, list[Blueprint]] = {}
        for template in templates:
            blueprints.setdefault(template.kind, []).append(read_blueprint(connection, template))
        tables = ("cases", "messages", "sop_runs", "case_events", "timers", "customers")
        ids = Ids({name: _max_id(connection, name) + 1 for name in tables})
    started = time.perf_counter()
    rows = bulk(engine, blueprints, ids, max(0, cases - len(templates)), customers, now, rng)
    bulk_s = time.perf_counter() - started
    started = time.perf_counter()
    finish(engine)
    return LoadReport(len(templates) + rows["cases"], len(templates), customers, rows,
                      round(templates_s, 1), round(bulk_s, 1),
                      round(time.perf_counter() - started, 1))  # fmt: skip


def _max_id(connection: Any, table: str) -> int:
    return int(connection.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}")) or 0)


BATCH = 5_000  # cases per write


def bulk(
    engine: Engine, blueprints: dict[str, list[Blueprint]], ids: Ids, n: int, customers: int,
    now: datetime, rng: random.Random,
) -> dict[str, int]:  # fmt: skip
    writer = Writer(engine)
    sqlite = writer.sqlite
    counts = dict.fromkeys(("customers", *TABLES), 0)
    try:
        first_customer = ids.take("customers", customers)
        people = list(customer_rows(first_customer, customers, now, sqlite, rng))
        for i in range(0, len(people), 50_000):
            writer.write("customers", people[i : i + 50_000])
        counts["customers"] = len(people)
        emails = [(row[0], row[1]) for row in people]
        del people
        writer.commit()
        batch: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
        plan = clone_plan(n, blueprints, customers, rng)
        for done, (bp, weeks, who) in enumerate(plan, 1):
            clone(bp, shifted(bp, weeks, sqlite), ids, emails[who], batch, bp.kind in OPEN_KINDS)
            if done % BATCH == 0 or done == n:
                for name, rows in batch.items():
                    writer.write(name, rows)
                    counts[name] += len(rows)
                    rows.clear()
                writer.commit()
                if done % 100_000 == 0:
                    log(f"  {done:,} cases cloned")
    finally:
        writer.close()
    return counts


def clone(
    bp: Blueprint, rows: dict[str, list[list[Any]]], ids: Ids, customer: tuple[int, str],
    batch: dict[str, list[tuple[Any, ...]]], open_case: bool,
) -> None:  # fmt: skip
    """Append one clone's rows to `batch`; ids are taken from `ids`."""
    case_id = ids.take("cases")
    message_first = ids.next["messages"]
    run_id = ids.next["sop_runs"] if rows["sop_runs"] else None
    batch["cases"].extend(fill(rows["cases"], "cases", ids, case_id, customer, None, 0))
    for name in ("messages", "sop_runs", "case_events"):
        batch[name].extend(fill(rows[name], name, ids, case_id, customer, run_id, message_first))
    batch["step_states"].extend(
        fill(rows["step_states"], "step_states", ids, case_id, customer, run_id, message_first)
    )
    if open_case:
        batch["timers"].extend(
            fill(rows["timers"], "timers", ids, case_id, customer, run_id, message_first)
        )


def finish(engine: Engine) -> None:
    """Sequences past the explicit ids (PostgreSQL), then fresh planner statistics."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("customers", "cases", "messages", "sop_runs", "case_events", "timers"):
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def census(engine: Engine) -> dict[str, Any]:
    """What the database holds after the load: cases by status, open ones by due state."""
    now = utcnow()
    with engine.connect() as connection:
        by_status = dict(connection.execute(
            select(CaseRow.status, func.count()).group_by(CaseRow.status)).all())  # fmt: skip
        open_ = CaseRow.status.not_in(("resolved", "closed"))
        breached = connection.scalar(select(func.count()).where(open_, CaseRow.next_due_at <= now))
        due = CaseRow.next_due_at
        soon = connection.scalar(
            select(func.count()).where(open_, due > now, due <= now + timedelta(hours=4))
        )
    return {"by_status": by_status, "open_breached": breached, "open_due_within_4h": soon}


def chunks(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    out: list[Any] = []
    for value in values:
        out.append(value)
        if len(out) == size:
            yield out
            out = []
    if out:
        yield out
