"""Requests customers send through the public support form (`/support`).

Owns what the form offers (the request types a published SOP routes on the web), the
checks on what a visitor typed, the spam limits and the opening of the case. A request
becomes a case on the `web` channel, routed like any other: by the type the customer
chose, else by its words. Its files are kept as the first message's attachments.

A form is sent once however often the browser sends it: each form carries a random key,
stored as the case's external id (`support-form`, key), and a repeat answers with the
case the first one opened. Limits, over the `support_form_posts` table, so they hold
across processes: `PER_ADDRESS` requests per client address and `PER_EMAIL` per e-mail
address in their windows. Both addresses are stored hashed, and every row is deleted
once no window needs it (at the next request from anyone). Two requests racing past a
limit at the same instant may both get in; the limit is a brake on floods, not an exact
quota.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.actions.cases import CaseRequest, open_case
from sopdesk.actions.customers import normalise_email, valid_email
from sopdesk.actions.messages import MB, FileLimits, NewMessage
from sopdesk.actions.published import published_case_sops
from sopdesk.auth import ratelimit
from sopdesk.channels.email_in.model import Attachment
from sopdesk.errors import Conflict, InvalidInput, SopdeskError
from sopdesk.settings import Settings
from sopdesk.sop.model import Channel
from sopdesk.store.engine import begin_write
from sopdesk.store.tables import CaseRow, SupportFormPostRow

SOURCE = "support-form"
MAX_NAME = 200
MAX_SUBJECT = 200
MAX_MESSAGE = 20_000
MAX_FILES = 5
MAX_FILE_BYTES = 10 * MB
MAX_TOTAL_BYTES = 20 * MB
FILES = FileLimits(MAX_FILES, MAX_TOTAL_BYTES, each_bytes=MAX_FILE_BYTES)
PER_ADDRESS = ratelimit.Policy(limit=20, window=timedelta(hours=1))
PER_EMAIL = ratelimit.Policy(limit=5, window=timedelta(hours=1))
OTHER = ""
"""The menu's "Something else": no type, routing reads the request."""

_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


class TooManyRequests(SopdeskError):
    code = "too_many_requests"
    status = 429

    @property
    def retry_after(self) -> int:
        return int(self.data.get("retry_after", 1))


class FormErrors(InvalidInput):
    """What is wrong with a request, by form field (`errors`)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("please check the form", errors=errors)
        self.errors = errors


@dataclass(frozen=True)
class SupportRequest:
    """What a visitor sent: the form's fields, its files and key, and their address."""

    email: str
    subject: str
    message: str
    key: str
    ip: str
    name: str = ""
    case_type: str = OTHER
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SupportAnswer:
    reference: str
    repeated: bool
    """True when this form had been sent before (the first sending opened the case)."""


def request_types(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """The menu: `(case type, label)` from `settings.support_form_types`, in its order,
    for the types a published SOP starts on web cases."""
    routed = {
        meta.applies_to.case_type
        for meta, _ in published_case_sops(session)
        if meta.applies_to.case_type
        and (not meta.applies_to.channels or Channel.WEB in meta.applies_to.channels)
    }
    return [(kind, label) for kind, label in settings.support_form_types.items() if kind in routed]


def check_request(request: SupportRequest, types: Sequence[str]) -> None:
    """Raise `FormErrors` naming each field that is wrong and how to put it right."""
    errors: dict[str, str] = {}
    email = request.email.strip()
    if not email:
        errors["email"] = "Enter your e-mail address, so that we can answer you."
    elif not valid_email(email):
        errors["email"] = "Enter an e-mail address like name@example.com."
    if len(request.name) > MAX_NAME:
        errors["name"] = f"Keep your name under {MAX_NAME} characters."
    if not request.subject.strip():
        errors["subject"] = "Say in a few words what your request is about."
    elif len(request.subject) > MAX_SUBJECT:
        errors["subject"] = f"Keep the subject under {MAX_SUBJECT} characters."
    if not request.message.strip():
        errors["message"] = "Write your message."
    elif len(request.message) > MAX_MESSAGE:
        errors["message"] = f"Keep the message under {MAX_MESSAGE:,} characters."
    if request.case_type != OTHER and request.case_type not in types:
        errors["case_type"] = "Choose one of the kinds of request in the list."
    if problem := FILES.problem(request.files):
        errors["files"] = f"{problem[0].upper()}{problem[1:]}."
    for name, text in (("email", email), ("name", request.name), ("subject", request.subject)):
        if _has_control(text):
            errors.setdefault(name, "Remove the line breaks and control characters.")
    if errors:
        raise FormErrors(errors)


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


def email_key(email: str) -> str:
    """The stored form of an e-mail address for the limits (a hash: it is not kept)."""
    return hashlib.sha256(b"email|" + normalise_email(email).encode()).hexdigest()


def address_key(ip: str) -> str:
    """The stored form of a client address for the limits (a hash: it is not kept)."""
    return hashlib.sha256(b"ip|" + ip.encode()).hexdigest()


def do_send_support_request(
    session: Session,
    request: SupportRequest,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> SupportAnswer:
    """Open the case for a support-form request (one transaction), or find the one this
    form opened already. Raises `FormErrors` or `TooManyRequests`."""
    moment = resolve_now(now)
    check_request(request, [kind for kind, _ in request_types(session, settings)])
    if not _KEY.fullmatch(request.key):
        raise InvalidInput("this form has no valid key", hint="reload the page and try again")
    if (sent := _sent_before(session, request.key)) is not None:
        return SupportAnswer(sent, repeated=True)
    session.rollback()  # only reads so far
    try:
        begin_write(session)
        _check_limits(session, request, moment, settings)
        keys = {"ip_key": address_key(request.ip), "email_key": email_key(request.email)}
        post = SupportFormPostRow(**keys, at=moment)
        session.add(post)
        case = open_case(session, _case_request(request, settings), moment, settings)
        reference = case.reference
        session.commit()
    except IntegrityError:  # the same form, sent twice at the same instant
        session.rollback()
        sent = _sent_before(session, request.key)
        if sent is None:
            raise Conflict(
                "another request was saved at the same moment", hint="send the form again"
            ) from None
        return SupportAnswer(sent, repeated=True)
    except BaseException:
        session.rollback()
        raise
    return SupportAnswer(reference, repeated=False)


def _sent_before(session: Session, key: str) -> str | None:
    query = select(CaseRow.reference).where(
        CaseRow.external_source == SOURCE, CaseRow.external_id == key
    )
    return session.scalar(query)


def _check_limits(
    session: Session, request: SupportRequest, now: datetime, settings: Settings
) -> None:
    """Refuse (`TooManyRequests`) past either limit; deletes the rows no window needs."""
    oldest = now - max(PER_ADDRESS.window, PER_EMAIL.window)
    table = SupportFormPostRow
    key, ip_key = email_key(request.email), address_key(request.ip)
    session.execute(delete(table).where(table.at <= oldest))

    def times(where: object, policy: ratelimit.Policy) -> list[datetime]:
        query = select(table.at).where(where, table.at > now - policy.window)
        return [min(at, now) for at in session.scalars(query)]

    decision = ratelimit.combine(
        ratelimit.decide(times(table.ip_key == ip_key, PER_ADDRESS), now, PER_ADDRESS),
        ratelimit.decide(times(table.email_key == key, PER_EMAIL), now, PER_EMAIL),
    )
    if not decision.allowed:
        minutes = max(1, round(decision.retry_after / 60))
        write = f", or write to {settings.support_address}" if settings.support_address else ""
        raise TooManyRequests(
            f"We have had many requests from you in a short time. Please try again in "
            f"about {minutes} minute{'s' if minutes != 1 else ''}{write}.",
            retry_after=decision.retry_after,
        )


def _case_request(request: SupportRequest, settings: Settings) -> CaseRequest:
    subject = request.subject.strip()
    message = NewMessage(
        text=request.message.strip(),
        subject=subject,
        from_address=normalise_email(request.email),
        to_addresses=(settings.support_address,) if settings.support_address else (),
        attachments=request.files,
    )
    return CaseRequest(
        customer_email=request.email.strip(),
        customer_name=request.name.strip(),
        subject=subject,
        body=message.text,
        channel=Channel.WEB.value,
        case_type=request.case_type or None,
        message=message,
        external_source=SOURCE,
        external_id=request.key,
    )
