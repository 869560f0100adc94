"""/api/v1/customers: customers a page at a time, and one customer with their history."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from sopdesk.actions.api_reads import list_customers
from sopdesk.actions.case_reads import MAX_LIMIT, customer_history
from sopdesk.auth.permissions import Principal
from sopdesk.web.api import models as m
from sopdesk.web.api.cases import set_next_link
from sopdesk.web.api.deps import require
from sopdesk.web.security import DbSession

router = APIRouter(prefix="/customers", tags=["customers"], responses=m.ERROR_RESPONSES)

CustomerReader = Annotated[Principal, Depends(require("customer.read"))]
READ = {"x-permission": "customer.read"}
_NUMBER = re.compile(r"[0-9]{1,9}")


@router.get("", response_model=m.CustomerList, summary="List customers", openapi_extra=READ)
def customers(
    who: CustomerReader,
    session: DbSession,
    request: Request,
    response: Response,
    q: Annotated[
        m.Text | None, Query(max_length=200, description="Text in the email or name")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=m.LIMIT_DESCRIPTION)] = 50,
    cursor: Annotated[
        m.Text | None, Query(max_length=500, description=m.CURSOR_DESCRIPTION)
    ] = None,
) -> m.CustomerList:
    """Customers, oldest first, a page at a time (`Link: <...>; rel="next"` as for cases)."""
    page = list_customers(session, q=q, cursor=cursor, limit=limit)
    set_next_link(request, response, page.next_cursor)
    return m.CustomerList(
        items=[m.customer_out(row) for row in page.customers], next_cursor=page.next_cursor
    )


@router.get(
    "/{customer}",
    response_model=m.CustomerDetail,
    summary="Get a customer with their history",
    openapi_extra=READ,
)
def customer(
    customer: Annotated[
        m.Text,
        Path(max_length=320, description="The customer's id or email address"),
    ],
    who: CustomerReader,
    session: DbSession,
) -> m.CustomerDetail:
    """One customer with every case (newest first) and the events about them; a customer
    with more than one case is a repeat customer."""
    key: int | str = int(customer) if _NUMBER.fullmatch(customer) else customer
    history = customer_history(session, key)
    return m.CustomerDetail(
        **m.customer_out(history.customer).model_dump(),
        cases=[m.case_summary(row) for row in history.cases],
        events=[m.event_out(event) for event in history.events],
    )
