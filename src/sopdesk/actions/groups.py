"""Groups: the tiers and teams that SOP escalation matrices name (`notify: [support-lead]`).

A group's name is an SOP identifier, so an SOP can name it exactly. A group may have a
tier (1..9, for reading the matrix), a shared mailbox, and members (users). Escalation
asks `escalation_contacts` who a role reaches, in one query, inside its own transaction:
nothing here is cached, so a member added a second ago is notified by the next notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.actions.published import published_sops
from sopdesk.actions.users import get_user, normalise_email
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.sop.model import ID_PATTERN, FrontMatter
from sopdesk.store.tables import GroupMemberRow, GroupRow, UserRow

MIN_TIER, MAX_TIER = 1, 9
MAX_NAME = 80
MAX_DESCRIPTION = 500
_NAME = re.compile(ID_PATTERN)


class _Keep:
    """The value of an edit's field that is not being changed (distinct from None)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    name: str
    active: bool


@dataclass(frozen=True)
class Group:
    """A group as pages and the API show it: its row's values and its members by email."""

    id: int
    name: str
    description: str
    tier: int | None
    email: str | None
    created_at: datetime
    members: tuple[Member, ...] = ()


@dataclass(frozen=True)
class Contacts:
    """Who a group reaches: its shared mailbox, and its active members' (address, name)."""

    name: str
    shared: str | None
    members: tuple[tuple[str, str], ...] = ()


# --- checks (pure) -------------------------------------------------------------------


def check_name(name: str) -> str:
    """A group name as SOPs spell roles: lower-case letters and digits joined by - or _."""
    value = (name or "").strip()
    if len(value) > MAX_NAME or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"{name[:MAX_NAME]!r} is not a group name",
            hint="lower-case letters and digits joined by - or _, as SOPs name roles "
            "(e.g. support-lead)",
        )
    return value


def check_tier(tier: int | str | None) -> int | None:
    """A tier from 1 to 9, or None (no tier). Text from a form is accepted."""
    if tier is None or (isinstance(tier, str) and not tier.strip()):
        return None
    try:
        value = int(tier)
    except ValueError:
        raise InvalidInput(f"the tier must be a whole number, not {tier!r}") from None
    if not MIN_TIER <= value <= MAX_TIER:
        raise InvalidInput(f"the tier must be from {MIN_TIER} to {MAX_TIER}, not {value}")
    return value


def check_shared_email(email: str | None) -> str | None:
    """The group's shared mailbox (stored lower-cased), or None when empty."""
    if email is None or not email.strip():
        return None
    return normalise_email(email)


def check_description(description: str) -> str:
    value = (description or "").strip()
    if len(value) > MAX_DESCRIPTION:
        raise InvalidInput(f"a description has at most {MAX_DESCRIPTION} characters")
    return value


def recipients(
    role: str, contacts: Mapping[str, Contacts], fallback: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Who a notice to `role` goes to, as (address, display name); empty: nobody.

    The group's shared mailbox if it has one, else each active member, else the
    address the environment gives the role (`SOPDESK_ROLE_ADDRESSES`).
    """
    group = contacts.get(role)
    if group is not None and group.shared:
        return [(group.shared, role)]
    if group is not None and group.members:
        return list(group.members)
    address = fallback.get(role)
    return [(address, role)] if address else []


def names_in_matrices(sops: Iterable[FrontMatter]) -> dict[str, list[str]]:
    """Every role an escalation matrix notifies or assigns, with the SOP ids naming it."""
    found: dict[str, set[str]] = {}
    for meta in sops:
        for level in meta.escalation:
            for role in (*level.notify, *([level.assign] if level.assign else [])):
                found.setdefault(role, set()).add(meta.id)
    return {role: sorted(ids) for role, ids in sorted(found.items())}


# --- reads ---------------------------------------------------------------------------


def escalation_contacts(session: Session, names: Iterable[str]) -> dict[str, Contacts]:
    """The groups among `names` with their shared mailbox and active members: one query.

    Disabled users are left out (they cannot act on a notice). A name with no group is
    absent from the answer.
    """
    wanted = sorted(set(names))
    if not wanted:
        return {}
    query = (
        select(GroupRow.name, GroupRow.email, UserRow.email, UserRow.name)
        .outerjoin(GroupMemberRow, GroupMemberRow.group_id == GroupRow.id)
        .outerjoin(UserRow, and_(UserRow.id == GroupMemberRow.user_id, UserRow.active))
        .where(GroupRow.name.in_(wanted))
        .order_by(GroupRow.name, UserRow.email)
    )
    shared: dict[str, str | None] = {}
    members: dict[str, list[tuple[str, str]]] = {}
    for group, mailbox, address, person in session.execute(query):
        shared[group] = mailbox
        people = members.setdefault(group, [])
        if address:
            people.append((address, person or address))
    return {name: Contacts(name, shared[name], tuple(members[name])) for name in shared}


def list_groups(session: Session) -> list[Group]:
    """Every group by name, with its members (two queries, whatever the count)."""
    rows = list(session.scalars(select(GroupRow).order_by(GroupRow.name)))
    query = (
        select(GroupMemberRow.group_id, UserRow.id, UserRow.email, UserRow.name, UserRow.active)
        .join(UserRow, UserRow.id == GroupMemberRow.user_id)
        .order_by(UserRow.email)
    )
    members: dict[int, list[Member]] = {}
    for group_id, user_id, email, name, active in session.execute(query):
        members.setdefault(group_id, []).append(Member(user_id, email, name, active))
    return [_group(row, members.get(row.id, [])) for row in rows]


def get_group(session: Session, name: str) -> Group:
    row = _row(session, name)
    query = (
        select(UserRow)
        .join(GroupMemberRow, GroupMemberRow.user_id == UserRow.id)
        .where(GroupMemberRow.group_id == row.id)
        .order_by(UserRow.email)
    )
    people = [Member(u.id, u.email, u.name, u.active) for u in session.scalars(query)]
    return _group(row, people)


@dataclass(frozen=True)
class Usage:
    """Which published SOPs name each group, and the names no group answers to."""

    by_group: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)


def escalation_usage(session: Session, groups: Iterable[Group]) -> Usage:
    """Read the versions in force: who their matrices name, split by whether a group exists."""
    named = names_in_matrices(meta for meta, _ in published_sops(session))
    existing = {group.name for group in groups}
    return Usage(
        by_group={name: ids for name, ids in named.items() if name in existing},
        missing={name: ids for name, ids in named.items() if name not in existing},
    )


def _row(session: Session, name: str) -> GroupRow:
    row = session.scalar(select(GroupRow).where(GroupRow.name == (name or "").strip()))
    if row is None:
        raise NotFound(f"no group named {name[:MAX_NAME]!r}", hint="see /settings/groups")
    return row


def _group(row: GroupRow, members: Iterable[Member]) -> Group:
    return Group(
        id=row.id,
        name=row.name,
        description=row.description or "",
        tier=row.tier,
        email=row.email,
        created_at=row.created_at,
        members=tuple(members),
    )


def _name_is_free(session: Session, name: str) -> None:
    if session.scalar(select(GroupRow.id).where(GroupRow.name == name)) is not None:
        raise Conflict(f"there is already a group named {name}")


# --- writes --------------------------------------------------------------------------


@atomic
def do_create_group(
    session: Session,
    name: str,
    *,
    description: str = "",
    tier: int | str | None = None,
    email: str | None = None,
    now: datetime | None = None,
) -> Group:
    """A new, empty group; 409 if the name is taken."""
    value = check_name(name)
    row = GroupRow(
        name=value,
        description=check_description(description),
        tier=check_tier(tier),
        email=check_shared_email(email),
        created_at=resolve_now(now),
    )
    _name_is_free(session, value)
    session.add(row)
    session.flush()
    return _group(row, [])


@atomic
def do_update_group(
    session: Session,
    name: str,
    *,
    new_name: str | _Keep = KEEP,
    description: str | _Keep = KEEP,
    tier: int | str | _Keep | None = KEEP,
    email: str | _Keep | None = KEEP,
) -> Group:
    """Change what is given (`KEEP` leaves a field alone; None clears tier or email).

    Renaming does not touch SOPs or cases: an SOP that names the old name reaches
    nobody in this group until it is edited (the settings page lists such names).
    """
    row = _row(session, name)
    if not isinstance(new_name, _Keep):
        value = check_name(new_name)
        if value != row.name:
            _name_is_free(session, value)
            row.name = value
    if not isinstance(description, _Keep):
        row.description = check_description(description)
    if not isinstance(tier, _Keep):
        row.tier = check_tier(tier)
    if not isinstance(email, _Keep):
        row.email = check_shared_email(email)
    session.flush()
    return get_group(session, row.name)


@atomic
def do_delete_group(session: Session, name: str) -> None:
    """Remove a group and its memberships (the users stay)."""
    row = _row(session, name)
    session.execute(delete(GroupMemberRow).where(GroupMemberRow.group_id == row.id))
    session.delete(row)


@atomic
def do_add_member(session: Session, name: str, email: str) -> Group:
    """Put an existing user in the group; adding someone twice changes nothing."""
    row = _row(session, name)
    user = get_user(session, email)
    if session.get(GroupMemberRow, (row.id, user.id)) is None:
        session.add(GroupMemberRow(group_id=row.id, user_id=user.id))
        session.flush()
    return get_group(session, row.name)


@atomic
def do_remove_member(session: Session, name: str, email: str) -> Group:
    """Take a user out of the group; 404 if they are not in it."""
    row = _row(session, name)
    user = get_user(session, email)
    member = session.get(GroupMemberRow, (row.id, user.id))
    if member is None:
        raise NotFound(f"{user.email} is not in group {row.name}")
    session.delete(member)
    session.flush()
    return get_group(session, row.name)
