"""Customers: found by e-mail address (lowercased) or created, and their engine view.

A customer is found by their own address or by one of their other addresses
(`customer_addresses`: added by hand, or kept when another customer was merged into
them). An address belongs to one customer.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache

from sqlalchemy import Insert, bindparam, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sopdesk.engine import Customer
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.store.queries import attach_loaded
from sopdesk.store.tables import CustomerAddressRow, CustomerRow

MAX_EMAIL = 320


_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def valid_email(text: str) -> bool:
    """Whether `text` looks like a deliverable address (name@domain.tld), for forms."""
    email = text.strip()
    return len(email) <= MAX_EMAIL and _EMAIL.fullmatch(email) is not None


def normalise_email(email: str) -> str:
    text = (email or "").strip().lower()
    if "@" not in text or len(text) > MAX_EMAIL or any(c.isspace() for c in text):
        raise InvalidInput(f"{email!r} is not an e-mail address")
    return text


def split_name(name: str) -> tuple[str, str]:
    """("Ann", "Lee Smith") from "Ann Lee Smith"; ("", "") for no name."""
    parts = (name or "").split(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ((parts[0], "") if parts else ("", ""))


_OWN = CustomerRow.email == bindparam("email")
_BY_EMAIL = (
    select(CustomerRow)
    .where(
        or_(
            _OWN,
            CustomerRow.id
            == select(CustomerAddressRow.customer_id)
            .where(CustomerAddressRow.address == bindparam("email"))
            .scalar_subquery(),
        )
    )
    .order_by(_OWN.desc())  # a customer's own address first
    .limit(1)
)
"""Built once: every case that arrives looks its customer up, by either address."""


def find_customer(session: Session, email: str) -> CustomerRow | None:
    """The customer with this address, their own or another of theirs."""
    return session.scalar(_BY_EMAIL, {"email": normalise_email(email)})


def get_customer(session: Session, customer_id: int) -> CustomerRow:
    row = session.get(CustomerRow, customer_id)
    if row is None:
        raise NotFound(f"no customer with id {customer_id}")
    return row


_ID = re.compile(r"[0-9]{1,9}")


def customer_key(text: str) -> int | str:
    """How a person names a customer (in a URL, on the command line): an id when it is
    a number, else an e-mail address."""
    return int(text) if _ID.fullmatch(text) else text


def customer_by_key(session: Session, key: int | str) -> CustomerRow:
    """The customer with this id or e-mail address (any case); `NotFound` otherwise,
    also for a text that is no address at all."""
    if isinstance(key, int):
        row = session.get(CustomerRow, key)
    else:
        email = key.strip().lower()
        row = session.scalar(_BY_EMAIL, {"email": email}) if email else None
    if row is None:
        raise NotFound(f"no customer {key!r}")
    return row


def ensure_customer(
    session: Session,
    email: str,
    name: str,
    now: datetime,
    *,
    tier: str | None = None,
    tags: list[str] | None = None,
    phone: str | None = None,
) -> tuple[CustomerRow, bool]:
    """The customer with this address, created if new; (row, created).

    A known customer keeps their details; a missing name is filled in.
    """
    found = find_customer(session, email)
    if found is None:
        clean = (name or "").strip()
        first, last = split_name(clean)
        values = {
            "email": normalise_email(email),
            "name": clean,
            "first_name": first,
            "last_name": last,
            "phone": phone,
            "tier": tier or "standard",
            "tags": list(tags or []),
            "purchases": 0,
            "created_at": now,
            "updated_at": now,
            "unsubscribed_at": None,
            "email_bounced_at": None,
            "email_bounce": None,
        }
        insert = _insert_unless_exists(session.get_bind().dialect.name)
        new_id = session.execute(insert, values).scalar()
        if new_id is not None:
            return attach_loaded(session, CustomerRow, {**values, "id": new_id}), True
        found = find_customer(session, email)
        assert found is not None
    if name and not found.name:
        found.name = name.strip()
        found.first_name, found.last_name = split_name(found.name)
        found.updated_at = now
    return found, False


@cache
def _insert_unless_exists(dialect: str) -> Insert:
    """INSERT … ON CONFLICT (email) DO NOTHING: of two transactions creating the same
    new customer at once, the second waits for the first and then finds its row,
    instead of failing on the unique e-mail. It returns the new id, or no row when the
    customer existed (the driver's row count is not reliable here). Built once per
    database kind; the values go as parameters."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = CustomerRow.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=[table.c.email])
    return statement.returning(table.c.id)


def engine_customer(row: CustomerRow) -> Customer:
    """The customer as the engine and routing see it (`customer.*` in conditions)."""
    return Customer(
        id=str(row.id),
        created_at=row.created_at,
        tier=row.tier,
        tags=tuple(row.tags or ()),
        purchases=row.purchases,
        attributes={
            "name": row.name,
            "first_name": row.first_name or row.name,
            "last_name": row.last_name,
            "email": row.email,
        },
    )
