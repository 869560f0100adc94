"""Request and response models of the /api/v1 cases, customers, SOPs and calendars.

Every field is typed and described, so the OpenAPI schema documents the API fully.
The `*_out` functions turn rows of `sopdesk.store.tables` into these models.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, model_validator

from sopdesk.actions.replies import MAX_REPLY_BYTES
from sopdesk.engine.report import ClockStatus
from sopdesk.sop.model import ID_PATTERN
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CaseStatusValue,
    CustomerRow,
    MessageRow,
    Priority,
    SopVersion,
    StepStateRow,
)
from sopdesk.web.api.errors import Problem


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def _plain_json(value: dict[str, Any]) -> dict[str, Any]:
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValueError("NaN and infinite numbers are not allowed") from None
    if "\\u0000" in text:
        raise ValueError("NUL characters are not allowed")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant is out of range") from None


Text = Annotated[str, AfterValidator(_no_nul)]
"""A string without NUL characters (PostgreSQL cannot store them)."""
JsonObject = Annotated[dict[str, Any], AfterValidator(_plain_json)]
"""A JSON object PostgreSQL can store: no NUL characters, no NaN."""
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An ISO 8601 instant with its offset (naive times are refused)."""

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Bad Request (e.g. a body that is not JSON)"},
    404: {"model": Problem, "description": "Not Found"},
    409: {"model": Problem, "description": "Conflict"},
}
"""What the case, customer, SOP and calendar operations add to `errors.PROBLEM_RESPONSES`."""

LIMIT_DESCRIPTION = "At most this many items (1 to 500)"
CURSOR_DESCRIPTION = "The `next_cursor` of the previous page; omit for the first page"


# --- customers ---------------------------------------------------------------------


class CustomerIn(BaseModel):
    """Who the case is for: found by email (case-insensitive) or created."""

    email: Text = Field(min_length=3, max_length=320, examples=["ann@customer.example"])
    name: Text = Field("", max_length=200, examples=["Ann Lee"])


class CustomerRef(BaseModel):
    id: int
    email: str
    name: str


class CustomerOut(CustomerRef):
    first_name: str
    last_name: str
    phone: str | None
    tier: str
    tags: list[str]
    purchases: int
    created_at: datetime
    updated_at: datetime
    unsubscribed_at: datetime | None = Field(
        None, description="When they unsubscribed from follow-ups and sequence messages"
    )
    email_bounced_at: datetime | None = Field(
        None,
        description="When mail to `email` bounced because the address does not exist; "
        "follow-ups and sequence messages stop until the address is changed or the mark "
        "is lifted (DELETE .../bounce)",
    )
    email_bounce: str | None = Field(None, description="The bounce's status and reply")


class CustomerNew(CustomerIn):
    """A customer to add. One that exists already (same email) is returned as it is."""

    phone: Text | None = Field(None, max_length=40, examples=["+44 20 7946 0000"])
    tier: Text | None = Field(None, max_length=40, examples=["gold"])
    tags: list[Annotated[Text, Field(max_length=60)]] = Field([], max_length=50)


class CustomerPatch(BaseModel):
    """The details to change; a field left out stays as it is. `tags` replaces the list;
    an empty `phone` clears it. A new `email` must not be another customer's."""

    email: Text | None = Field(
        None, min_length=3, max_length=320, examples=["ann.lee@customer.example"]
    )
    name: Text | None = Field(None, max_length=200, examples=["Ann Lee"])
    phone: Text | None = Field(None, max_length=40, examples=["+44 20 7946 0000"])
    tier: Text | None = Field(None, min_length=1, max_length=40, examples=["gold"])
    tags: list[Annotated[Text, Field(max_length=60)]] | None = Field(
        None, max_length=50, examples=[["vip", "sla"]]
    )


class PurchaseIn(BaseModel):
    """A purchase to count; the same `purchase_id` is counted once."""

    purchase_id: Text = Field(
        min_length=1, max_length=200, examples=["order-1042"], description="Your order number"
    )
    at: Instant | None = Field(
        None, description="When it was made (default: now); not in the future"
    )


class PurchaseOut(BaseModel):
    """The customer after the purchase, and what it started."""

    customer: CustomerOut
    counted: bool = Field(description="False when this purchase id was counted before")
    started: int = Field(ge=0, description="SOPs the purchase started (e.g. loyalty recognition)")


class CustomerList(BaseModel):
    """One page of customers; pass `next_cursor` as `cursor` for the next (null: last page)."""

    items: list[CustomerOut]
    next_cursor: str | None


# --- cases -------------------------------------------------------------------------


class CaseIn(BaseModel):
    """A new case. Routing picks the SOP from the published library unless `sop` is set."""

    customer: CustomerIn
    subject: Text = Field(max_length=500, examples=["Where is my refund?"])
    body: Text = Field("", max_length=100_000, description="The customer's message (plain text)")
    channel: Text = Field("api", max_length=16, description="email, web, api, phone, sms, chat…")
    case_type: Text | None = Field(None, max_length=80, description="e.g. return; skips guessing")
    fields: JsonObject = Field(
        default_factory=dict, description="Case fields the SOP's conditions read"
    )
    priority: Priority = Priority.NORMAL
    sop: Text | None = Field(None, max_length=80, description="Run this SOP (skips routing)")


class CaseSummary(BaseModel):
    """A case as the list shows it."""

    id: int
    reference: str = Field(examples=["SD-1042"])
    status: CaseStatusValue
    priority: Priority
    subject: str
    channel: str
    case_type: str | None
    customer: CustomerRef
    sop: str | None = Field(description="The SOP the case runs; null while in triage")
    assignee: str | None
    group: str | None
    tags: list[str]
    opened_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    next_due_at: datetime | None = Field(description="The earliest open due instant")


class CaseList(BaseModel):
    """One page of cases, most urgent first; `next_cursor` null on the last page."""

    items: list[CaseSummary]
    next_cursor: str | None


class StepOut(BaseModel):
    step_id: str
    title: str | None
    status: str = Field(description="e.g. pending, active, done, skipped, overridden")
    owner: str | None
    due_at: datetime | None
    actor: str | None = Field(description="Who completed, skipped or overrode it")
    reason: str | None
    completed_at: datetime | None


class AttachmentOut(BaseModel):
    """A file that came with a message; its bytes are at `GET /cases/{ref}/attachments/{id}`."""

    id: int
    filename: str
    content_type: str
    size: int = Field(description="Bytes")
    sha256: str


class MessageOut(BaseModel):
    id: int
    kind: str = Field(description="inbound, outbound or note")
    author: str | None
    from_address: str | None
    to_addresses: list[str]
    subject: str
    text: str
    created_at: datetime
    sent_at: datetime | None = Field(description="Outbound: when the relay took it")
    delivery_failed_at: datetime | None = Field(
        None, description="Outbound: when the relay refused it for good or a bounce came back"
    )
    delivery_error: str | None = Field(
        None, description="Outbound: why it was not delivered, in the relay's or bounce's words"
    )
    attachments: list[AttachmentOut] = Field(default_factory=list)


class ClockOut(BaseModel):
    """One clock of the case: a step's time limit or an SLA metric target."""

    target: str = Field(examples=["step:refund", "metric:first_response"])
    kind: str
    name: str
    started_at: datetime
    due_at: datetime | None
    open: bool = Field(description="It can still breach")
    breached: bool
    used_minutes: int
    remaining_minutes: int = Field(description="Negative once overdue")


class EventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class CaseDetail(CaseSummary):
    """A case with its thread, checklist, clocks and event log."""

    fields: dict[str, Any]
    route: dict[str, Any] = Field(description="Why the case went where it went")
    merged_into: str | None = Field(
        None, description="The case this one was merged into (this one is closed)"
    )
    sop_version: int | None
    steps: list[StepOut]
    messages: list[MessageOut]
    clocks: list[ClockOut]
    events: list[EventOut]


MAX_REPLY_BASE64 = -(-MAX_REPLY_BYTES // 3) * 4
"""The base64 length of the most a reply may carry (`replies.MAX_REPLY_BYTES`)."""


class FileIn(BaseModel):
    """A file to send, its bytes in base64 (RFC 4648, standard alphabet)."""

    filename: Text = Field(min_length=1, max_length=255, examples=["return-label.pdf"])
    content_type: Text = Field(
        "application/octet-stream", max_length=127, examples=["application/pdf"]
    )
    content_base64: str = Field(min_length=1, max_length=MAX_REPLY_BASE64)


class ReplyIn(BaseModel):
    """A public reply: typed text, or one of the SOP's templates filled in."""

    text: Text = Field("", max_length=100_000)
    template_id: Text | None = Field(None, max_length=80, description="A template of the SOP")
    status: CaseStatusValue | None = Field(
        None, description="Move the case after the reply, e.g. pending"
    )
    attachments: list[FileIn] = Field(
        [], max_length=10, description="Files sent with the reply: 15 MB in all at most"
    )

    @model_validator(mode="after")
    def _files_fit(self) -> ReplyIn:
        """Refuse before decoding what cannot fit in 15 MB (base64: 4 characters a 3 bytes)."""
        if sum(len(item.content_base64) for item in self.attachments) > MAX_REPLY_BASE64:
            raise ValueError("the attachments come to more than 15 MB")
        return self


class NoteIn(BaseModel):
    text: Text = Field(min_length=1, max_length=100_000)


class ReasonIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=2000, description="Why; kept in the case log")


class EventIn(BaseModel):
    at: Instant | None = Field(None, description="When it happened (default: now)")


class StatusIn(BaseModel):
    status: CaseStatusValue


class AssignIn(BaseModel):
    assignee: Text | None = Field(max_length=120, description="An agent; null to unassign")


class CustomerDetail(CustomerOut):
    """A customer with their other addresses, every case (newest first) and their event
    timeline."""

    addresses: list[str] = Field(description="Their other addresses; mail from them finds them")
    cases: list[CaseSummary]
    events: list[EventOut]


class StartSopIn(BaseModel):
    """The SOP to run on a case in triage: its id; the version in force runs."""

    sop: Text = Field(
        max_length=80, pattern=ID_PATTERN, examples=["returns-and-refunds"], description="SOP id"
    )


class MergeCaseIn(BaseModel):
    """The case to merge into this one: same customer, not closed."""

    case: Text = Field(
        pattern=r"^([Ss][Dd]-)?[0-9]{1,9}$", examples=["SD-1043"], description="Reference or id"
    )


class AddressIn(BaseModel):
    """Another e-mail address of the customer; it must be nobody else's."""

    address: Text = Field(min_length=3, max_length=320, examples=["ann@home.example"])


class AddressesOut(BaseModel):
    """A customer's own address and their other addresses."""

    customer_id: int
    email: str
    addresses: list[str]


class MergeIn(BaseModel):
    """The customer to merge into this one, by id or e-mail address."""

    customer: Text = Field(
        min_length=1, max_length=320, examples=["ann@home.example"], description="Id or email"
    )


class MergeOut(BaseModel):
    """The kept customer after the merge, and what moved to them."""

    customer: CustomerOut
    merged: CustomerRef
    cases: int = Field(description="The merged customer's cases, now this customer's")
    addresses: list[str] = Field(description="The kept customer's other addresses")


# --- SOPs --------------------------------------------------------------------------


class SopSummary(BaseModel):
    id: str
    title: str
    owner: str
    status: str = Field(description="draft, in_review, published or retired")
    published_version: int | None
    latest_version: int
    latest_status: str
    review_due: date | None
    updated_at: datetime


class VersionMeta(BaseModel):
    sop_id: str
    version: int
    title: str | None
    status: str
    parses: bool
    author: str
    note: str
    material: bool
    content_hash: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    approved_by: str | None
    retired_at: datetime | None
    review_due: date | None


class VersionOut(VersionMeta):
    """A version with its exact Markdown source."""

    source: str


class SopDetail(SopSummary):
    current: VersionOut | None = Field(description="The version in force, if any")
    versions: list[VersionMeta]


class SopTextIn(BaseModel):
    text: Text = Field(min_length=1, max_length=500_000, description="The SOP file (Markdown)")
    note: Text = Field("", max_length=2000)


class DraftIn(BaseModel):
    text: Text = Field(min_length=1, max_length=500_000)
    note: Text | None = Field(None, max_length=2000)


class LintIn(BaseModel):
    text: Text = Field(max_length=500_000)


class FindingOut(BaseModel):
    code: str = Field(examples=["SOP104"])
    severity: str = Field(description="error, warning or info")
    line: int
    column: int
    message: str
    hint: str


class LintOut(BaseModel):
    parses: bool
    errors: int
    warnings: int
    score: int = Field(description="Quality score, 0 to 100")
    score_reasons: list[str]
    findings: list[FindingOut]


class WorkflowIn(BaseModel):
    version: int | None = Field(None, ge=1, description="Default: the open draft or review")
    note: Text = Field("", max_length=2000)


class PublishIn(WorkflowIn):
    material: bool = Field(
        True, description="A material change asks everyone to acknowledge it again"
    )


class DiffOut(BaseModel):
    sop_id: str
    from_version: int
    to_version: int
    identical: bool
    changes: list[str] = Field(description="What changed in meaning")
    notes: list[str]
    unified: str = Field(description="A unified diff of the text")


class AcknowledgementOut(BaseModel):
    sop_id: str
    version: int
    user_id: int
    at: datetime


class ReaderOut(BaseModel):
    user_id: int
    email: str
    name: str
    version: int | None = Field(description="The version they acknowledged")
    at: datetime | None


class AcknowledgementStatus(BaseModel):
    """Who has and has not read the version in force."""

    sop_id: str
    version: int | None = Field(description="The version in force")
    counting_from: int | None = Field(
        description="Acknowledgements of this version or later count (the last material one)"
    )
    read: list[ReaderOut]
    not_read: list[ReaderOut]


# --- calendars ---------------------------------------------------------------------


class CalendarOut(BaseModel):
    name: str
    config: dict[str, Any] = Field(
        description="timezone, hours, holidays, closed, closed_yearly, open",
        examples=[{"timezone": "Europe/London", "hours": "mon-fri 09:00-17:30"}],
    )
    created_at: datetime
    updated_at: datetime


# --- builders ------------------------------------------------------------------------


def customer_ref(row: CustomerRow) -> CustomerRef:
    return CustomerRef(id=row.id, email=row.email, name=row.name)


def customer_out(row: CustomerRow) -> CustomerOut:
    return CustomerOut(
        id=row.id,
        email=row.email,
        name=row.name,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        tier=row.tier,
        tags=list(row.tags or []),
        purchases=row.purchases,
        created_at=row.created_at,
        updated_at=row.updated_at,
        unsubscribed_at=row.unsubscribed_at,
        email_bounced_at=row.email_bounced_at,
        email_bounce=row.email_bounce,
    )


def case_fields(row: CaseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "reference": row.reference or f"SD-{row.id}",
        "status": row.status,
        "priority": row.priority,
        "subject": row.subject,
        "channel": row.channel,
        "case_type": row.case_type,
        "customer": customer_ref(row.customer),
        "sop": row.sop_id,
        "assignee": row.assignee,
        "group": row.group_name,
        "tags": list(row.tags or []),
        "opened_at": row.opened_at,
        "updated_at": row.updated_at,
        "first_response_at": row.first_response_at,
        "resolved_at": row.resolved_at,
        "next_due_at": row.next_due_at,
    }


def case_summary(row: CaseRow) -> CaseSummary:
    return CaseSummary(**case_fields(row))


def step_out(row: StepStateRow, titles: dict[str, str]) -> StepOut:
    return StepOut(
        step_id=row.step_id,
        title=titles.get(row.step_id),
        status=row.status,
        owner=row.owner,
        due_at=row.due_at,
        actor=row.actor,
        reason=row.reason,
        completed_at=row.completed_at,
    )


def message_out(row: MessageRow) -> MessageOut:
    return MessageOut(
        id=row.id,
        kind=row.kind,
        author=row.author,
        from_address=row.from_address,
        to_addresses=list(row.to_addresses or []),
        subject=row.subject,
        text=row.text,
        created_at=row.created_at,
        sent_at=row.sent_at,
        delivery_failed_at=row.delivery_failed_at,
        delivery_error=row.delivery_error,
        attachments=[
            AttachmentOut(
                id=a.id,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                sha256=a.sha256,
            )
            for a in row.attachments
        ],
    )


def clock_out(clock: ClockStatus) -> ClockOut:
    return ClockOut(
        target=clock.target,
        kind=clock.kind,
        name=clock.name,
        started_at=clock.started_at,
        due_at=clock.due_at,
        open=clock.open,
        breached=clock.breached,
        used_minutes=clock.used_minutes,
        remaining_minutes=clock.remaining_minutes,
    )


def event_out(row: CaseEventRow) -> EventOut:
    return EventOut(id=row.id, kind=row.kind, at=row.at, actor=row.actor, data=dict(row.data))


def version_fields(row: SopVersion) -> dict[str, Any]:
    return {
        "sop_id": row.sop_id,
        "version": row.version,
        "title": row.title,
        "status": row.status,
        "parses": row.parses,
        "author": row.author,
        "note": row.note or "",
        "material": row.material,
        "content_hash": row.content_hash,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "submitted_at": row.submitted_at,
        "published_at": row.published_at,
        "approved_by": row.approved_by,
        "retired_at": row.retired_at,
        "review_due": row.review_due,
    }


def version_meta(row: SopVersion) -> VersionMeta:
    return VersionMeta(**version_fields(row))


def version_out(row: SopVersion) -> VersionOut:
    return VersionOut(**version_fields(row), source=row.source)
