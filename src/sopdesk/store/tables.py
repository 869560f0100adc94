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
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
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


# --- cases: customers, cases, messages, SOP runs, timers, outbox, the case log ---------
#
# The worker, the mail intake and the web read and write these through
# `sopdesk.actions`; the column names are a contract between them (docs/cases.md).


class CaseStatusValue(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class MessageKindValue(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"


class RunStatus(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class TimerStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    DEAD = "dead"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"  # never to be sent (unsubscribed, endpoint paused): not a failure


class OutboxKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class CustomerRow(Base):
    """A person who writes in; `email` is stored lowercased and is unique."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(40), default="standard")
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    purchases: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When mail to `email` bounced because the address does not exist (follow-ups stop)."""
    email_bounce: Mapped[str | None] = mapped_column(Text)
    """The bounce's words: the status and the far end's reply."""


class CustomerAddressRow(Base):
    """Another e-mail address of a customer: mail from it finds them. `merged_from` is
    the customer whose own address it was until they were merged into this one (links
    sent to that customer lead here). A customer's own `email` is never listed here."""

    __tablename__ = "customer_addresses"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    merged_from: Mapped[int | None] = mapped_column(Integer, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseRow(Base):
    """One customer case. `next_due_at` is the earliest open due instant (inbox order)."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(CaseStatusValue)})", name="status"),
        CheckConstraint(f"priority IN ({_in(Priority)})", name="priority"),
        UniqueConstraint("external_source", "external_id", name="uq_cases_external"),
        Index("ix_cases_status_next_due_at", "status", "next_due_at"),
        # the API's list order (next due instant, then id) over every case, and within one
        # assignee's cases; migration 0006
        Index("ix_cases_next_due_at_id", "next_due_at", "id"),
        Index("ix_cases_assignee_next_due_at_id", "assignee", "next_due_at", "id"),
        # open cases only (a few % of the table): the inbox views and their live counts
        Index(
            "ix_cases_open_assignee_due",
            "assignee",
            "next_due_at",
            "id",
            "status",
            sqlite_where=text("status NOT IN ('resolved', 'closed')"),
            postgresql_where=text("status NOT IN ('resolved', 'closed')"),
        ),
        Index(
            "ix_cases_open_due",
            "next_due_at",
            "id",
            "status",
            sqlite_where=text("status NOT IN ('resolved', 'closed')"),
            postgresql_where=text("status NOT IN ('resolved', 'closed')"),
        ),
        # the "unassigned" view in due order: PostgreSQL does not read `assignee IS NULL`
        # as an equality, so the assignee index above would leave it a sort
        Index(
            "ix_cases_open_unassigned_due",
            "next_due_at",
            "id",
            "status",
            sqlite_where=text("status NOT IN ('resolved', 'closed') AND assignee IS NULL"),
            postgresql_where=text("status NOT IN ('resolved', 'closed') AND assignee IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    channel: Mapped[str] = mapped_column(String(16), default="email")
    case_type: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatusValue.NEW.value)
    priority: Mapped[str] = mapped_column(String(8), default=Priority.NORMAL.value)
    assignee: Mapped[str | None] = mapped_column(String(120), index=True)
    group_name: Mapped[str | None] = mapped_column(String(120))
    sop_id: Mapped[str | None] = mapped_column(ForeignKey("sops.id", ondelete="SET NULL"))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    route: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    merged_into: Mapped[int | None] = mapped_column(Integer)
    """The case this one was merged into (this one is closed); replies to it go there."""

    customer: Mapped[CustomerRow] = relationship()


class MessageRow(Base):
    """A message on a case: inbound mail, an outbound reply, or an internal note.

    `text` is what the case shows (quoted history stripped for inbound mail);
    `full_text` and `raw` keep the original as received. `html` is unsanitised.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(MessageKindValue)})", name="kind"),
        Index("ix_messages_case_id_created_at", "case_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    author: Mapped[str | None] = mapped_column(String(200))
    from_address: Mapped[str | None] = mapped_column(String(320))
    to_addresses: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    subject: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    full_text: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    message_id: Mapped[str | None] = mapped_column(String(998), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Outbound: when the relay refused it for good, or a bounce came back for it."""
    delivery_error: Mapped[str | None] = mapped_column(Text)
    """Outbound: why it was not delivered (the relay's reply, or the bounce's status)."""

    attachments: Mapped[list[AttachmentRow]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="AttachmentRow.id"
    )


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read to download
    content_id: Mapped[str | None] = mapped_column(String(998))

    message: Mapped[MessageRow] = relationship(back_populates="attachments")


class QuarantineRow(Base):
    """Mail that could not be taken in, kept byte for byte; never dropped."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(40), default="email")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))


class SopRunRow(Base):
    """One SOP run on a case, pinned to a published version; `state` is the engine's."""

    __tablename__ = "sop_runs"
    __table_args__ = (CheckConstraint(f"status IN ({_in(RunStatus)})", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sop_version_id: Mapped[int] = mapped_column(ForeignKey("sop_versions.id"), index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.ACTIVE.value)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    sop_version: Mapped[SopVersion] = relationship()


class StepStateRow(Base):
    """Projection of a run's steps for queries and pages (the truth is `sop_runs.state`)."""

    __tablename__ = "step_states"
    __table_args__ = (Index("ix_step_states_status_due_at", "status", "due_at"),)

    run_id: Mapped[int] = mapped_column(
        ForeignKey("sop_runs.id", ondelete="CASCADE"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner: Mapped[str | None] = mapped_column(String(120))
    actor: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseEventRow(Base):
    """Append-only: everything that happened to a case or customer. Never updated."""

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_id_at", "case_id", "at"),
        Index("ix_case_events_customer_id_at", "customer_id", "at"),
        Index("ix_case_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class TimerRow(Base):
    """A wake-up for the worker, keyed by the engine decision key."""

    __tablename__ = "timers"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(TimerStatus)})", name="status"),
        Index("ix_timers_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=TimerStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxRow(Base):
    """A message to deliver, written with the change that causes it; `key` is unique."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(OutboxStatus)})", name="status"),
        CheckConstraint(f"kind IN ({_in(OutboxKind)})", name="kind"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_kind_status_next_attempt_at", "kind", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default=OutboxKind.EMAIL.value)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(998))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- identity: users, groups, API tokens, browser sessions, sign-in attempts ---------
# Written only by `sopdesk.actions.users` and `sopdesk.actions.signin`; the rules (who
# may do what, password and token checks) live in the pure `sopdesk.auth` package.

USER_ROLES = ("owner", "manager", "agent")  # = sopdesk.auth.permissions.Role
_USER_ROLES = ", ".join(f"'{role}'" for role in USER_ROLES)


class UserRow(Base):
    """A person who signs in: owner, manager or agent. The email is stored lower-cased."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({_USER_ROLES})", name="role"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GroupRow(Base):
    """A tier or team that SOP escalation matrices name (e.g. `support-lead`)."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tier: Mapped[int | None] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupMemberRow(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiTokenRow(Base):
    """An API token: its public prefix and the SHA-256 of the whole token, never the token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSessionRow(Base):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 is stored."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class SupportFormPostRow(Base):
    """A request sent through the public support form, kept for its spam limits (an
    hour): `ip_key` and `email_key` hash the client address and the e-mail address."""

    __tablename__ = "support_form_posts"
    __table_args__ = (
        Index("ix_support_form_posts_ip_key_at", "ip_key", "at"),
        Index("ix_support_form_posts_email_key_at", "email_key", "at"),
        Index("ix_support_form_posts_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ip_key: Mapped[str] = mapped_column(String(64))
    email_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInAttemptRow(Base):
    """A sign-in attempt being checked, or one that failed, for the rate limit.

    `key` hashes the email with the address.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_key_at", "key", "at"),
        Index("ix_sign_in_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- the REST API: SOP acknowledgements, idempotency keys ----------------------------
# Written by `sopdesk.actions.acknowledgements` and `sopdesk.actions.idempotency`.


class SopAcknowledgementRow(Base):
    """A user has read one published version of an SOP ("I have read this version")."""

    __tablename__ = "sop_acknowledgements"
    __table_args__ = (
        UniqueConstraint("sop_id", "version", "user_id", name="uq_sop_acknowledgements_read"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sop_id: Mapped[str] = mapped_column(ForeignKey("sops.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyKeyRow(Base):
    """The stored answer to a POST made with an `Idempotency-Key`, replayed on a retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookRow(Base):
    """An endpoint that wants events (`case.created`, ...), signed with its own secret.

    The secret is kept as is: signing needs it (HMAC). It is shown once, when created.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSONDocument)
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- customer answers: the survey behind the signed link e-mailed after a case ---------


class SurveyResponseRow(Base):
    """A customer's answer to a survey: about one case (one row per case), or, from a
    customer sequence's e-mail (onboarding, loyalty), about that SOP (one row per
    customer and SOP, `case_id` empty). Answering again replaces the row.

    `rating` is CSAT on 1..5; `resolved` is the customer's own word on whether the case
    solved the problem (first contact resolution is measured against it). `sop_id` is
    the SOP the answer is about (the case's at answer time, or the sequence's).
    """

    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("case_id IS NOT NULL OR customer_id IS NOT NULL", name="about"),
        Index(
            "uq_survey_responses_customer_sop",
            "customer_id",
            "sop_id",
            unique=True,
            sqlite_where=text("case_id IS NULL"),
            postgresql_where=text("case_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    sop_id: Mapped[str | None] = mapped_column(String(80))
    rating: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
