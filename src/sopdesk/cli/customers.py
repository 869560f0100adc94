"""`sopdesk customer add|update|purchase|merge|clear-bounce|address`: tell sopdesk about
customers, what they buy, their other addresses, which two customers are one person, and
that an address which bounced works again.

Adding a customer starts the published SOPs triggered by `customer_created`
(onboarding); counting a purchase starts those triggered by `purchase` whose condition
holds (loyalty recognition). Each command calls one action and prints the result.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from sopdesk.actions.customer_addresses import Addresses, do_add_address, do_remove_address
from sopdesk.actions.customer_changes import CustomerChange, do_update_customer
from sopdesk.actions.customer_merge import do_merge_customers
from sopdesk.actions.customers import customer_key
from sopdesk.actions.delivery import do_clear_bounce
from sopdesk.actions.sequences import do_add_customer, do_count_purchase
from sopdesk.cli.app import app
from sopdesk.cli.cases import FORMAT, Format
from sopdesk.cli.db import open_session
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings

customer_app = typer.Typer(
    help="Add customers, change their details, count their purchases (onboarding, "
    "loyalty), give them other addresses and merge duplicates.",
    no_args_is_help=True,
)
app.add_typer(customer_app, name="customer")
address_app = typer.Typer(
    help="A customer's other e-mail addresses: mail from them finds the customer.",
    no_args_is_help=True,
)
customer_app.add_typer(address_app, name="address")


@customer_app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The customer's e-mail address.")],
    name: Annotated[str, typer.Option("--name", help="The customer's name.")] = "",
    tier: Annotated[str | None, typer.Option("--tier", help="e.g. gold.")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="A phone number.")] = None,
    fmt: Format = FORMAT,
) -> None:
    """Add a customer (a known address is left as it is) and start onboarding."""
    with open_session() as session:
        added = do_add_customer(
            session,
            email=email,
            name=name,
            tier=tier,
            tags=list(tags or []),
            phone=phone,
            by="cli",
            settings=Settings(),
        )
        row = added.customer
        if fmt is Format.JSON:
            typer.echo(json.dumps({"id": row.id, "email": row.email, "added": added.created}))
            return
        typer.echo(f"{'added' if added.created else 'known'} customer {row.id}: {row.email}")


@customer_app.command("update")
def update_command(
    customer: Annotated[str, typer.Argument(help="The customer's id or e-mail address.")],
    email: Annotated[
        str | None, typer.Option("--email", help="A new e-mail address; not another's.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    tier: Annotated[str | None, typer.Option("--tier", help="A new tier, e.g. gold.")] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="The tags (repeatable); replaces them all.")
    ] = None,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Remove every tag.")] = False,
    phone: Annotated[
        str | None, typer.Option("--phone", help="A new phone number; '' clears it.")
    ] = None,
    fmt: Format = FORMAT,
) -> None:
    """Change a customer's details; tier and tags route their next cases.

    A new address keeps the customer's cases and history."""
    if tags and no_tags:
        raise InvalidInput("give --tag or --no-tags, not both")
    change = CustomerChange(
        email=email,
        name=name,
        phone=phone,
        tier=tier,
        tags=[] if no_tags else (list(tags) if tags else None),
    )
    with open_session() as session:
        row = do_update_customer(session, customer_key(customer), change, by="cli").customer
        if fmt is Format.JSON:
            out = {"id": row.id, "email": row.email, "name": row.name, "tier": row.tier}
            typer.echo(json.dumps(out | {"tags": list(row.tags or []), "phone": row.phone}))
            return
        tagged = ", ".join(row.tags or []) or "no tags"
        typer.echo(f"customer {row.id}: {row.email}, tier {row.tier}, {tagged}")


@customer_app.command("purchase")
def purchase_command(
    customer: Annotated[str, typer.Argument(help="The customer's id or e-mail address.")],
    purchase_id: Annotated[str, typer.Argument(help="Your order number; counted once.")],
    at: Annotated[
        str | None, typer.Option("--at", help="When it was made, ISO 8601 with a zone.")
    ] = None,
    fmt: Format = FORMAT,
) -> None:
    """Count one purchase; loyalty recognition starts when its condition holds."""
    with open_session() as session:
        result = do_count_purchase(
            session,
            customer_key(customer),
            purchase_id=purchase_id,
            at=_instant(at),
            settings=Settings(),
        )
        purchases = result.customer.purchases
        if fmt is Format.JSON:
            summary = {"customer": result.customer.id, "purchases": purchases}
            typer.echo(json.dumps(summary | {"started": result.started, "counted": result.counted}))
            return
        counted = "counted" if result.counted else "already counted"
        typer.echo(
            f"purchase {purchase_id} {counted}: {purchases} in all; {result.started} SOP(s) started"
        )


@customer_app.command("merge")
def merge_command(
    keep: Annotated[str, typer.Argument(help="The customer to keep: id or e-mail address.")],
    other: Annotated[
        str, typer.Argument(help="The customer to merge into it: id or e-mail address.")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask; a merge is final.")] = False,
    fmt: Format = FORMAT,
) -> None:
    """Merge OTHER into KEEP: one person known under two addresses.

    OTHER's cases, events, queued e-mails, survey answers and purchases become KEEP's,
    and OTHER's addresses become KEEP's other addresses. KEEP's details win and fill
    their gaps from OTHER's; tags are joined. OTHER is gone: this cannot be undone.
    """
    if not yes:
        typer.confirm(
            f"Merge customer {other} into customer {keep}? This cannot be undone", abort=True
        )
    with open_session() as session:
        merged = do_merge_customers(session, customer_key(keep), customer_key(other), by="cli")
        row = merged.customer
        if fmt is Format.JSON:
            out = {"id": row.id, "email": row.email, "purchases": row.purchases}
            moved = {"merged": merged.merged_id, "cases": merged.cases}
            typer.echo(json.dumps(out | moved | {"changed": list(merged.changed)}))
            return
        typer.echo(
            f"merged customer {merged.merged_id} ({merged.merged_email}) into customer "
            f"{row.id} ({row.email}): {merged.cases} case(s) moved"
        )


@customer_app.command("clear-bounce")
def clear_bounce_command(
    customer: Annotated[str, typer.Argument(help="The customer's id or e-mail address.")],
    fmt: Format = FORMAT,
) -> None:
    """Say the customer's address works again after a bounce marked it: follow-up and
    sequence messages go to it again from now on."""
    with open_session() as session:
        lifted = do_clear_bounce(session, customer_key(customer), by="cli")
        row = lifted.customer
        if fmt is Format.JSON:
            typer.echo(json.dumps({"id": row.id, "email": row.email, "cleared": lifted.cleared}))
            return
        said = "follow-ups go to it again" if lifted.cleared else "it was not marked as bouncing"
        typer.echo(f"customer {row.id}: {row.email}; {said}")


@address_app.command("add")
def address_add_command(
    customer: Annotated[str, typer.Argument(help="The customer's id or e-mail address.")],
    address: Annotated[str, typer.Argument(help="Another address of theirs; nobody else's.")],
    fmt: Format = FORMAT,
) -> None:
    """Add another address of the customer; mail from it then finds them."""
    with open_session() as session:
        _print_addresses(do_add_address(session, customer_key(customer), address, by="cli"), fmt)


@address_app.command("remove")
def address_remove_command(
    customer: Annotated[str, typer.Argument(help="The customer's id or e-mail address.")],
    address: Annotated[str, typer.Argument(help="One of their other addresses.")],
    fmt: Format = FORMAT,
) -> None:
    """Remove one of the customer's other addresses (not their own: change that)."""
    with open_session() as session:
        removed = do_remove_address(session, customer_key(customer), address, by="cli")
        _print_addresses(removed, fmt)


def _print_addresses(addresses: Addresses, fmt: Format) -> None:
    row = addresses.customer
    if fmt is Format.JSON:
        typer.echo(json.dumps({"id": row.id, "email": row.email, "addresses": addresses.others}))
        return
    others = ", ".join(addresses.others) or "none"
    typer.echo(f"customer {row.id}: {row.email}; other addresses: {others}")


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--at {value!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"--at {value!r} has no time zone", hint="e.g. 2026-03-02T10:00Z")
    return moment
