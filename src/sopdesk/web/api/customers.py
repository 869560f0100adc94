"""/api/v1/customers: customers a page at a time, one customer with their history, adding
a customer and counting a purchase (each of which can start SOPs: onboarding, loyalty),
a customer's other addresses, lifting the mark that their address bounces, and merging
two customers who are one person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from sopdesk.actions.api_reads import list_customers
from sopdesk.actions.case_reads import MAX_LIMIT, customer_history
from sopdesk.actions.customer_addresses import (
    Addresses,
    do_add_address,
    do_remove_address,
    other_addresses,
)
from sopdesk.actions.customer_changes import CustomerChange, do_update_customer
from sopdesk.actions.customer_merge import do_merge_customers
from sopdesk.actions.customers import customer_key
from sopdesk.actions.delivery import do_clear_bounce
from sopdesk.actions.sequences import do_add_customer, do_count_purchase
from sopdesk.auth.permissions import Principal
from sopdesk.web.api import models as m
from sopdesk.web.api.cases import IDEMPOTENT, set_next_link
from sopdesk.web.api.deps import require
from sopdesk.web.security import DbSession

router = APIRouter(prefix="/customers", tags=["customers"], responses=m.ERROR_RESPONSES)

CustomerReader = Annotated[Principal, Depends(require("customer.read"))]
CustomerWriter = Annotated[Principal, Depends(require("customer.write"))]
READ = {"x-permission": "customer.read"}
WRITE = {"x-permission": "customer.write"}
CustomerKey = Annotated[
    m.Text, Path(max_length=320, description="The customer's id or email address")
]


@router.get("", response_model=m.CustomerList, summary="List customers", openapi_extra=READ)
def customers(
    who: CustomerReader,
    session: DbSession,
    request: Request,
    response: Response,
    q: Annotated[
        m.Text | None, Query(max_length=200, description="Text in the email or name")
    ] = None,
    bounced: Annotated[
        bool | None, Query(description="true: those whose address bounces; false: the others")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=m.LIMIT_DESCRIPTION)] = 50,
    cursor: Annotated[
        m.Text | None, Query(max_length=500, description=m.CURSOR_DESCRIPTION)
    ] = None,
) -> m.CustomerList:
    """Customers, oldest first, a page at a time (`Link: <...>; rel="next"` as for cases)."""
    page = list_customers(session, q=q, bounced=bounced, cursor=cursor, limit=limit)
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
def customer(customer: CustomerKey, who: CustomerReader, session: DbSession) -> m.CustomerDetail:
    """One customer with every case (newest first) and the events about them; a customer
    with more than one case is a repeat customer."""
    history = customer_history(session, customer_key(customer))
    others = other_addresses(session, history.customer.id)
    return m.CustomerDetail(
        **m.customer_out(history.customer).model_dump(),
        addresses=[row.address for row in others],
        cases=[m.case_summary(row) for row in history.cases],
        events=[m.event_out(event) for event in history.events],
    )


@router.post(
    "",
    response_model=m.CustomerOut,
    status_code=201,
    summary="Add a customer",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
    responses={200: {"model": m.CustomerOut, "description": "The customer existed already"}},
)
def add_customer(
    body: m.CustomerNew,
    who: CustomerWriter,
    session: DbSession,
    request: Request,
    response: Response,
) -> m.CustomerOut:
    """Add a customer; the published SOPs triggered by `customer_created` start for them
    (onboarding opens a case for the team). A customer with this email already is
    returned as they are, with 200, and starts nothing."""
    added = do_add_customer(
        session,
        email=body.email,
        name=body.name,
        tier=body.tier,
        tags=list(body.tags),
        phone=body.phone,
        by=who.email,
        settings=request.app.state.settings,
    )
    response.status_code = 201 if added.created else 200
    response.headers["Location"] = f"/api/v1/customers/{added.customer.id}"
    return m.customer_out(added.customer)


@router.patch(
    "/{customer}",
    response_model=m.CustomerOut,
    summary="Change a customer's details",
    openapi_extra=WRITE,
)
def update_customer(
    customer: CustomerKey, body: m.CustomerPatch, who: CustomerWriter, session: DbSession
) -> m.CustomerOut:
    """Change the e-mail address, name, phone, tier or tags; fields left out stay as they
    are. Tier and tags route the customer's next cases (an SOP's `customer_tags`,
    `customer.tier`); open cases keep their SOP. A new address keeps the customer's
    cases and history; one that is another customer's is refused with 409. Each change
    is a `customer.updated` event."""
    sent = body.model_fields_set
    change = CustomerChange(
        email=body.email if "email" in sent else None,
        name=body.name if "name" in sent else None,
        phone=(body.phone or "") if "phone" in sent else None,
        tier=body.tier if "tier" in sent else None,
        tags=body.tags if "tags" in sent else None,
    )
    updated = do_update_customer(session, customer_key(customer), change, by=who.email)
    return m.customer_out(updated.customer)


@router.post(
    "/{customer}/purchases",
    response_model=m.PurchaseOut,
    status_code=201,
    summary="Count a purchase",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def purchase(
    customer: CustomerKey,
    body: m.PurchaseIn,
    who: CustomerWriter,
    session: DbSession,
    request: Request,
) -> m.PurchaseOut:
    """Count one purchase of the customer; the published SOPs triggered by `purchase`
    whose condition now holds start (loyalty recognition at the 3rd, 5th, 10th… opens
    a case for the team). The same `purchase_id` again counts nothing (`counted`
    false)."""
    result = do_count_purchase(
        session,
        customer_key(customer),
        purchase_id=body.purchase_id,
        at=body.at,
        settings=request.app.state.settings,
    )
    return m.PurchaseOut(
        customer=m.customer_out(result.customer), counted=result.counted, started=result.started
    )


@router.post(
    "/{customer}/addresses",
    response_model=m.AddressesOut,
    status_code=201,
    summary="Add another address",
    openapi_extra=WRITE,
)
def add_address(
    customer: CustomerKey, body: m.AddressIn, who: CustomerWriter, session: DbSession
) -> m.AddressesOut:
    """Add another e-mail address of the customer: mail from it then finds them (what we
    send still goes to their own address). An address that is another customer's is
    refused with 409: merge the two instead. Logged as `customer.address_added`."""
    added = do_add_address(session, customer_key(customer), body.address, by=who.email)
    return _addresses_out(added)


@router.delete(
    "/{customer}/addresses/{address}",
    response_model=m.AddressesOut,
    summary="Remove another address",
    openapi_extra=WRITE,
)
def remove_address(
    customer: CustomerKey,
    address: Annotated[m.Text, Path(max_length=320, description="One of their other addresses")],
    who: CustomerWriter,
    session: DbSession,
) -> m.AddressesOut:
    """Remove one of the customer's other addresses; mail from it then opens cases for a
    new customer. Their own address cannot be removed (422), only changed with PATCH.
    Logged as `customer.address_removed`."""
    removed = do_remove_address(session, customer_key(customer), address, by=who.email)
    return _addresses_out(removed)


@router.delete(
    "/{customer}/bounce",
    response_model=m.CustomerOut,
    summary="Lift the mark that their address bounces",
    openapi_extra=WRITE,
)
def clear_bounce(customer: CustomerKey, who: CustomerWriter, session: DbSession) -> m.CustomerOut:
    """The customer's address works again (they told you so on the phone, or their mail
    server is fixed): follow-ups and sequence messages go to it again from now on; those
    cancelled meanwhile stay cancelled. A customer whose address is not marked is
    answered as they are. Logged as `customer.bounce_cleared`."""
    lifted = do_clear_bounce(session, customer_key(customer), by=who.email)
    return m.customer_out(lifted.customer)


def _addresses_out(addresses: Addresses) -> m.AddressesOut:
    row = addresses.customer
    return m.AddressesOut(customer_id=row.id, email=row.email, addresses=addresses.others)


@router.post(
    "/{customer}/merge",
    response_model=m.MergeOut,
    summary="Merge another customer into this one",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def merge(
    customer: CustomerKey, body: m.MergeIn, who: CustomerWriter, session: DbSession
) -> m.MergeOut:
    """Merge the customer named in the body into this one, for one person known under
    two addresses. Their cases, events, queued e-mails, survey answers and purchases
    become this customer's; their addresses become this customer's other addresses, so
    mail from them keeps arriving here; links already sent to them keep working. This
    customer's details win, and fill their gaps from the other's; tags are joined. The
    other customer is gone: this cannot be undone. Merging a customer into themselves
    is refused with 422. Logged as `customer.merged`."""
    merged = do_merge_customers(
        session, customer_key(customer), customer_key(body.customer), by=who.email
    )
    kept = merged.customer
    others = [row.address for row in other_addresses(session, kept.id)]
    return m.MergeOut(
        customer=m.customer_out(kept),
        merged=m.CustomerRef(
            id=merged.merged_id, email=merged.merged_email, name=merged.merged_name
        ),
        cases=merged.cases,
        addresses=others,
    )
