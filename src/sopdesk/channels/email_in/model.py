"""Values produced by inbound-email parsing: addresses, attachments, parsed and quarantined mail.

Plain frozen dataclasses and enums; no parsing logic lives here. Must not import
`store`, `web` or anything that does I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Bounds applied to every header-derived value so that nothing we return can carry a
# line break or grow without limit (RFC 5322 caps a line at 998 characters).
MAX_HEADER_CHARS = 998
MAX_NAME_CHARS = 256
MAX_ADDRESS_CHARS = 254
MAX_ADDRESSES = 200
MAX_MESSAGE_ID_CHARS = 250
MAX_REFERENCES = 50
MAX_HEADERS = 500
MAX_FILENAME_CHARS = 255
MAX_PARTS = 1000
MAX_DEPTH = 40
MAX_RAW_BYTES = 64 * 1024 * 1024

GENERATED_ID_DOMAIN = "generated.sopdesk.invalid"


class QuarantineReason(StrEnum):
    """Why a message was kept aside instead of being turned into a `ParsedEmail`."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    TOO_COMPLEX = "too_complex"
    NOT_AN_EMAIL = "not_an_email"
    NO_SENDER = "no_sender"
    PARSER_ERROR = "parser_error"


class AutoReplyKind(StrEnum):
    """What kind of machine wrote a message (see `autoreply.detect_auto_reply`)."""

    BOUNCE = "bounce"
    OUT_OF_OFFICE = "out_of_office"
    AUTO_REPLY = "auto_reply"
    AUTO_GENERATED = "auto_generated"
    MAILING_LIST = "mailing_list"
    BULK = "bulk"


@dataclass(frozen=True)
class Address:
    """A mailbox: display name (may be empty) and a normalised address.

    The domain is lower-case Unicode (IDNA labels decoded); the local part keeps its
    case, as RFC 5321 allows. Compare addresses with `key`.
    """

    name: str
    address: str

    @property
    def key(self) -> str:
        return self.address.casefold()

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]


@dataclass(frozen=True)
class Attachment:
    """One attached or inline part, with its bytes kept intact."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False, compare=False)
    content_id: str | None = None
    inline: bool = False

    @classmethod
    def of(
        cls,
        filename: str | None,
        content_type: str,
        data: bytes,
        *,
        content_id: str | None = None,
        inline: bool = False,
    ) -> Attachment:
        """The attachment of `data`, its size and SHA-256 worked out."""
        digest = hashlib.sha256(data).hexdigest()
        return cls(filename, content_type, len(data), digest, data, content_id, inline)


@dataclass(frozen=True)
class ParsedEmail:
    """An inbound message reduced to plain values. Header values are single-line and bounded.

    `message_id` and the ids in `in_reply_to` / `references` carry no angle brackets;
    `message_id_generated` says the sender gave none and ours is a hash of `raw`.
    `text` is the plain body (derived from the HTML when `text_from_html`); `html` is
    the HTML body as received, NOT sanitised: pass it through `sanitise_html` before
    showing it. `headers` holds every header (decoded, in order); `defects` lists what
    was wrong with the message; `raw` is the exact bytes received.
    """

    message_id: str
    message_id_generated: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_: Address
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    subject: str
    date: datetime | None
    received_at: datetime
    text: str
    html: str | None
    text_from_html: bool
    attachments: tuple[Attachment, ...]
    headers: tuple[tuple[str, str], ...]
    content_type: str
    defects: tuple[str, ...]
    raw: bytes = field(repr=False)

    @property
    def raw_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def header_values(self, name: str) -> tuple[str, ...]:
        """Every value of header `name` (case-insensitive), in message order."""
        wanted = name.lower()
        return tuple(v for k, v in self.headers if k.lower() == wanted)


@dataclass(frozen=True)
class Quarantined:
    """A message that could not be parsed into a case message; the raw bytes are kept."""

    raw: bytes = field(repr=False)
    reason: QuarantineReason
    received_at: datetime
    detail: str = ""

    @property
    def raw_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class ThreadKeys:
    """What a message offers for threading: candidate Message-IDs, best first, and a case token."""

    message_ids: tuple[str, ...]
    case_token: str | None
    auto_reply: AutoReplyKind | None = None
