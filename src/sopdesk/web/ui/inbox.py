"""The inbox: open cases most urgent first, in views (mine, unassigned, due soon,
breached, pending) narrowed by SOP and channel, with live counts per view.

Keyset-paged on (next due time, id) like `case_reads.list_cases`, so a page costs the
same at any depth; a page is read in index order (`api_reads.due_ordered_page`). Every
view is a subset of the open cases — a few per cent of the table — and spells "open" as
the partial indexes of migration 0006 do (`api_reads.IS_OPEN`), so neither a page nor the
counts touch finished cases. `/inbox/counts` is the fragment htmx polls every 30 seconds.

The counts come from a per-process cache (`live_counts.CountCache`, kept on the app): up to
`COUNTS_TTL_SECONDS` old for changes made elsewhere or by the clock, at once for writes in
this process. A page's rows carry only the columns the list shows (`LIST_COLUMNS`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from sopdesk.actions.api_reads import IS_OPEN, merged_pages
from sopdesk.actions.base import utcnow
from sopdesk.actions.cases import CHANNELS
from sopdesk.actions.delivery import last_mail_undelivered
from sopdesk.auth.permissions import Principal
from sopdesk.errors import InvalidInput
from sopdesk.store.tables import CaseRow, CustomerRow, Sop
from sopdesk.web.ui import DbSession, fragment, person, ui_page
from sopdesk.web.ui.live_counts import CountCache

router = APIRouter()
CaseReader = person("case.read")

PAGE_SIZE = 50
DUE_SOON = timedelta(hours=4)
COUNTS_TTL_SECONDS = 5.0
"""How old a view count may be (changes by other processes, cases falling due); see
`live_counts`. The htmx refresh polls every 30 s, so a count is never more than
30 + 5 seconds behind on a page left open."""
LIST_COLUMNS = (
    CaseRow.id,
    CaseRow.reference,
    CaseRow.subject,
    CaseRow.channel,
    CaseRow.assignee,
    CaseRow.sop_id,
    CaseRow.status,
    CaseRow.next_due_at,
    CustomerRow.name.label("customer_name"),
    CustomerRow.email.label("customer_email"),
)
"""What an inbox row shows (and its keyset position), read as plain columns: not the
JSON columns (fields, tags, route), whose decoding was a fifth of a page's CPU, and no
ORM objects, whose making was another fifth."""


@dataclass(frozen=True, slots=True)
class ListedCustomer:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class ListedCase:
    """One inbox row: the case's `LIST_COLUMNS`, its customer as `customer`."""

    id: int
    reference: str | None
    subject: str
    channel: str
    assignee: str | None
    sop_id: str | None
    status: str
    next_due_at: datetime | None
    customer: ListedCustomer

    @classmethod
    def of(cls, row: Any) -> ListedCase:
        *case, name, email = row
        return cls(*case, customer=ListedCustomer(name, email))


FINISHED = ("resolved", "closed")
TRIAGE = "(triage)"
"""The SOP filter's value for cases no SOP runs on; no SOP id can be written so."""
VIEWS: dict[str, str] = {
    "all": "All open",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "due_soon": "Due soon",
    "breached": "Breached",
    "pending": "Pending",
}


@dataclass(frozen=True)
class InboxQuery:
    view: str = "all"
    sop: str | None = None
    channel: str | None = None
    q: str | None = None

    def link(self, **changes: str | None) -> str:
        values = {"view": self.view, "sop": self.sop, "channel": self.channel, "q": self.q}
        values.update(changes)
        parts = [f"{key}={_quote(value)}" for key, value in values.items() if value]
        return "/inbox" + ("?" + "&".join(parts) if parts else "")


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def view_clauses(view: str, me: Principal, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses of one view (every view shows open cases only)."""
    if view not in VIEWS:
        raise InvalidInput(f"there is no inbox view {view!r}", hint="choose one of the tabs")
    narrower = _view_filter(view, me, now)
    return [IS_OPEN] if narrower is None else [IS_OPEN, narrower]


def _view_filter(view: str, me: Principal, now: datetime) -> ColumnElement[bool] | None:
    """What a view adds to "open" (None for all open cases)."""
    due = CaseRow.next_due_at
    if view == "mine":
        return CaseRow.assignee.in_((me.email, me.name))
    if view == "unassigned":
        return CaseRow.assignee.is_(None)
    if view == "due_soon":
        return (due > now) & (due <= now + DUE_SOON)
    if view == "breached":
        return due <= now
    if view == "pending":
        return CaseRow.status == "pending"
    return None


def _narrowing(query: InboxQuery) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if query.sop == TRIAGE:
        clauses.append(CaseRow.sop_id.is_(None))
    elif query.sop:
        clauses.append(CaseRow.sop_id == query.sop)
    if query.channel:
        clauses.append(CaseRow.channel == query.channel)
    if query.q:
        needle = f"%{query.q.strip().lower()}%"
        clauses.append(
            or_(
                func.lower(CaseRow.subject).like(needle),
                func.lower(CaseRow.reference) == needle.strip("%"),
            )
        )
    return clauses


def inbox_page(
    session: Session, query: InboxQuery, me: Principal, now: datetime, cursor: str | None
) -> tuple[list[ListedCase], str | None]:
    """One page of the view, earliest due first (no due time last), then oldest."""
    after = _read_cursor(cursor) if cursor else None
    statements = _page_statements(query, me, now)
    found, more = merged_pages(session, statements, after, PAGE_SIZE, entities=False)
    rows = [ListedCase.of(row) for row in found]
    return rows, (_make_cursor(rows[-1]) if more else None)


def _page_statements(query: InboxQuery, me: Principal, now: datetime) -> list[Select[Any]]:
    """The view as statements whose union it is: "mine" (assigned to my address or my
    name) as one per value, so each reads the assignee index in due order."""
    base = (
        select(*LIST_COLUMNS)
        .outerjoin(CustomerRow, CustomerRow.id == CaseRow.customer_id)
        .where(*_narrowing(query))
    )
    if query.view == "mine" and me.email != me.name:
        return [base.where(IS_OPEN, CaseRow.assignee == who) for who in (me.email, me.name)]
    return [base.where(*view_clauses(query.view, me, now))]


def view_counts(
    session: Session, query: InboxQuery, me: Principal, now: datetime
) -> dict[str, int]:
    """How many open cases each view holds, with the page's SOP and channel narrowing.

    One COUNT per view, each a range of a partial index of open cases (migration 0006):
    at a million cases they touch the open few per cent only. (One pass with a CASE per
    view measured slower on SQLite: it evaluates every CASE for every open case.)
    """
    return _count_views(session, list(VIEWS), query, me, now)


def _count_views(
    session: Session, views: list[str], query: InboxQuery, me: Principal, now: datetime
) -> dict[str, int]:
    narrowing = _narrowing(query)
    counts: dict[str, int] = {}
    for view in views:
        where = view_clauses(view, me, now) + narrowing
        counts[view] = int(session.scalar(select(func.count(CaseRow.id)).where(*where)) or 0)
    return counts


def live_view_counts(
    cache: CountCache, session: Session, query: InboxQuery, me: Principal, now: datetime
) -> dict[str, int]:
    """`view_counts` through the app's count cache (`live_counts`): the views everyone
    shares are cached per narrowing, "mine" per narrowing and person."""
    narrowed = (query.sop, query.channel, query.q)
    shared_views = [view for view in VIEWS if view != "mine"]
    shared = cache.get(
        ("views", *narrowed), lambda: _count_views(session, shared_views, query, me, now)
    )
    mine = cache.get(
        ("mine", me.email, me.name, *narrowed),
        lambda: _count_views(session, ["mine"], query, me, now),
    )
    return {view: mine[view] if view == "mine" else shared[view] for view in VIEWS}


def count_cache(request: Request) -> CountCache:
    """The app's cache of view counts (made on first use)."""
    state = request.app.state
    cache: CountCache | None = getattr(state, "inbox_counts", None)
    if cache is None:
        cache = state.inbox_counts = CountCache(COUNTS_TTL_SECONDS)
    return cache


def _make_cursor(row: ListedCase) -> str:
    due = row.next_due_at.isoformat() if row.next_due_at else None
    return base64.urlsafe_b64encode(json.dumps([due, row.id]).encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        due, case_id = json.loads(base64.urlsafe_b64decode(padded))
        return (datetime.fromisoformat(due) if due else None), int(case_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("this page link is not valid", hint="start from the first page") from exc


def _query(view: str, sop: str, channel: str, q: str) -> InboxQuery:
    return InboxQuery(view or "all", sop or None, channel or None, (q or "").strip() or None)


def _filters(session: Session) -> dict[str, Any]:
    sops = list(session.execute(select(Sop.id, Sop.title).order_by(Sop.title)))
    return {"sop_choices": sops, "channel_choices": sorted(CHANNELS)}


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: DbSession,
    me: CaseReader,
    view: str = "all",
    sop: str = "",
    channel: str = "",
    q: str = "",
    after: str | None = None,
) -> HTMLResponse:
    query = _query(view, sop, channel, q)
    now = utcnow()
    rows, next_cursor = inbox_page(session, query, me, now, after)
    context = {
        "query": query,
        "rows": rows,
        "undelivered": last_mail_undelivered(session, [row.id for row in rows]),
        "next_cursor": next_cursor,
        "counts": live_view_counts(count_cache(request), session, query, me, now),
        "views": VIEWS,
        "now": now,
        "active": "inbox",
        **_filters(session),
    }
    return ui_page(request, "ui/inbox.html", me, context)


@router.get("/inbox/counts", response_class=HTMLResponse)
def inbox_counts(
    request: Request,
    session: DbSession,
    me: CaseReader,
    view: str = "all",
    sop: str = "",
    channel: str = "",
    q: str = "",
) -> HTMLResponse:
    query = _query(view, sop, channel, q)
    counts = live_view_counts(count_cache(request), session, query, me, utcnow())
    return fragment(
        request, "_inbox_views.html", {"query": query, "counts": counts, "views": VIEWS}
    )
