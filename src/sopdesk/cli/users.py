"""`sopdesk users add|list|password|role|disable|enable|group`, `sopdesk tokens ...`.

For the person who runs the server: add accounts without the web (the first owner
too), and make API tokens for integrations. `tokens create` prints the token on its
last line, alone, so a script can take it with `tail -n 1`; it is shown only once.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sopdesk.actions import users
from sopdesk.auth.permissions import SCOPE_HELP, Role
from sopdesk.auth.tokens import display, token_problem
from sopdesk.cli.app import app
from sopdesk.cli.db import open_session
from sopdesk.errors import InvalidInput

users_app = typer.Typer(help="Add and list the people who sign in.", no_args_is_help=True)
tokens_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")

Email = Annotated[str, typer.Argument(help="The user's email address (any case).")]
PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from standard input (one line)."
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on standard input")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "-"


@users_app.command("add")
def users_add(
    email: Email,
    role: Annotated[Role, typer.Option("--role", help="owner, manager or agent.")],
    password_stdin: bool = PASSWORD_STDIN,
    name: Annotated[str, typer.Option("--name", help="Full name (default: from the email).")] = "",
) -> None:
    """Add a user who signs in with EMAIL and a password (prompted, or from stdin)."""
    password = _read_password(password_stdin)
    with open_session() as session:
        user = users.do_create_user(session, email, role=role, password=password, name=name)
    typer.echo(f"Added {user.email} ({user.role}), id {user.id}.")


@users_app.command("list")
def users_list() -> None:
    """Every user: email, role, name, status and last sign-in."""
    with open_session() as session:
        rows = users.list_users(session)
        groups = {row.id: users.user_groups(session, row.id) for row in rows}
    if not rows:
        typer.echo("No users yet. Add the owner with 'sopdesk users add EMAIL --role owner'.")
        return
    for row in rows:
        status = "active" if row.active else "disabled"
        member = f"  groups: {', '.join(groups[row.id])}" if groups[row.id] else ""
        typer.echo(
            f"{row.id:>4}  {row.email}  {row.role}  {row.name}  {status}  "
            f"last sign-in {_when(row.last_sign_in_at)}{member}"
        )


@users_app.command("password")
def users_password(email: Email, password_stdin: bool = PASSWORD_STDIN) -> None:
    """Set a new password for EMAIL; it is signed out everywhere."""
    password = _read_password(password_stdin)
    with open_session() as session:
        user = users.do_set_password(session, email, password)
    typer.echo(f"New password set for {user.email}; every session of theirs has ended.")


@users_app.command("role")
def users_role(
    email: Email,
    role: Annotated[Role, typer.Argument(help="The new role: owner, manager or agent.")],
) -> None:
    """Give EMAIL another ROLE from their next request on; the last owner cannot be demoted."""
    with open_session() as session:
        user = users.do_set_role(session, email, role)
    typer.echo(f"{user.email} is now {user.role}.")


@users_app.command("disable")
def users_disable(email: Email) -> None:
    """Disable EMAIL: their sessions end and their API tokens stop working."""
    with open_session() as session:
        user = users.do_set_active(session, email, False)
    typer.echo(f"Disabled {user.email}.")


@users_app.command("enable")
def users_enable(email: Email) -> None:
    """Enable EMAIL again (their tokens that are not revoked or expired work again)."""
    with open_session() as session:
        user = users.do_set_active(session, email, True)
    typer.echo(f"Enabled {user.email}.")


@users_app.command("group")
def users_group(email: str, group: str) -> None:
    """Put EMAIL in GROUP (a tier such as support-lead that escalations name)."""
    with open_session() as session:
        row = users.do_add_to_group(session, email, group)
        typer.echo(f"{email.strip().lower()} is in {row.name}.")


SCOPES_HELP = "; ".join(f"{name}: {text}" for name, text in SCOPE_HELP.items())


@tokens_app.command("create")
def tokens_create(
    email: Email,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", metavar="SCOPE", help=f"Repeat for several. {SCOPES_HELP}. Default: admin."
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", min=1, help="Lifetime (default: no expiry).")
    ] = None,
) -> None:
    """Create an API token for EMAIL and print it on the last line (shown only once)."""
    scopes = [part for item in scope or [] for part in item.split(",")]
    with open_session() as session:
        created = users.do_create_token(
            session, email, name=name, scopes=scopes, expires_days=expires_days
        )
    row = created.row
    expiry = f", expires {_when(row.expires_at)} UTC" if row.expires_at else ""
    typer.echo(f"Token {row.id} '{row.name}' for {email.strip().lower()}")
    typer.echo(f"  scopes: {' '.join(row.scopes)}{expiry}")
    typer.echo("  Copy it now: it is not stored and cannot be shown again.")
    typer.echo(created.token)


@tokens_app.command("list")
def tokens_list(email: Email) -> None:
    """EMAIL's tokens: id, name, prefix, scopes, last use and state (never the secret)."""
    from sopdesk.actions.base import utcnow

    now = utcnow()
    with open_session() as session:
        rows = users.list_tokens(session, users.get_user(session, email))
    if not rows:
        typer.echo(f"No tokens for {email.strip().lower()}.")
        return
    for row in rows:
        state = token_problem(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now)
        typer.echo(
            f"{row.id:>4}  {display(row.prefix)}  {row.name}  scopes={','.join(row.scopes)}  "
            f"created {_when(row.created_at)}  last used {_when(row.last_used_at)}  "
            f"expires {_when(row.expires_at)}  {state or 'active'}"
        )


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The id 'sopdesk tokens list' shows.")],
) -> None:
    """Revoke token ID; calls made with it fail from now on."""
    with open_session() as session:
        row = users.do_revoke_token(session, token_id)
    typer.echo(f"Revoked token {row.id} ({display(row.prefix)}).")
