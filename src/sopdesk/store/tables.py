"""The tables, as typed SQLAlchemy 2 declarative classes.

A change here needs a migration in `store/migrations/versions/` (a test compares the
two on SQLite and PostgreSQL). Rows hold data, not rules: the status machine and the
immutability of published text live in `sopdesk.actions`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sopdesk.errors import Conflict
from sopdesk.store.types import JSONDocument, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class VersionStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    RETIRED = "retired"


class SopStatus(StrEnum):
    """The state of an SOP as a whole, derived from its versions by the actions layer."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    RETIRED = "retired"


_VERSION_STATUSES = ", ".join(f"'{s.value}'" for s in VersionStatus)
_SOP_STATUSES = ", ".join(f"'{s.value}'" for s in SopStatus)


class Sop(Base):
    """One SOP, identified by the `id` slug of its front matter."""

    __tablename__ = "sops"
    __table_args__ = (CheckConstraint(f"status IN ({_SOP_STATUSES})", name="status"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), index=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    versions: Mapped[list[SopVersion]] = relationship(
        back_populates="sop", order_by="SopVersion.version", cascade="all, delete-orphan"
    )


class SopVersion(Base):
    """One version of an SOP: its exact source text and its place in the workflow."""

    __tablename__ = "sop_versions"
    __table_args__ = (
        UniqueConstraint("sop_id", "version", name="uq_sop_versions_sop_version"),
        CheckConstraint(f"status IN ({_VERSION_STATUSES})", name="status"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_sop_versions_status_review_due", "status", "review_due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sop_id: Mapped[str] = mapped_column(ForeignKey("sops.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    parses: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    material: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approval_note: Mapped[str | None] = mapped_column(Text)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_cadence: Mapped[str | None] = mapped_column(String(40))
    review_due: Mapped[date | None] = mapped_column(Date)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sop: Mapped[Sop] = relationship(back_populates="versions")


class SopEvent(Base):
    """Append-only audit log: who did what to which SOP version, and when."""

    __tablename__ = "sop_events"
    __table_args__ = (Index("ix_sop_events_sop_id_at", "sop_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sop_id: Mapped[str] = mapped_column(ForeignKey("sops.id", ondelete="CASCADE"))
    version: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarRow(Base):
    """A business calendar's configuration, as `Calendar.to_config()` gives it."""

    __tablename__ = "calendars"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


FROZEN_STATUSES = frozenset({VersionStatus.PUBLISHED.value, VersionStatus.RETIRED.value})


@event.listens_for(SopVersion, "before_update")
def _published_text_is_immutable(_mapper: Any, _connection: Any, target: SopVersion) -> None:
    """Last line of defence: no code path may rewrite a published or retired version's text.

    The actions layer refuses first, with a helpful message; this guard catches any
    other writer (a script, a future module) before the UPDATE reaches the database.
    """
    state = inspect(target)
    if not (
        state.attrs.source.history.has_changes() or state.attrs.content_hash.history.has_changes()
    ):
        return
    status = state.attrs.status.history
    before = (status.deleted or status.unchanged or [target.status])[0]
    if before in FROZEN_STATUSES:
        raise Conflict(
            f"{target.sop_id} version {target.version} is {before}; its text cannot change",
            hint="create a new draft version instead",
        )
