"""The SOP versions in force, parsed once per text: what routing and sequences run."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.case_state import pinned_front_matter
from sopdesk.actions.lifecycle import PUBLISHED
from sopdesk.actions.sops import get_sop
from sopdesk.errors import Conflict
from sopdesk.sop.model import FrontMatter, Trigger
from sopdesk.store.tables import Sop, SopVersion


@dataclass(frozen=True)
class Published:
    """A version in force: its id and number, and its parsed front matter."""

    id: int
    version: int
    content_hash: str
    meta: FrontMatter


_IN_FORCE = (
    select(SopVersion.id, SopVersion.version, SopVersion.content_hash)
    .join(Sop, Sop.id == SopVersion.sop_id)
    .where(SopVersion.version == Sop.published_version, SopVersion.status == PUBLISHED.value)
    .order_by(SopVersion.sop_id)
)
"""Built once: every case that arrives reads the versions in force."""


def published_sops(session: Session) -> list[tuple[FrontMatter, Published]]:
    """Every SOP's version in force, with its front matter, by SOP id.

    Reads only ids and hashes; the front matter of a published text is parsed once.
    """
    found = []
    for version_id, number, content_hash in session.execute(_IN_FORCE):
        meta = pinned_front_matter(session, version_id, content_hash)
        found.append((meta, Published(version_id, number, content_hash, meta)))
    return found


def published_case_sops(session: Session) -> list[tuple[FrontMatter, Published]]:
    """The versions in force whose SOPs start on new cases (`trigger: case`)."""
    return [(m, v) for m, v in published_sops(session) if m.applies_to.trigger is Trigger.CASE]


def published_for(session: Session, trigger: Trigger) -> list[tuple[FrontMatter, Published]]:
    return [(m, v) for m, v in published_sops(session) if m.applies_to.trigger is trigger]


def version_row(session: Session, published: Published) -> SopVersion:
    row = session.get(SopVersion, published.id)
    assert row is not None
    return row


def published_version(session: Session, sop_id: str) -> SopVersion:
    """The version of `sop_id` in force; `Conflict` if none is published."""
    sop = get_sop(session, sop_id)
    row = next((v for v in sop.versions if v.version == sop.published_version), None)
    if row is None:
        raise Conflict(
            f"{sop_id} has no published version to run",
            hint=f"publish it first: sopdesk sop publish {sop_id}",
        )
    return row
