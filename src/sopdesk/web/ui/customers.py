"""Customers: the list (search by name or e-mail), one customer's page — details, tier
and tags, purchases, every case and what happened to them — and the forms to add a
customer, change their details (their e-mail address too), record a purchase, add or
remove another address of theirs, and merge a duplicate into them.

Adding a customer starts the SOPs triggered by `customer_created` (onboarding) and a
purchase those triggered by `purchase` whose condition holds (loyalty recognition), as
the API and the CLI do; the page says what started.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from sopdesk.actions.api_reads import list_customers
from sopdesk.actions.case_reads import customer_case_count, customer_cases
from sopdesk.actions.customer_addresses import do_add_address, do_remove_address, other_addresses
from sopdesk.actions.customer_changes import (
    CustomerChange,
    do_update_customer,
)
from sopdesk.actions.customer_merge import do_merge_customers
from sopdesk.actions.customers import customer_key, get_customer, valid_email
from sopdesk.actions.delivery import do_clear_bounce
from sopdesk.actions.sequences import do_add_customer, do_count_purchase
from sopdesk.auth.permissions import Principal
from sopdesk.errors import Conflict, InvalidInput, NotFound, SopdeskError
from sopdesk.store.tables import CaseEventRow
from sopdesk.web.rendering import TEMPLATES
from sopdesk.web.ui import CSRF, DbSession, back_to, person, ui_page

router = APIRouter()
CustomerReader = person("customer.read")
CustomerWriter = person("customer.write")
FormText = Annotated[str, Form()]
PAGE_SIZE = 50
EVENTS_SHOWN = 50
MAX_PURCHASE_ID = 200
DONE = {
    "added": "The customer is added.",
    "known": "A customer with this e-mail address exists already; here they are, unchanged.",
    "saved": "The details are saved.",
    "unchanged": "Nothing was changed.",
    "counted": "The purchase is counted.",
    "counted-before": "This purchase was counted before; nothing changed.",
    "address-added": "The address is added: mail from it finds this customer.",
    "address-removed": "The address is removed: mail from it no longer finds this customer.",
    "merged": "The other customer is merged into this one: their cases are listed below.",
    "bounce-cleared": "Follow-up messages go to this address again.",
}


def shown_value(value: Any) -> str:
    """A logged value as people read it: a list as "a, b", nothing as a dash."""
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    return "—" if value in (None, "") else str(value)


TEMPLATES.env.filters["shown_value"] = shown_value


def tags_of(text: str) -> list[str]:
    """Tags typed as a comma-separated list."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


@router.get("/customers", response_class=HTMLResponse)
def customers_page(
    request: Request,
    session: DbSession,
    me: CustomerReader,
    q: Annotated[str, Query(max_length=200)] = "",
    bounced: bool = False,
    after: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    only = True if bounced else None
    page = list_customers(session, q=q or None, bounced=only, cursor=after, limit=PAGE_SIZE)
    more = None
    if page.next_cursor:
        kept = {"q": q, **({"bounced": "true"} if bounced else {})}
        more = f"/customers?{urlencode({**kept, 'after': page.next_cursor})}"
    context = {
        "rows": page.customers,
        "q": q,
        "bounced": bounced,
        "more": more,
        "active": "customers",
    }
    return ui_page(request, "ui/customers.html", me, context)


@router.get("/customers/new", response_class=HTMLResponse)
def new_customer_page(request: Request, me: CustomerWriter) -> HTMLResponse:
    return _new_form(request, me, {"tier": "standard"})


def _new_form(
    request: Request,
    me: Principal,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {"values": values, "error": error, "active": "customers"}
    return ui_page(request, "ui/customer_new.html", me, context, status)


@router.post("/customers/new", dependencies=CSRF)
def add_customer(
    request: Request,
    session: DbSession,
    me: CustomerWriter,
    email: FormText = "",
    name: FormText = "",
    phone: FormText = "",
    tier: FormText = "standard",
    tags: FormText = "",
) -> Response:
    values = {"name": name, "phone": phone, "tier": tier, "tags": tags}
    if email is not None:
        values["email"] = email
    if not valid_email(email):
        error = "Enter the customer's e-mail address, like name@example.com."
        return _new_form(request, me, values, error, 422)
    try:
        added = do_add_customer(
            session,
            email=email,
            name=name,
            phone=phone,
            tier=tier.strip(),
            tags=tags_of(tags),
            by=me.email,
            settings=request.app.state.settings,
        )
    except InvalidInput as exc:
        session.rollback()
        return _new_form(request, me, values, exc.message, 422)
    done = "added" if added.created else "known"
    query = {"done": done, "started": added.started} if added.started else {"done": done}
    return back_to(f"/customers/{added.customer.id}?{urlencode(query)}")


def _customer_context(session: DbSession, customer_id: int, page: int = 1) -> dict[str, Any]:
    customer = get_customer(session, customer_id)
    total = customer_case_count(session, customer.id)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    cases = customer_cases(session, customer.id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    events = session.scalars(
        select(CaseEventRow)
        .where(CaseEventRow.customer_id == customer.id, CaseEventRow.case_id.is_(None))
        .order_by(CaseEventRow.at.desc(), CaseEventRow.id.desc())
        .limit(EVENTS_SHOWN)
    )
    new_case = urlencode({"email": customer.email, "name": customer.name})
    return {
        "customer": customer,
        "addresses": [row.address for row in other_addresses(session, customer.id)],
        "cases": cases,
        "case_count": total,
        "case_pages": _pages(customer.id, page, pages),
        "events": list(events),
        "new_case": f"/cases/new?{new_case}",
        "active": "customers",
    }


def _pages(customer_id: int, page: int, pages: int) -> dict[str, Any]:
    """Where the customer's list of cases stands: page `page` of `pages`, and the links
    to the newer and older ones (None at either end)."""

    def link(number: int) -> str:
        return f"/customers/{customer_id}?page={number}#cases-title"

    return {
        "page": page,
        "pages": pages,
        "newer": link(page - 1) if page > 1 else None,
        "older": link(page + 1) if page < pages else None,
    }


def _customer_page(
    request: Request,
    session: DbSession,
    me: Principal,
    customer_id: int,
    *,
    done: str | None = None,
    started: int = 0,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
    page: int = 1,
) -> HTMLResponse:
    context = _customer_context(session, customer_id, page)
    message = DONE.get(done or "")
    if message and started:
        sops = "an SOP" if started == 1 else f"{started} SOPs"
        message += f" It started {sops}; the cases it opened are listed below."
    customer = context["customer"]
    shown = {
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone or "",
        "tier": customer.tier,
        "tags": ", ".join(customer.tags or []),
    }
    context |= {"done": message, "error": error, "values": shown | (values or {})}
    return ui_page(request, "ui/customer.html", me, context, status)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request,
    session: DbSession,
    me: CustomerReader,
    customer_id: int,
    done: Annotated[str | None, Query(max_length=40)] = None,
    started: Annotated[int, Query(ge=0, le=1000)] = 0,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    return _customer_page(request, session, me, customer_id, done=done, started=started, page=page)


@router.post("/customers/{customer_id}", dependencies=CSRF)
def edit_customer(
    request: Request,
    session: DbSession,
    me: CustomerWriter,
    customer_id: int,
    email: Annotated[str | None, Form()] = None,  # left out: unchanged
    name: FormText = "",
    phone: FormText = "",
    tier: FormText = "",
    tags: FormText = "",
) -> Response:
    values = {"name": name, "phone": phone, "tier": tier, "tags": tags}
    if email is not None:
        values["email"] = email
    change = CustomerChange(email=email, name=name, phone=phone, tier=tier, tags=tags_of(tags))
    try:
        updated = do_update_customer(session, customer_id, change, by=me.email)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        status = 409 if isinstance(exc, Conflict) else 422
        return _customer_page(
            request, session, me, customer_id, error=exc.message, values=values, status=status
        )
    done = "saved" if updated.changed else "unchanged"
    return back_to(f"/customers/{customer_id}?done={done}")


@router.post("/customers/{customer_id}/purchases", dependencies=CSRF)
def record_purchase(
    request: Request,
    session: DbSession,
    me: CustomerWriter,
    customer_id: int,
    purchase_id: FormText = "",
    at: FormText = "",
) -> Response:
    try:
        if not purchase_id.strip() or len(purchase_id) > MAX_PURCHASE_ID:
            raise InvalidInput(f"give the order number (1 to {MAX_PURCHASE_ID} characters)")
        moment = _moment(at, request.app.state.settings.timezone)
        result = do_count_purchase(
            session,
            customer_id,
            purchase_id=purchase_id.strip(),
            at=moment,
            settings=request.app.state.settings,
        )
    except (InvalidInput, Conflict, NotFound) as exc:
        session.rollback()
        return _customer_page(request, session, me, customer_id, error=exc.message, status=422)
    query: dict[str, Any] = {"done": "counted" if result.counted else "counted-before"}
    if result.started:
        query["started"] = result.started
    return back_to(f"/customers/{customer_id}?{urlencode(query)}")


def _moment(text: str, timezone: str) -> datetime | None:
    """A purchase's date and time from the form (`datetime-local`, in the business's
    time zone); None for now."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("give the purchase's date and time, like 2026-11-24 14:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


@router.post("/customers/{customer_id}/addresses", dependencies=CSRF)
def add_address(
    request: Request,
    session: DbSession,
    me: CustomerWriter,
    customer_id: int,
    address: FormText = "",
) -> Response:
    def change() -> None:
        do_add_address(session, customer_id, address, by=me.email)

    return _change(request, session, me, customer_id, change, "address-added", {"address": address})


@router.post("/customers/{customer_id}/addresses/remove", dependencies=CSRF)
def remove_address(
    request: Request,
    session: DbSession,
    me: CustomerWriter,
    customer_id: int,
    address: FormText = "",
) -> Response:
    def change() -> None:
        do_remove_address(session, customer_id, address, by=me.email)

    return _change(request, session, me, customer_id, change, "address-removed", {})


@router.post("/customers/{customer_id}/bounce/clear", dependencies=CSRF)
def clear_bounce(
    request: Request, session: DbSession, me: CustomerWriter, customer_id: int
) -> Response:
    def change() -> None:
        do_clear_bounce(session, customer_id, by=me.email)

    return _change(request, session, me, customer_id, change, "bounce-cleared", {})


@router.post("/customers/{customer_id}/merge", dependencies=CSRF)
def merge_customer(
    request: Request,
    session: DbSession,
    me: CustomerWriter,
    customer_id: int,
    other: FormText = "",
    confirm: FormText = "",
) -> Response:
    def change() -> None:
        if not other.strip():
            raise InvalidInput("name the customer to merge into this one: id or e-mail address")
        if confirm != "yes":
            raise InvalidInput("tick the box to confirm: a merge cannot be undone")
        do_merge_customers(session, customer_id, customer_key(other.strip()), by=me.email)

    return _change(request, session, me, customer_id, change, "merged", {"other": other})


def _change(
    request: Request,
    session: DbSession,
    me: Principal,
    customer_id: int,
    change: Callable[[], None],
    done: str,
    values: dict[str, str],
) -> Response:
    """Make a change from a form: back to the page with what happened, or the page
    again with what to fix and the form's text kept. The page's own customer missing is
    the usual 404."""
    get_customer(session, customer_id)
    try:
        change()
    except (InvalidInput, Conflict, NotFound) as exc:
        session.rollback()
        status = 409 if isinstance(exc, Conflict) else 422
        error = _sentence(exc)
        return _customer_page(
            request, session, me, customer_id, error=error, values=values, status=status
        )
    return back_to(f"/customers/{customer_id}?done={done}")


def _sentence(exc: SopdeskError) -> str:
    text = exc.message[:1].upper() + exc.message[1:]
    return f"{text}: {exc.hint}." if exc.hint else f"{text}."
