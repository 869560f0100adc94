"""What a message template sees, and the outbox payload a rendered message becomes.

`template_context` builds the names of `sop.templating.TEMPLATE_CONTEXT` from stored
rows and the company settings, never handing ORM rows to Jinja2: `case`, `customer`,
`agent`, `company`, `sop`, `step` are plain dicts, and `links` holds signed survey and
review links (`sopdesk.links`). `email_payload` renders an SOP template in the sandbox
into the outbox payload; `outgoing_email` turns a payload back into the
`OutgoingEmail` the worker composes and sends; `queue_email` queues its outbox row (in
one statement with the others inside `buffered_outbox`). The payload shape is
documented in docs/cases.md ("The outbox payload").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from sopdesk.actions.base import collect, collecting
from sopdesk.channels.email_out import (
    Mailbox,
    OutgoingEmail,
    message_id_for,
    render_message,
    reply_subject,
)
from sopdesk.links import link_url, sign_link
from sopdesk.settings import Settings
from sopdesk.sop.model import FrontMatter, Template
from sopdesk.store.queries import insert_into
from sopdesk.store.tables import (
    CaseRow,
    CustomerRow,
    MessageKindValue,
    MessageRow,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
)

TEAM_NAME = "The support team"


class Links(Mapping[str, str]):
    """`links.<name>`: the named links, and the case page for a name nobody configured.

    A template may name any link (`links.return_label`); an unconfigured one points the
    customer at their case page instead of failing the send. The signed ones are signed
    when a template first names them: most messages name one or two of them, or none.
    """

    def __init__(
        self,
        known: Mapping[str, str],
        fallback: str,
        signed: Mapping[str, Callable[[], str]] | None = None,
    ) -> None:
        self._known = dict(known)
        self._unsigned = {k: sign for k, sign in (signed or {}).items() if k not in known}
        self.fallback = fallback

    def __getitem__(self, key: str) -> str:
        found = self._known.get(key)
        if found is None:
            sign = self._unsigned.pop(key, None)
            if sign is None:
                return self.fallback
            found = self._known[key] = sign()
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._known or key in self._unsigned

    def __iter__(self) -> Iterator[str]:
        return iter([*self._known, *self._unsigned])

    def __len__(self) -> int:
        return len(self._known) + len(self._unsigned)


@dataclass(frozen=True)
class Agent:
    """Who a message is from: a person's name, or the team for automatic sends."""

    name: str = TEAM_NAME
    email: str = ""
    role: str = ""

    def as_context(self, signature: str) -> dict[str, Any]:
        first = self.name.split()[0] if self.name.strip() and self.name != TEAM_NAME else ""
        return {
            "name": self.name,
            "first_name": first or self.name,
            "email": self.email,
            "role": self.role,
            "signature": signature,
        }


def company_context(settings: Settings) -> dict[str, Any]:
    return {
        "name": settings.company_name,
        "email": settings.support_address,
        "phone": settings.company_phone,
        "website": settings.company_website,
        "address": "",
        "hours": settings.company_hours,
        "signature": f"{settings.company_name} customer service",
    }


def customer_context(customer: CustomerRow, cases_count: int = 0) -> dict[str, Any]:
    return {
        "name": customer.name,
        "first_name": customer.first_name or customer.name or "there",
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone or "",
        "company": "",
        "language": "en",
        "tier": customer.tier,
        "tags": list(customer.tags or []),
        "cases_count": cases_count,
        "purchases": customer.purchases,
        "lifetime_value": 0,
        "first_seen_at": customer.created_at,
        "last_purchase_at": None,
    }


def case_links(
    settings: Settings,
    reference: str,
    now: datetime,
    *,
    customer_id: int | None = None,
    sop_id: str | None = None,
) -> Links:
    """Signed survey, review and case links for a case, or for a customer with no case
    (a sequence's e-mail: its survey is about `sop_id`)."""
    ttl = timedelta(days=settings.link_ttl_days)
    payload: dict[str, Any] = {"case": reference}
    if not reference:
        payload = {"customer": customer_id, **({"sop": sop_id} if sop_id else {})}

    def signer(purpose: str) -> Callable[[], str]:
        def signed() -> str:
            token = sign_link(settings.secret_key, purpose, payload, now, ttl)
            return link_url(settings.public_base_url, purpose, token)

        return signed

    page = signer("case")()
    known = {"case": page, "reply": page, **settings.template_links}
    if settings.review_url:
        known.setdefault("review", settings.review_url)
    lazy = {purpose: signer(purpose) for purpose in ("survey", "review", "unsubscribe")}
    return Links(known, page, lazy)


def case_context(
    case: CaseRow, description: str, now: datetime, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": case.id,
        "reference": case.reference or "",
        "subject": case.subject,
        "description": description,
        "type": case.case_type,
        "channel": case.channel,
        "priority": case.priority,
        "status": case.status,
        "tags": list(case.tags or []),
        "fields": dict(case.fields or {}),
        "reopened": case.reopen_count > 0,
        "reopen_count": case.reopen_count,
        "assignee": case.assignee,
        "opened_at": case.opened_at,
        "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
        "due_at": case.next_due_at,
        **(extra or {}),
    }


@dataclass(frozen=True)
class Rendering:
    """Everything a template is rendered with, gathered by the caller."""

    settings: Settings
    now: datetime
    customer: dict[str, Any]
    case: dict[str, Any]
    links: Links
    sop: FrontMatter | None = None
    sop_version: int | None = None
    agent: Agent = Agent()
    step: dict[str, Any] | None = None

    def context(self) -> dict[str, Any]:
        sop = self.sop
        return {
            "case": self.case,
            "customer": self.customer,
            "agent": self.agent.as_context(company_context(self.settings)["signature"]),
            "company": company_context(self.settings),
            "links": self.links,
            "sop": {
                "id": sop.id if sop else "",
                "title": sop.title if sop else "",
                "version": self.sop_version,
                "owner": sop.owner if sop else "",
            },
            "step": self.step or {},
        }


@dataclass(frozen=True)
class Thread:
    """Threading data for an outgoing message: the parent and the thread's ids."""

    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnownConversation:
    """What a case opened in this transaction holds, known without reading it back.

    Rendering and threading its first e-mail then need no query: the description is
    the customer's first message, the thread is that message alone, and a customer
    created with the case has one case (`customer_cases` None: count them).
    """

    description: str
    thread: Thread
    customer_cases: int | None

    @classmethod
    def of_new_case(
        cls, first_message: MessageRow | None, *, new_customer: bool
    ) -> KnownConversation:
        inbound = first_message is not None and first_message.kind == MessageKindValue.INBOUND.value
        mid = first_message.message_id if first_message is not None else None
        return cls(
            description=case_description([first_message] if first_message else []),
            thread=Thread(mid if inbound else None, (mid,) if mid else ()),
            customer_cases=1 if new_customer else None,
        )


def case_description(messages: Iterable[MessageRow]) -> str:
    """A case's description as templates see it (`case.description`): the text of its
    first inbound message, `messages` being in thread order (`outbound.description_of`
    reads the same from the database)."""
    first = next((m for m in messages if m.kind == MessageKindValue.INBOUND.value), None)
    return (first.text or "") if first is not None else ""


def message_id_domain(settings: Settings) -> str:
    return settings.support_address.rpartition("@")[2] or "localhost"


def own_message_id(settings: Settings, key: str) -> str:
    """The Message-ID the worker's `compose` will give the outbox row with `key`."""
    return message_id_for(key, message_id_domain(settings), settings.secret_key)


def email_payload(
    *,
    key: str,
    subject: str,
    text: str,
    html: str | None,
    to: Sequence[Mailbox],
    settings: Settings,
    thread: Thread,
    case_reference: str | None,
    automatic: bool,
    template: str | None = None,
    message_row_id: int | None = None,
    unsubscribe_url: str | None = None,
    attachments: Sequence[int] = (),
) -> dict[str, Any]:
    """The outbox payload of one e-mail; `outgoing_email` reads it back.

    `unsubscribe_url` (follow-ups and sequences, never replies) becomes the
    List-Unsubscribe header, with RFC 8058 one-click for an http(s) link.
    `attachments` are the ids of the `attachments` rows sent with it (on the message
    row `message_row_id`); the worker reads their bytes when it sends.
    """
    extra = {"attachments": list(attachments)} if attachments else {}
    return extra | {
        "template": template,
        "sender": {"address": settings.support_address, "name": settings.company_name},
        "to": [{"address": m.address, "name": m.name} for m in to],
        "cc": [],
        "subject": subject,
        "text": text,
        "html": html,
        "in_reply_to": thread.in_reply_to,
        "references": list(thread.references),
        "case_reference": case_reference,
        "automatic": automatic,
        "message_id_domain": message_id_domain(settings),
        "message_id": own_message_id(settings, key),
        "message_row_id": message_row_id,
        "unsubscribe_url": unsubscribe_url,
    }


def email_outbox_row(
    key: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    case_id: int | None = None,
    customer_id: int | None = None,
) -> OutboxRow:
    """The pending outbox row that sends the e-mail `payload` (`email_payload`), due now."""
    return OutboxRow(**email_outbox_values(key, payload, now, case_id, customer_id))


def email_outbox_values(
    key: str,
    payload: dict[str, Any],
    now: datetime,
    case_id: int | None = None,
    customer_id: int | None = None,
) -> dict[str, Any]:
    """`email_outbox_row`'s columns."""
    return {
        "key": key,
        "case_id": case_id,
        "customer_id": customer_id,
        "kind": OutboxKind.EMAIL.value,
        "payload": payload,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "message_id": payload["message_id"],
    }


_OUTBOX_BUFFER = "sopdesk.outbox_rows"


def queue_email(session: Session, values: dict[str, Any]) -> None:
    """Add the pending outbox row `values` (`email_outbox_values`) to the transaction.

    Inside `buffered_outbox` it is kept and written with the block's other rows in one
    statement; otherwise it is added to the session.
    """
    if not collect(session, _OUTBOX_BUFFER, values):
        session.add(OutboxRow(**values))


@contextmanager
def buffered_outbox(session: Session) -> Iterator[None]:
    """Collect the e-mails queued inside the block and insert them in one statement.

    For an action that queues many (the worker's batch of timers: escalation notices
    for a slice of cases). Nothing reads the rows back before the transaction ends:
    whether a key is already queued is answered by the case's `outbox_keys`. On an
    error the buffer is dropped with the transaction.
    """
    with collecting(session, _OUTBOX_BUFFER) as rows:
        yield
    if rows:
        session.execute(insert_into(OutboxRow.__table__), rows)


def render_template_payload(
    template: Template, rendering: Rendering, fallback_subject: str
) -> tuple[str, str, str]:
    """`(subject, text, html)` of an SOP template; raises `TemplateRenderError`."""
    subject, text, html = render_message(
        template, rendering.context(), fallback_subject=reply_subject(fallback_subject)
    )
    return subject, text, html


def outgoing_email(key: str, payload: Mapping[str, Any]) -> OutgoingEmail:
    """The `OutgoingEmail` for an outbox row: what the worker passes to `compose`."""

    def boxes(items: Sequence[Mapping[str, str]]) -> tuple[Mailbox, ...]:
        return tuple(Mailbox(item["address"], item.get("name", "")) for item in items)

    sender = payload["sender"]
    return OutgoingEmail(
        idempotency_key=key,
        sender=Mailbox(sender["address"], sender.get("name", "")),
        to=boxes(payload["to"]),
        cc=boxes(payload.get("cc", [])),
        subject=payload["subject"],
        text=payload["text"],
        html=payload.get("html"),
        in_reply_to=payload.get("in_reply_to"),
        references=tuple(payload.get("references", [])),
        case_reference=payload.get("case_reference"),
        automatic=bool(payload.get("automatic")),
        message_id_domain=payload.get("message_id_domain"),
        unsubscribe_url=payload.get("unsubscribe_url"),
    )
