"""Reads for the REST API that `case_reads` does not offer: the case list with every API
filter (channel, due before, breached, free text), and customers a page at a time.

Keyset pagination with opaque cursors, like `case_reads.list_cases` (the same order:
earliest `next_due_at` first, cases without a due time last, then by id), so a page costs
the same at any depth and rows do not repeat or vanish while a client pages.

A page is read in two index-ordered parts (`due_ordered_page`): cases with a due time by
(`next_due_at`, id), then — only if the page is not full — cases without one by id. One
`ORDER BY next_due_at IS NULL, ...` would sort every matching row before the LIMIT (≈ 1 s
over a million cases); each part walks `ix_cases_next_due_at_id` (or a partial index of
open cases) and stops at the page's end. The result is the same.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select
from sqlalchemy.orm import Session, joinedload

from sopdesk.actions.case_reads import MAX_LIMIT, CasePage
from sopdesk.errors import InvalidInput
from sopdesk.store.tables import CaseRow, CustomerAddressRow, CustomerRow

FINISHED = ("resolved", "closed")
MAX_ID = 2**31 - 1
MIN_TIME = datetime.min.replace(tzinfo=UTC)
# `status NOT IN ('resolved', 'closed')` with literal values: the predicate of the partial
# indexes of open cases (migration 0006), which a planner can only match without parameters
IS_OPEN: ColumnElement[bool] = CaseRow.status.not_in([literal_column(f"'{s}'") for s in FINISHED])


@dataclass(frozen=True)
class CaseQuery:
    """Every filter of `GET /api/v1/cases`; unset filters do not narrow the list."""

    status: tuple[str, ...] = ()
    assignee: str | None = None
    sop_id: str | None = None
    channel: str | None = None
    customer_email: str | None = None
    due_before: datetime | None = None
    breached: bool | None = None
    q: str | None = None
    triage: bool | None = None


def search_cases(
    session: Session,
    query: CaseQuery,
    *,
    now: datetime,
    cursor: str | None = None,
    limit: int = 50,
) -> CasePage:
    """Cases matching `query`, most urgent first, a page at a time.

    `breached`: an open case whose earliest due instant has passed at `now` (True), or
    one with nothing overdue (False).
    """
    _check_limit(limit)
    after = _read_cursor(cursor) if cursor is not None else None
    # one statement per wanted status: each reads (status, next_due_at) in order, where
    # `status IN (a, b)` would sort every case of those statuses before the LIMIT
    parts = [replace(query, status=(s,)) for s in dict.fromkeys(query.status)] or [query]
    statements = [
        select(CaseRow).options(joinedload(CaseRow.customer)).where(*_where(part, now))
        for part in parts
    ]
    rows, more = merged_pages(session, statements, after, limit)
    last = rows[-1] if rows else None
    next_cursor = _cursor([_iso(last.next_due_at), last.id]) if more and last else None
    return CasePage(rows, next_cursor)


def merged_pages(
    session: Session,
    statements: list[Select[Any]],
    after: tuple[datetime | None, int] | None,
    limit: int,
    *,
    entities: bool = True,
) -> tuple[list[Any], bool]:
    """`due_ordered_page` over the union of `statements` (disjoint sets of cases).

    The union's first `limit` rows after `after` are among each part's first `limit`,
    so each part is read as one page and the pages are merged in list order.
    """
    if len(statements) == 1:
        return due_ordered_page(session, statements[0], after, limit, entities=entities)
    pages = [
        due_ordered_page(session, statement, after, limit, entities=entities)
        for statement in statements
    ]
    rows = sorted((row for page, _ in pages for row in page), key=list_order)
    return rows[:limit], len(rows) > limit or any(more for _, more in pages)


def list_order(row: Any) -> tuple[bool, datetime | None, int]:
    """The list's sort key: earliest due first, no due time last, then id."""
    return (row.next_due_at is None, row.next_due_at or MIN_TIME, row.id)


def due_ordered_page(
    session: Session,
    statement: Select[Any],
    after: tuple[datetime | None, int] | None,
    limit: int,
    *,
    entities: bool = True,
) -> tuple[list[Any], bool]:
    """`limit` cases of `statement` after the position `after` (due time, id) in the
    order earliest due first, no due time last, then id; and whether more follow.

    Two queries that each read an index in order (see the module docstring): the dated
    cases after the cursor, then, if the page is not yet full, the undated ones.
    `entities`: `statement` selects `CaseRow` (the rows are ORM objects); False for a
    statement of columns (among them `next_due_at` and `id`), whose rows are `Row`s.
    """

    def read(page: Select[Any]) -> list[Any]:
        if entities:
            return list(session.scalars(page).unique())
        return list(session.execute(page))

    due = CaseRow.next_due_at
    rows: list[Any] = []
    if after is None or after[0] is not None:
        if after is None:
            dated = statement.where(due.is_not(None))
        else:  # the range implies "not null"; saying it too makes PostgreSQL's estimate
            # of the rows 15x too small, and it then sorts every match instead of
            # reading the index in order
            after_due, after_id = after
            dated = statement.where(due >= after_due, or_(due > after_due, CaseRow.id > after_id))
        dated = dated.order_by(due, CaseRow.id).limit(limit + 1)
        rows = read(dated)
    if len(rows) <= limit:
        undated = statement.where(due.is_(None))
        if after is not None and after[0] is None:
            undated = undated.where(CaseRow.id > after[1])
        undated = undated.order_by(CaseRow.id).limit(limit + 1 - len(rows))
        rows += read(undated)
    return rows[:limit], len(rows) > limit


def _where(query: CaseQuery, now: datetime) -> list[Any]:
    clauses: list[Any] = []
    if query.status:
        clauses.append(CaseRow.status.in_(query.status))
    if query.assignee is not None:
        clauses.append(CaseRow.assignee == query.assignee)
    if query.sop_id is not None:
        clauses.append(CaseRow.sop_id == query.sop_id)
    if query.triage is not None:  # in triage: no SOP runs on the case
        clauses.append(CaseRow.sop_id.is_(None) if query.triage else CaseRow.sop_id.isnot(None))
    if query.channel is not None:
        clauses.append(CaseRow.channel == query.channel)
    if query.customer_email is not None:
        email = query.customer_email.strip().lower()
        clauses.append(CaseRow.customer.has(CustomerRow.email == email))
    if query.due_before is not None:
        clauses.append(CaseRow.next_due_at < query.due_before)
    if query.breached is True:
        clauses += [IS_OPEN, CaseRow.next_due_at <= now]
    elif query.breached is False:
        clauses.append(
            or_(
                CaseRow.status.in_(FINISHED),
                CaseRow.next_due_at.is_(None),
                CaseRow.next_due_at > now,
            )
        )
    if query.q:
        text = query.q.strip().lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            or_(
                func.lower(CaseRow.subject).like(pattern, escape="\\"),
                func.lower(CaseRow.reference) == text,
                CaseRow.customer.has(func.lower(CustomerRow.email).like(pattern, escape="\\")),
            )
        )
    return clauses


@dataclass(frozen=True)
class CustomerPage:
    customers: list[CustomerRow]
    next_cursor: str | None = None


def list_customers(
    session: Session,
    *,
    q: str | None = None,
    bounced: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> CustomerPage:
    """Customers by id (oldest first), optionally those whose email (their own or another
    of theirs) or name contains `q`, and those whose address bounces (`bounced`: true)
    or does not (false)."""
    _check_limit(limit)
    statement = select(CustomerRow)
    if bounced is not None:
        marked = CustomerRow.email_bounced_at
        statement = statement.where(marked.isnot(None) if bounced else marked.is_(None))
    if q:
        pattern = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%") + "%"
        others = select(CustomerAddressRow.customer_id).where(
            CustomerAddressRow.address.like(pattern, escape="\\")
        )
        statement = statement.where(
            or_(
                CustomerRow.email.like(pattern, escape="\\"),
                func.lower(CustomerRow.name).like(pattern, escape="\\"),
                CustomerRow.id.in_(others),
            )
        )
    if cursor is not None:
        _, after_id = _read_cursor(cursor)
        statement = statement.where(CustomerRow.id > after_id)
    rows = list(session.scalars(statement.order_by(CustomerRow.id).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    return CustomerPage(rows, _cursor([None, rows[-1].id]) if more and rows else None)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due, row_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        moment = datetime.fromisoformat(due) if due else None
        if moment is not None and moment.tzinfo is None:
            raise ValueError("naive")
        row_id = int(row_id)
        if not 0 <= row_id <= MAX_ID:
            raise ValueError("id out of range")
        return moment, row_id
    except (ValueError, TypeError, UnicodeError) as exc:
        raise InvalidInput(
            "this page cursor is not valid", hint="start from the first page"
        ) from exc
