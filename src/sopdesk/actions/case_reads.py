"""Reads of cases for the shells: one case, the inbox list, a case's timeline.

Plain queries, no writes. `list_cases` pages with an opaque cursor (keyset pagination
on the sort key and the id), so a page costs the same at any depth and a case that
changes while someone pages does not repeat or vanish across pages.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, load_only, undefer
from sqlalchemy.orm.attributes import set_committed_value

from sopdesk.actions.case_state import active_run, find_case_id
from sopdesk.actions.customers import customer_by_key
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.store.tables import (
    AttachmentRow,
    CaseEventRow,
    CaseRow,
    CustomerRow,
    MessageRow,
    OutboxRow,
    SopRunRow,
    StepStateRow,
    TimerRow,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
FAR_FUTURE = datetime.fromisoformat("9999-12-31T00:00:00+00:00")


def get_case(session: Session, case: int | str) -> CaseRow:
    """A case by id or reference ("SD-1042")."""
    case_id = case if isinstance(case, int) else find_case_id(session, case)
    row = session.get(CaseRow, case_id, options=[joinedload(CaseRow.customer)])
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    return row


MAX_MERGE_HOPS = 20
"""How far `surviving_case` follows merges (a longer chain is not followed further)."""


def surviving_case(session: Session, case: CaseRow) -> CaseRow:
    """The case that goes on for `case`: itself, or the case it was merged into (and so
    on, for a case merged into one merged later; `actions.case_merge`)."""
    for _ in range(MAX_MERGE_HOPS):
        if case.merged_into is None:
            return case
        into = session.get(CaseRow, case.merged_into)
        if into is None:
            return case
        case = into
    return case


@dataclass(frozen=True)
class CaseFilters:
    status: tuple[str, ...] = ()
    assignee: str | None = None
    customer_email: str | None = None
    sop_id: str | None = None
    group_name: str | None = None
    open_only: bool = False
    triage: bool = False  # only cases no SOP runs on


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseRow]
    next_cursor: str | None = None


def list_cases(
    session: Session,
    filters: CaseFilters | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> CasePage:
    """Cases most urgent first (earliest `next_due_at`, then the oldest), a page at a time."""
    filters = filters or CaseFilters()
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    due = CaseRow.next_due_at
    query = select(CaseRow).options(joinedload(CaseRow.customer)).where(*_where(filters))
    if cursor is not None:
        after_due, after_id = _read_cursor(cursor)
        if after_due is None:
            query = query.where(due.is_(None), CaseRow.id > after_id)
        else:
            query = query.where(
                or_(due > after_due, due.is_(None), and_(due == after_due, CaseRow.id > after_id))
            )
    query = query.order_by(due.is_(None), due, CaseRow.id).limit(limit + 1)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _make_cursor(rows[-1]) if more and rows else None
    return CasePage(rows, next_cursor)


def _where(filters: CaseFilters) -> list[Any]:
    clauses: list[Any] = []
    if filters.status:
        clauses.append(CaseRow.status.in_(filters.status))
    if filters.open_only:
        clauses.append(CaseRow.status.not_in(("resolved", "closed")))
    if filters.assignee is not None:
        clauses.append(CaseRow.assignee == filters.assignee)
    if filters.sop_id is not None:
        clauses.append(CaseRow.sop_id == filters.sop_id)
    if filters.triage:
        clauses.append(CaseRow.sop_id.is_(None))
    if filters.group_name is not None:
        clauses.append(CaseRow.group_name == filters.group_name)
    if filters.customer_email is not None:
        email = filters.customer_email.strip().lower()
        clauses.append(CaseRow.customer.has(CustomerRow.email == email))
    return clauses


def _make_cursor(row: CaseRow) -> str:
    due = row.next_due_at.isoformat() if row.next_due_at else None
    raw = json.dumps([due, row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due, case_id = json.loads(base64.urlsafe_b64decode(padded))
        return (datetime.fromisoformat(due) if due else None), int(case_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "this page cursor is not valid", hint="start from the first page"
        ) from exc


@dataclass(frozen=True)
class Timeline:
    """A case with what the case page shows: messages, steps, events, timers, outbox."""

    case: CaseRow
    messages: list[MessageRow]
    steps: list[StepStateRow]
    events: list[CaseEventRow]
    timers: list[TimerRow] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)


_UNKNOWN: Any = object()


def case_timeline(
    session: Session,
    case: int | str | CaseRow,
    *,
    run: SopRunRow | None = _UNKNOWN,
    queues: bool = True,
) -> Timeline:
    """The case (by id, reference or an already loaded row) and its timeline.

    `run`: the case's active run when the caller has read it already (`load_case`), so
    it is not read twice. `queues=False` leaves out the timers and outbox rows (empty
    lists), for a reader that does not show them (the case page).
    """
    row = case if isinstance(case, CaseRow) else get_case(session, case)
    messages = session.scalars(
        select(MessageRow)
        .where(MessageRow.case_id == row.id)
        .order_by(MessageRow.created_at, MessageRow.id)
    )
    if run is _UNKNOWN:
        run = active_run(session, row.id)
    steps = (
        session.scalars(select(StepStateRow).where(StepStateRow.run_id == run.id)) if run else []
    )
    events = session.scalars(
        select(CaseEventRow)
        .where(CaseEventRow.case_id == row.id)
        .order_by(CaseEventRow.at, CaseEventRow.id)
    )
    timers: list[TimerRow] = []
    outbox: list[OutboxRow] = []
    if queues:
        timers = list(
            session.scalars(
                select(TimerRow)
                .where(TimerRow.case_id == row.id)
                .order_by(TimerRow.due_at, TimerRow.id)
            )
        )
        outbox = list(
            session.scalars(
                select(OutboxRow).where(OutboxRow.case_id == row.id).order_by(OutboxRow.id)
            )
        )
    step_order = _step_order(run)
    return Timeline(
        row,
        list(messages),
        sorted(steps, key=lambda s: step_order.get(s.step_id, len(step_order))),
        list(events),
        timers,
        outbox,
    )


def _step_order(run: Any) -> dict[str, int]:
    if run is None:
        return {}
    steps = run.state.get("steps", [])
    return {step["step_id"]: index for index, step in enumerate(steps)}


@dataclass(frozen=True)
class CustomerHistory:
    """A customer with their cases (newest first) and their timeline of events."""

    customer: CustomerRow
    cases: list[CaseRow]
    events: list[CaseEventRow]


def customer_history(session: Session, customer: int | str) -> CustomerHistory:
    """A customer by id or e-mail address, with every case and event about them."""
    row = customer_by_key(session, customer)
    cases = session.scalars(
        select(CaseRow).where(CaseRow.customer_id == row.id).order_by(CaseRow.opened_at.desc())
    )
    events = session.scalars(
        select(CaseEventRow)
        .where(CaseEventRow.customer_id == row.id)
        .order_by(CaseEventRow.at, CaseEventRow.id)
    )
    return CustomerHistory(row, list(cases), list(events))


CASE_SUMMARY = (CaseRow.id, CaseRow.reference, CaseRow.subject, CaseRow.status, CaseRow.opened_at)
"""The columns a list of a customer's cases shows (no JSON columns to decode)."""


def customer_cases(
    session: Session, customer_id: int, *, limit: int | None = None, offset: int = 0
) -> list[CaseRow]:
    """A customer's cases, newest first (`limit` of them from `offset`), with
    `CASE_SUMMARY`'s columns loaded (the others load on access): what
    `customer_history` lists, without the events."""
    query = (
        select(CaseRow)
        .options(load_only(*CASE_SUMMARY))
        .where(CaseRow.customer_id == customer_id)
        .order_by(CaseRow.opened_at.desc(), CaseRow.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(query))


def customer_case_count(session: Session, customer_id: int) -> int:
    query = select(func.count()).select_from(CaseRow).where(CaseRow.customer_id == customer_id)
    return session.scalar(query) or 0


def preload_attachments(session: Session, messages: list[MessageRow]) -> None:
    """Every message's attachments (without their bytes) in one query, set on the
    messages as loaded.

    A thread lists each message's attachments; left to lazy loading that is one query
    per message (N+1), paid on every view of a long thread.
    """
    found: dict[int, list[AttachmentRow]] = {message.id: [] for message in messages}
    if found:
        query = (
            select(AttachmentRow)
            .where(AttachmentRow.message_id.in_(list(found)))
            .order_by(AttachmentRow.id)
        )
        for attachment in session.scalars(query):
            found[attachment.message_id].append(attachment)
    for message in messages:
        set_committed_value(message, "attachments", found[message.id])


def case_attachment(session: Session, case: int | str, attachment_id: int) -> AttachmentRow:
    """An attachment of a message on `case`, with its bytes; `NotFound` for any other."""
    case_id = get_case(session, case).id
    query = (
        select(AttachmentRow)
        .join(MessageRow, MessageRow.id == AttachmentRow.message_id)
        .where(AttachmentRow.id == attachment_id, MessageRow.case_id == case_id)
        .options(undefer(AttachmentRow.content))
    )
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"case {case} has no attachment {attachment_id}")
    return found
