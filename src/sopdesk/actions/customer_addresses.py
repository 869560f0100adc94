"""A customer's other e-mail addresses: a person who writes from work and from home is
one customer.

Mail, the support form and the API find a customer by any of their addresses; what we
send goes to their own address (`CustomerRow.email`). An address belongs to one
customer: adding one that is another customer's (their own or another of theirs) is a
`Conflict` naming them, since the way to join two customers is to merge them
(`actions.customer_merge`). Each change is a `customer.address_added` or
`customer.address_removed` event naming who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.actions.customers import customer_by_key, find_customer, normalise_email
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.store.tables import CustomerAddressRow, CustomerRow

MAX_ADDRESSES = 20


def other_addresses(session: Session, customer_id: int) -> list[CustomerAddressRow]:
    """A customer's other addresses, in the order they were added."""
    query = (
        select(CustomerAddressRow)
        .where(CustomerAddressRow.customer_id == customer_id)
        .order_by(CustomerAddressRow.added_at, CustomerAddressRow.address)
    )
    return list(session.scalars(query))


def claim_address(
    session: Session, customer: CustomerRow, address: str, now: datetime
) -> CustomerAddressRow:
    """Record `address` as another of `customer`'s, after checking nobody has it."""
    holder = find_customer(session, address)
    if holder is not None and holder.id != customer.id:
        raise Conflict(
            f"the address {address} is customer {holder.id}'s",
            hint=f"merge customer {holder.id} into customer {customer.id} instead",
        )
    if holder is not None:
        raise Conflict(f"customer {customer.id} has the address {address} already")
    if len(other_addresses(session, customer.id)) >= MAX_ADDRESSES:
        raise InvalidInput(
            f"a customer has at most {MAX_ADDRESSES} other addresses",
            hint="remove one they no longer use first",
        )
    row = CustomerAddressRow(address=address, customer_id=customer.id, added_at=now)
    session.add(row)
    return row


@dataclass(frozen=True)
class Addresses:
    customer: CustomerRow
    others: list[str]


def _addresses(session: Session, customer: CustomerRow) -> Addresses:
    session.flush()
    return Addresses(customer, [other.address for other in other_addresses(session, customer.id)])


@atomic_case
def do_add_address(
    session: Session,
    customer: int | str,
    address: str,
    *,
    by: str,
    now: datetime | None = None,
) -> Addresses:
    """Add another address to the customer (by id or either address)."""
    moment = resolve_now(now)
    row = customer_by_key(session, customer)
    email = normalise_email(address)
    claim_address(session, row, email, moment)
    log_event(
        session, "customer.address_added", moment, customer_id=row.id, actor=by, address=email
    )
    return _addresses(session, row)


@atomic_case
def do_remove_address(
    session: Session,
    customer: int | str,
    address: str,
    *,
    by: str,
    now: datetime | None = None,
) -> Addresses:
    """Remove one of the customer's other addresses; mail from it then opens cases for
    a new customer, as from any unknown address. Their own address cannot be removed,
    only changed."""
    moment = resolve_now(now)
    row = customer_by_key(session, customer)
    email = address.strip().lower()
    if email == row.email:
        raise InvalidInput(
            f"{email} is customer {row.id}'s own address",
            hint="change it to another address instead (or make another one theirs first)",
        )
    found = session.get(CustomerAddressRow, email)
    if found is None or found.customer_id != row.id:
        raise NotFound(f"customer {row.id} has no other address {email}")
    session.delete(found)
    log_event(
        session, "customer.address_removed", moment, customer_id=row.id, actor=by, address=email
    )
    return _addresses(session, row)
