"""Users, groups and API tokens: every write (`do_*`) and the reads the shells need.

Passwords and tokens are checked and hashed by the pure `sopdesk.auth` modules; this
module loads rows, asks them, and commits. Sign-in itself (rate limit, sessions,
resolving a request's principal) is in `sopdesk.actions.signin`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.auth import passwords, tokens
from sopdesk.auth.permissions import Role, normalise_scopes, parse_role
from sopdesk.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sopdesk.sop.model import ID_PATTERN
from sopdesk.store.tables import (
    ApiTokenRow,
    GroupMemberRow,
    GroupRow,
    UserRow,
    WebSessionRow,
)

# No control characters: NUL cannot even be stored by PostgreSQL.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")
_GROUP = re.compile(ID_PATTERN)  # SOP identifiers: escalation matrices name groups
MAX_TOKEN_DAYS = 3660


def normalise_email(email: str) -> str:
    """The stored form of an email address (trimmed, lower-cased), or `InvalidInput`."""
    value = (email or "").strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidInput(f"{email!r} is not an email address")
    return value


# --- reads ---------------------------------------------------------------------------


def find_user(session: Session, email: str) -> UserRow | None:
    try:
        value = normalise_email(email)
    except InvalidInput:
        return None
    return session.scalar(select(UserRow).where(UserRow.email == value))


def get_user(session: Session, email: str) -> UserRow:
    user = find_user(session, email)
    if user is None:
        raise NotFound(f"no user with email {email!r}", hint="see 'sopdesk users list'")
    return user


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.email)))


def owner_exists(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(UserRow.role == Role.OWNER.value))))


def needs_setup(session: Session) -> bool:
    """True while there is no user at all: the first-run setup page is open."""
    return not session.scalar(select(exists().where(UserRow.id.is_not(None))))


def list_tokens(session: Session, user: UserRow) -> list[ApiTokenRow]:
    query = select(ApiTokenRow).where(ApiTokenRow.user_id == user.id).order_by(ApiTokenRow.id)
    return list(session.scalars(query))


def user_groups(session: Session, user_id: int) -> list[str]:
    query = (
        select(GroupRow.name)
        .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.id)
        .where(GroupMemberRow.user_id == user_id)
        .order_by(GroupRow.name)
    )
    return list(session.scalars(query))


# --- users ---------------------------------------------------------------------------


def _new_user(
    session: Session, email: str, role: Role | str, password: str | None, name: str, now: datetime
) -> UserRow:
    address = normalise_email(email)
    role = parse_role(role)
    if session.scalar(select(UserRow.id).where(UserRow.email == address)) is not None:
        raise Conflict(f"there is already a user with email {address}")
    if password is not None:
        passwords.check_new_password(password, address)
    user = UserRow(
        email=address,
        name=(name or "").strip()[:120] or address.partition("@")[0],
        role=role.value,
        password_hash=passwords.hash_password(password) if password is not None else None,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


@atomic
def do_create_user(
    session: Session,
    email: str,
    *,
    role: Role | str,
    password: str | None,
    name: str = "",
    now: datetime | None = None,
) -> UserRow:
    """Add a user; with `password` None the account exists but cannot sign in yet."""
    return _new_user(session, email, role, password, name, resolve_now(now))


@atomic
def do_first_run_setup(
    session: Session, email: str, password: str, *, name: str = "", now: datetime | None = None
) -> UserRow:
    """Create the first owner; refused once any user exists (setup happens once).

    Stricter than "no owner yet": accounts added with the CLI also close the page, so
    a stranger can never claim an installation whose users were created by hand.
    """
    _lock_users(session)
    if not needs_setup(session):
        raise PermissionDenied(
            "sopdesk is already set up", code="already_set_up", hint="sign in instead"
        )
    return _new_user(session, email, Role.OWNER, password, name, resolve_now(now))


def _lock_users(session: Session) -> None:
    """Serialise writers of `users` until commit, so two setups cannot both see none.

    PostgreSQL: a table lock that conflicts with itself. SQLite: a write statement (that
    changes nothing) takes the database's write lock before the check reads.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    elif dialect == "sqlite":
        session.execute(text("UPDATE users SET id = id WHERE id IS NULL"))


@atomic
def do_set_password(session: Session, email: str, password: str) -> UserRow:
    """Set a new password and sign the user out everywhere (every session ends)."""
    user = get_user(session, email)
    passwords.check_new_password(password, user.email)
    user.password_hash = passwords.hash_password(password)
    session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
    return user


@atomic
def do_set_active(session: Session, email: str, active: bool) -> UserRow:
    """Enable or disable an account; disabling ends its sessions (tokens stop working).

    The CLI's `users enable|disable`; the same rules as `do_update_user`.
    """
    return _update_user(session, email, active=active)


@atomic
def do_set_role(session: Session, email: str, role: Role | str) -> UserRow:
    """Give the user another role; it applies from their next request, since every
    request computes its permissions from the role stored here (sessions and tokens
    carry no role of their own). The last active owner cannot be demoted."""
    return _update_user(session, email, role=role)


@atomic
def do_update_user(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    role: Role | str | None = None,
    active: bool | None = None,
) -> UserRow:
    """Change a user's name, role and/or active state in one transaction (None: keep).

    Deactivating ends every browser session of theirs at once and their API tokens
    stop working (both are refused for an inactive user); reactivating lets them sign
    in again, and their tokens that are neither revoked nor expired work again. The
    last active owner can be neither demoted nor deactivated, or nobody could manage
    users any more (`Conflict`).
    """
    return _update_user(session, email, name=name, role=role, active=active)


def _update_user(
    session: Session,
    email: str,
    *,
    name: str | None = None,
    role: Role | str | None = None,
    active: bool | None = None,
) -> UserRow:
    """The shared body of `do_update_user`, `do_set_role` and `do_set_active`, so the
    CLI, the API and the pages enforce the same last-owner rule under the same lock."""
    new_role = parse_role(role) if role is not None else None
    new_name = None
    if name is not None:
        new_name = name.strip()[:120]
        if not new_name:
            raise InvalidInput("a name cannot be empty", hint="leave it out to keep the name")
    # Locked before the owner count is read: two owners demoting or deactivating each
    # other at the same moment must not both succeed and leave no owner at all.
    _lock_users(session)
    user = get_user(session, email)
    if _leaves_no_owner(session, user, new_role, active):
        if active is False:
            message = "the last owner cannot be disabled"
        else:
            article = "an" if new_role is Role.AGENT else "a"
            message = f"the last owner cannot become {article} {new_role}"
        raise Conflict(
            f"{message}: {user.email} is the only active owner",
            code="last_owner",
            hint="make someone else owner first",
        )
    if new_name is not None:
        user.name = new_name
    if new_role is not None:
        user.role = new_role.value
    if active is not None:
        user.active = active
        if not active:
            session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
    session.flush()
    return user


def _leaves_no_owner(
    session: Session, user: UserRow, role: Role | None, active: bool | None
) -> bool:
    """True when the change would take away the last active owner."""
    if not user.active or user.role != Role.OWNER.value:
        return False  # not an active owner now: the count of active owners cannot drop
    stays = (role is None or role is Role.OWNER) and active is not False
    return not stays and _owner_count(session) <= 1


def _owner_count(session: Session) -> int:
    """Active owners, as the database holds them now (call after `_lock_users`)."""
    query = select(func.count()).where(UserRow.role == Role.OWNER.value, UserRow.active)
    return int(session.scalar(query) or 0)


# --- groups --------------------------------------------------------------------------


@atomic
def do_add_to_group(
    session: Session, email: str, group: str, *, now: datetime | None = None
) -> GroupRow:
    """Put a user in a group (the tier an escalation names), creating the group if new.

    The CLI's shortcut; `sopdesk.actions.groups` has the full set (tier, shared e-mail).
    """
    user = get_user(session, email)
    name = group.strip().lower()
    if len(name) > 80 or not _GROUP.fullmatch(name):
        raise InvalidInput(f"{group!r} is not a group name", hint="e.g. support-lead")
    row = session.scalar(select(GroupRow).where(GroupRow.name == name))
    if row is None:
        row = GroupRow(name=name, description="", created_at=resolve_now(now))
        session.add(row)
        session.flush()
    member = session.get(GroupMemberRow, (row.id, user.id))
    if member is None:
        session.add(GroupMemberRow(group_id=row.id, user_id=user.id))
    return row


# --- API tokens ----------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedToken:
    """A new token row and the token text, which exists only here: show it once."""

    row: ApiTokenRow
    token: str


@atomic
def do_create_token(
    session: Session,
    email: str,
    *,
    name: str = "",
    scopes: Iterable[str] = (),
    expires_days: int | None = None,
    now: datetime | None = None,
) -> CreatedToken:
    """A new API token for the user; it acts with the user's role, narrowed by `scopes`."""
    now = resolve_now(now)
    user = get_user(session, email)
    if not user.active:
        raise Conflict(f"{user.email} is disabled; enable the account first")
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise InvalidInput(f"a token lasts from 1 to {MAX_TOKEN_DAYS} days")
    new = tokens.generate_token()
    row = ApiTokenRow(
        user_id=user.id,
        name=(name or "").strip()[:80] or f"token {new.prefix}",
        prefix=new.prefix,
        token_hash=new.token_hash,
        scopes=list(normalise_scopes(scopes)),
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    return CreatedToken(row=row, token=new.token)


@atomic
def do_revoke_token(
    session: Session, token_id: int, *, user_id: int | None = None, now: datetime | None = None
) -> ApiTokenRow:
    """Revoke a token (for good). With `user_id`, only that user's own tokens."""
    row = session.get(ApiTokenRow, token_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = resolve_now(now)
    return row
