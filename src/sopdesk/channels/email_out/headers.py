"""Header values for outgoing mail, each validated before it reaches a message.

Line breaks or other control characters in any value raise `HeaderInjectionError`
(a customer-supplied subject or name must never add a `Bcc:`); addresses are parsed
strictly and their domains IDNA-encoded; Message-IDs are derived, not random, so a
retried send carries the same one. Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from email.headerregistry import Address

from sopdesk.channels.email_in import find_case_token, format_case_token
from sopdesk.channels.email_out.errors import (
    HeaderInjectionError,
    InvalidAddressError,
    InvalidMessageError,
)
from sopdesk.channels.email_out.model import Mailbox

MAX_SUBJECT_CHARS = 1000
MAX_NAME_CHARS = 200
MAX_MESSAGE_ID_CHARS = 250
MAX_REFERENCES = 20
MAX_KEY_CHARS = 200

# C0 controls except tab, DEL, and everything `str.splitlines` treats as a line break.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ID_TEXT = re.compile(r"[!-;=?-~]+")  # printable ASCII without blanks, < and >
_KEY = re.compile(r"[!-~]+")
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|odp|res)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def header_text(field: str, value: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """`value` unchanged if it is safe in header `field`; else `HeaderInjectionError`."""
    if _CONTROL.search(value):
        raise HeaderInjectionError(
            f"the {field} contains a line break or control character",
            hint="header values are one line; this is refused to prevent header injection",
            field=field,
        )
    if len(value) > limit:
        raise InvalidMessageError(f"the {field} is longer than {limit} characters", field=field)
    return value


def encode_domain(domain: str, field: str = "address") -> str:
    """A mail domain as lower-case ASCII, Unicode labels IDNA-encoded ("bücher.de" → xn--)."""
    header_text(field, domain, 255)
    text = domain.strip().rstrip(".")
    try:
        ascii_domain = text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidAddressError(f"{domain!r} is not a valid domain", field=field) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidAddressError(f"{domain!r} is not a valid mail domain", field=field)
    return ascii_domain


def split_address(address: str, field: str = "address") -> tuple[str, str]:
    """`(local part, ASCII domain)` of a bare address; strict RFC 5321 dot-atom local part."""
    header_text(field, address, 320)
    local, at, domain = address.strip().rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(local) > 64:
        raise InvalidAddressError(
            f"{address!r} is not an email address this server can send to",
            hint="an address is name@domain; quoted or non-ASCII mailbox names are refused",
            field=field,
        )
    return local, encode_domain(domain, field)


def header_address(mailbox: Mailbox, field: str) -> Address:
    """A validated `email.headerregistry.Address`; the display name is encoded on output."""
    name = header_text(f"{field} name", mailbox.name.strip(), MAX_NAME_CHARS)
    local, domain = split_address(mailbox.address, field)
    return Address(display_name=name, username=local, domain=domain)


def header_addresses(mailboxes: Iterable[Mailbox], field: str) -> list[Address]:
    """Validated addresses, de-duplicated by address (case-insensitive), in order."""
    seen: dict[str, Address] = {}
    for mailbox in mailboxes:
        address = header_address(mailbox, field)
        seen.setdefault(address.addr_spec.casefold(), address)
    return list(seen.values())


def message_id_for(idempotency_key: str, domain: str, secret: str) -> str:
    """Our Message-ID for an outbox key, without angle brackets: `sd.<hmac>@domain`.

    Deterministic, so a resend carries the same id; keyed with the server secret, so
    nobody can forge the id of a message we sent (inbound threading trusts these ids).
    """
    key = idempotency_key_text(idempotency_key)
    digest = hmac.new(secret.encode(), b"message-id\x00" + key.encode(), hashlib.sha256)
    token = base64.b32encode(digest.digest()[:20]).decode("ascii").lower()
    return f"sd.{token}@{encode_domain(domain, 'Message-ID domain')}"


def idempotency_key_text(key: str) -> str:
    """The key if it is 1–200 printable ASCII characters without blanks."""
    header_text("idempotency key", key, MAX_KEY_CHARS)
    if not _KEY.fullmatch(key):
        raise InvalidMessageError(
            "an idempotency key is 1 to 200 printable ASCII characters without blanks"
        )
    return key


def clean_message_id(value: str, field: str) -> str:
    """A Message-ID without <> and surrounding blanks; refuses anything unsafe."""
    header_text(field, value, MAX_MESSAGE_ID_CHARS + 2)
    text = value.strip().removeprefix("<").removesuffix(">")
    if not _ID_TEXT.fullmatch(text):
        raise InvalidMessageError(f"{value!r} is not a valid Message-ID", field=field)
    return text


def references_chain(
    references: Iterable[str], in_reply_to: str | None, own: str, limit: int = MAX_REFERENCES
) -> list[str]:
    """The References list: thread ids oldest first, parent last, no repeats, bounded.

    When longer than `limit`, the thread's first id is kept with the newest ones
    (RFC 5322 §3.6.4 trimming, as most mail clients do). Our own id never appears.
    """
    ids = [clean_message_id(ref, "References") for ref in references]
    parent = clean_message_id(in_reply_to, "In-Reply-To") if in_reply_to else None
    ordered = [i for i in dict.fromkeys(ids) if i not in (parent, own)]
    if parent is not None:
        ordered.append(parent)
    if len(ordered) > limit:
        ordered = ordered[:1] + ordered[-(limit - 1) :]
    return ordered


def subject_with_token(subject: str, case_reference: str | int | None) -> str:
    """The subject with the case token appended, unless that token is already there."""
    text = header_text("subject", subject).strip()
    if case_reference is None:
        return text
    try:
        token = format_case_token(case_reference)
    except ValueError as exc:
        raise InvalidMessageError(str(exc)) from None
    if find_case_token(text) == token.strip("[]"):
        return text
    return f"{text} {token}" if text else token


def reply_subject(subject: str) -> str:
    """ "Re: <subject>" with any stack of Re:/AW:/SV: prefixes collapsed to one."""
    rest = _REPLY_PREFIX.sub("", subject).strip()
    return f"Re: {rest}" if rest else "Re:"
