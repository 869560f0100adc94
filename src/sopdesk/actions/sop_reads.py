"""Reads of SOPs and their versions, for the shells (CLI, web) and the actions.

Plain queries; no writes. `sopdesk.actions.sops` re-exports them beside the `do_*`
actions, so callers import one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from sopdesk.actions.lifecycle import PUBLISHED
from sopdesk.errors import NotFound
from sopdesk.store.tables import Sop, SopEvent, SopVersion


def get_sop(session: Session, sop_id: str, *, lock: bool = False) -> Sop:
    """One SOP; `lock` takes its row lock (PostgreSQL) so writers to one SOP queue up."""
    sop = session.get(Sop, sop_id, with_for_update=lock)
    if sop is None:
        raise NotFound(f"no SOP with id {sop_id!r}", hint="'sopdesk sop list' shows the ids")
    return sop


def list_sops(session: Session, *, status: str | None = None) -> list[Sop]:
    query = select(Sop).order_by(Sop.id)
    if status is not None:
        query = query.where(Sop.status == status)
    return list(session.scalars(query))


def list_versions(session: Session, sop_id: str) -> list[SopVersion]:
    return list(get_sop(session, sop_id).versions)


def get_version(
    session: Session, sop_id: str, version: int | None = None, *, lock: bool = False
) -> SopVersion:
    """One version; without a number, the version in force, else the latest."""
    sop = get_sop(session, sop_id, lock=lock)
    number = version if version is not None else (sop.published_version or sop.latest_version)
    row = next((v for v in sop.versions if v.version == number), None)
    if row is None:
        raise NotFound(
            f"{sop_id} has no version {number}",
            hint=f"its versions are 1 to {sop.latest_version}",
        )
    return row


def list_events(session: Session, sop_id: str) -> list[SopEvent]:
    get_sop(session, sop_id)
    query = select(SopEvent).where(SopEvent.sop_id == sop_id).order_by(SopEvent.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class LibraryRow:
    """One line of the SOP library: the SOP, its version in force and its open version."""

    id: str
    title: str
    owner: str
    status: str
    published_version: int | None
    latest_version: int
    latest_status: str
    review_due: date | None
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "owner": self.owner,
            "status": self.status,
            "published_version": self.published_version,
            "latest_version": self.latest_version,
            "latest_status": self.latest_status,
            "review_due": self.review_due.isoformat() if self.review_due else None,
            "updated_at": self.updated_at.isoformat(),
        }


def list_library(session: Session) -> list[LibraryRow]:
    """Every SOP with its version in force and latest version, in one query."""
    published = aliased(SopVersion)
    latest = aliased(SopVersion)
    query = (
        select(Sop, published.review_due, latest.status)
        .outerjoin(
            published,
            (published.sop_id == Sop.id) & (published.version == Sop.published_version),
        )
        .join(latest, (latest.sop_id == Sop.id) & (latest.version == Sop.latest_version))
        .order_by(Sop.id)
    )
    return [
        LibraryRow(
            sop.id,
            sop.title,
            sop.owner,
            sop.status,
            sop.published_version,
            sop.latest_version,
            latest_status,
            review_due,
            sop.updated_at,
        )
        for sop, review_due, latest_status in session.execute(query)
    ]


@dataclass(frozen=True)
class DueReview:
    sop_id: str
    title: str
    owner: str
    version: int
    review_due: date
    days_overdue: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.sop_id,
            "title": self.title,
            "owner": self.owner,
            "version": self.version,
            "review_due": self.review_due.isoformat(),
            "days_overdue": self.days_overdue,
        }


def due_reviews(session: Session, today: date) -> list[DueReview]:
    """Published versions whose review date is `today` or earlier, most overdue first."""
    query = (
        select(SopVersion, Sop)
        .join(Sop, Sop.id == SopVersion.sop_id)
        .where(SopVersion.status == PUBLISHED.value, SopVersion.review_due <= today)
        .order_by(SopVersion.review_due, SopVersion.sop_id)
    )
    return [
        DueReview(
            sop.id, sop.title, sop.owner, row.version, row.review_due, (today - row.review_due).days
        )
        for row, sop in session.execute(query)
        if row.review_due is not None
    ]
