"""Reads for the REST API that `case_reads` does not offer: the case list with every API
filter (channel, due before, breached, free text), and customers a page at a time.

Keyset pagination with opaque cursors, like `case_reads.list_cases` (the same order:
earliest `next_due_at` first, cases without a due time last, then by id), so a page costs
the same at any depth and rows do not repeat or vanish while a client pages.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from sopdesk.actions.case_reads import MAX_LIMIT, CasePage
from sopdesk.errors import InvalidInput
from sopdesk.store.tables import CaseRow, CustomerRow

FINISHED = ("resolved", "closed")
MAX_ID = 2**31 - 1


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
    due = CaseRow.next_due_at
    statement = select(CaseRow).options(joinedload(CaseRow.customer)).where(*_where(query, now))
    if cursor is not None:
        after_due, after_id = _read_cursor(cursor)
        if after_due is None:
            statement = statement.where(due.is_(None), CaseRow.id > after_id)
        else:
            statement = statement.where(
                or_(due > after_due, due.is_(None), and_(due == after_due, CaseRow.id > after_id))
            )
    statement = statement.order_by(due.is_(None), due, CaseRow.id).limit(limit + 1)
    rows = list(session.scalars(statement))
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = _cursor([_iso(last.next_due_at), last.id]) if more and last else None
    return CasePage(rows, next_cursor)


def _where(query: CaseQuery, now: datetime) -> list[Any]:
    clauses: list[Any] = []
    if query.status:
        clauses.append(CaseRow.status.in_(query.status))
    if query.assignee is not None:
        clauses.append(CaseRow.assignee == query.assignee)
    if query.sop_id is not None:
        clauses.append(CaseRow.sop_id == query.sop_id)
    if query.channel is not None:
        clauses.append(CaseRow.channel == query.channel)
    if query.customer_email is not None:
        email = query.customer_email.strip().lower()
        clauses.append(CaseRow.customer.has(CustomerRow.email == email))
    if query.due_before is not None:
        clauses.append(CaseRow.next_due_at < query.due_before)
    if query.breached is True:
        clauses += [CaseRow.status.not_in(FINISHED), CaseRow.next_due_at <= now]
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
    session: Session, *, q: str | None = None, cursor: str | None = None, limit: int = 50
) -> CustomerPage:
    """Customers by id (oldest first), optionally those whose email or name contains `q`."""
    _check_limit(limit)
    statement = select(CustomerRow)
    if q:
        pattern = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%") + "%"
        statement = statement.where(
            or_(
                CustomerRow.email.like(pattern, escape="\\"),
                func.lower(CustomerRow.name).like(pattern, escape="\\"),
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
