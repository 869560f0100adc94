"""SOP acknowledgements: "I have read this version", and who has not read the current one.

A user acknowledges a published version. What counts is the version in force: an
acknowledgement of it, or of an earlier version published since the last *material*
change, means the user has read what is in force. A material change (the `material`
flag of `do_publish`, the default) resets everyone; an editorial one does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.base import atomic, resolve_now
from sopdesk.actions.sop_reads import get_sop, get_version
from sopdesk.errors import Conflict, NotFound
from sopdesk.store.tables import SopAcknowledgementRow, SopVersion, UserRow


@dataclass(frozen=True)
class Reader:
    """A user and, if they have read the version in force, which version and when."""

    user_id: int
    email: str
    name: str
    version: int | None = None
    at: datetime | None = None


@atomic
def do_acknowledge(
    session: Session, sop_id: str, version: int, user_id: int, now: datetime | None = None
) -> SopAcknowledgementRow:
    """Record that `user_id` has read `version` of `sop_id` (idempotent: the first read stays).

    Only the version in force may be acknowledged: a draft is not yet the procedure and a
    superseded version no longer is.
    """
    row = get_version(session, sop_id, version)
    if session.get(UserRow, user_id) is None:
        raise NotFound(f"no user with id {user_id}")
    if row.sop.published_version != row.version:
        in_force = row.sop.published_version
        hint = f"acknowledge version {in_force}" if in_force else "publish a version first"
        raise Conflict(
            f"{sop_id} version {version} is {row.status}, not the version in force", hint=hint
        )
    found = session.scalar(
        select(SopAcknowledgementRow).where(
            SopAcknowledgementRow.sop_id == sop_id,
            SopAcknowledgementRow.version == version,
            SopAcknowledgementRow.user_id == user_id,
        )
    )
    if found is not None:
        return found
    ack = SopAcknowledgementRow(
        sop_id=sop_id, version=version, user_id=user_id, at=resolve_now(now)
    )
    session.add(ack)
    session.flush()
    return ack


def counting_from(versions: list[SopVersion], in_force: int) -> int:
    """The oldest version whose acknowledgement still counts for version `in_force`.

    Walk back from the version in force through the versions that were published,
    stopping at the newest material one (that change needs everyone to read again).
    """
    published = sorted(
        (v for v in versions if v.published_at is not None and v.version <= in_force),
        key=lambda v: v.version,
        reverse=True,
    )
    for row in published:
        if row.material:
            return row.version
    return in_force


def acknowledgement_status(session: Session, sop_id: str) -> tuple[list[Reader], list[Reader]]:
    """(read, not_read): the active users who have and have not read the version in force.

    Both lists are ordered by email. With no version in force, nobody has read it.
    """
    sop = get_sop(session, sop_id)
    users = list(session.scalars(select(UserRow).where(UserRow.active).order_by(UserRow.email)))
    if sop.published_version is None:
        return [], [Reader(u.id, u.email, u.name) for u in users]
    first = counting_from(list(sop.versions), sop.published_version)
    acks = session.scalars(
        select(SopAcknowledgementRow)
        .where(
            SopAcknowledgementRow.sop_id == sop_id,
            SopAcknowledgementRow.version >= first,
            SopAcknowledgementRow.version <= sop.published_version,
        )
        .order_by(SopAcknowledgementRow.version, SopAcknowledgementRow.at)
    )
    latest: dict[int, SopAcknowledgementRow] = {ack.user_id: ack for ack in acks}
    read, not_read = [], []
    for user in users:
        ack = latest.get(user.id)
        if ack is None:
            not_read.append(Reader(user.id, user.email, user.name))
        else:
            read.append(Reader(user.id, user.email, user.name, ack.version, ack.at))
    return read, not_read
