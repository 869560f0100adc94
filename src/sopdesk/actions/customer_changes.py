"""Changing a customer's details: e-mail address, name, phone, tier and tags.

Tier and tags decide routing (an SOP's `customer_tags`, `customer.tier` in `when`
conditions) for the cases the customer opens from then on; cases already open keep the
SOP they run. Every change is a `customer.updated` event naming who changed what, from
and to.

A new e-mail address (a typo fixed, a customer who moved) keeps the customer's id, cases
and history; the e-mails composed from then on go to it. An address belongs to one
customer: taking another customer's is a `Conflict`. Taking one of the customer's own
other addresses swaps the two (the old one stays theirs). A mark that the old address
bounces (`actions.delivery`) is lifted with it. E-mails already queued keep the
address they were written to, and a new message from the old address opens a case for a
new customer, unless it answers one of this customer's cases (it threads onto it, as
the old address is on the case's messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.case_state import atomic_case, log_event
from sopdesk.actions.customers import customer_by_key, find_customer, normalise_email, split_name
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.store.tables import CustomerAddressRow, CustomerRow

MAX_NAME = 200
MAX_PHONE = 40
MAX_TIER = 40
MAX_TAG = 60
MAX_TAGS = 50


@dataclass(frozen=True)
class CustomerChange:
    """The details to set; None leaves a detail as it is (an empty phone clears it)."""

    email: str | None = None
    name: str | None = None
    phone: str | None = None
    tier: str | None = None
    tags: Sequence[str] | None = None


def clean_change(change: CustomerChange) -> dict[str, Any]:
    """The change as column values, checked; raises `InvalidInput` naming the fix."""
    values: dict[str, Any] = {}
    if change.email is not None:
        values["email"] = normalise_email(change.email)
    if change.name is not None:
        values["name"] = _bounded(change.name.strip(), MAX_NAME, "a name")
    if change.phone is not None:
        values["phone"] = _bounded(change.phone.strip(), MAX_PHONE, "a phone number") or None
    if change.tier is not None:
        tier = _bounded(change.tier.strip(), MAX_TIER, "a tier")
        if not tier:
            raise InvalidInput("a tier cannot be empty", hint="use standard for no tier")
        values["tier"] = tier
    if change.tags is not None:
        values["tags"] = clean_tags(change.tags)
    return values


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags stripped, empty ones dropped, each once, in the order given."""
    kept: list[str] = []
    for tag in (t.strip() for t in tags):
        if tag and tag not in kept:
            kept.append(_bounded(tag, MAX_TAG, "a tag"))
    if len(kept) > MAX_TAGS:
        raise InvalidInput(f"a customer has at most {MAX_TAGS} tags")
    return kept


def _bounded(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise InvalidInput(f"{what} has at most {limit} characters")
    if any(ord(char) < 32 for char in text):
        raise InvalidInput(f"{what} cannot hold line breaks or control characters")
    return text


@dataclass(frozen=True)
class UpdatedCustomer:
    customer: CustomerRow
    changed: tuple[str, ...]  # the columns whose value changed; none: nothing was saved


@atomic_case
def do_update_customer(
    session: Session,
    customer: int | str,
    change: CustomerChange,
    *,
    by: str,
    now: datetime | None = None,
) -> UpdatedCustomer:
    """Set the customer's details (by id or e-mail); a change that changes nothing
    logs nothing. Two changes racing for one address: the unique index lets one commit,
    the other is a `Conflict` (`atomic_case`)."""
    moment = resolve_now(now)
    values = clean_change(change)
    row = customer_by_key(session, customer)
    changed = {
        column: [getattr(row, column), value]
        for column, value in values.items()
        if getattr(row, column) != value
    }
    if not changed:
        return UpdatedCustomer(row, ())
    if "email" in changed:
        _take_address(session, row, values["email"], moment)
        if row.email_bounced_at is not None:  # the bounce was about the old address
            changed["email_bounced_at"] = [row.email_bounced_at, None]
            changed["email_bounce"] = [row.email_bounce, None]
    for column, (_, value) in changed.items():
        setattr(row, column, value)
    if "name" in changed:
        row.first_name, row.last_name = split_name(row.name)
    row.updated_at = moment
    log_event(session, "customer.updated", moment, customer_id=row.id, actor=by, changes=changed)
    return UpdatedCustomer(row, tuple(changed))


def _take_address(session: Session, row: CustomerRow, email: str, now: datetime) -> None:
    """Check that `email` may become the customer's own address. One of their other
    addresses may: the two change places, the old one staying theirs."""
    holder = find_customer(session, email)
    if holder is None:
        return
    if holder.id != row.id:
        raise Conflict(
            f"customer {holder.id} has the e-mail address {email} already",
            hint="an address belongs to one customer; change theirs first, or merge them",
        )
    other = session.get(CustomerAddressRow, email)
    if other is not None:
        session.delete(other)
        session.add(CustomerAddressRow(address=row.email, customer_id=row.id, added_at=now))
