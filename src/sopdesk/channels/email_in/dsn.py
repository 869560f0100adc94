"""What a bounce says: which recipients failed, how, and which of our messages it returns.

A delivery status notification (RFC 3464) is a `multipart/report` whose
`message/delivery-status` part holds one header block about the report, then one per
recipient (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`), and usually the
returned message or its headers. Exim and some others send no report part but name the
failed recipients in `X-Failed-Recipients`; that is read too.

`Action: failed` with a 5.x.x status (or none) is a permanent failure: the message will
never arrive. `Action: delayed`, or any 4.x.x status, is news that the sending server
is still trying; callers keep it but do not mark the message failed.

Only some permanent failures say the *address* is wrong (`address_gone`): the mailbox or
domain does not exist or was disabled (RFC 3463 5.1.0–5.1.6, 5.1.10, 5.2.1). A message
refused as spam (5.7.x), too large (5.3.4) or for a full mailbox (5.2.2) failed, but the
next one to the same address may arrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser

from sopdesk.channels.email_in.headers import normalise_address, parse_message_ids
from sopdesk.channels.email_in.model import ParsedEmail

REPORT_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
RETURNED_TYPES = frozenset(
    {
        "message/rfc822",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/global",
        "message/global-headers",
    }
)
_MAX_REPORT_BYTES = 64 * 1024
_MAX_RETURNED_HEADER_BYTES = 256 * 1024
_MAX_RECIPIENTS = 50
_MAX_DIAGNOSTIC = 500
_BLOCKS = re.compile(rb"\r?\n[ \t]*\r?\n")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}")
_FAILING_ACTIONS = ("failed", "delayed")
_ENHANCED = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_ADDRESS_GONE = frozenset({*(f"5.1.{n}" for n in (0, 1, 2, 3, 4, 5, 6, 10)), "5.2.1"})


def enhanced_status(text: str | None) -> str | None:
    """The first RFC 3463 status code in a server's reply ("550 5.1.1 …" -> "5.1.1")."""
    match = _ENHANCED.search(text or "")
    return match.group(1) if match else None


def address_gone(status: str | None) -> bool:
    """True when a status says the recipient's address does not exist or was disabled."""
    return status in _ADDRESS_GONE


@dataclass(frozen=True)
class FailedRecipient:
    """One recipient a bounce reports on.

    `action`: `failed` or `delayed`. `status`: the enhanced status code ("5.1.1"), when
    given. `diagnostic`: the remote server's reply, without its type prefix ("smtp;").
    """

    address: str
    action: str
    status: str | None = None
    diagnostic: str | None = None

    @property
    def permanent(self) -> bool:
        """The message will never reach this recipient."""
        if self.action != "failed":
            return False
        match = _STATUS.match(self.status or "")
        return match is None or match.group(1) == "5"

    @property
    def address_gone(self) -> bool:
        """The address itself is wrong: later mail to it would bounce too."""
        return self.permanent and address_gone(self.status)

    def describe(self) -> str:
        """One line for people: "5.1.1 550 5.1.1 <a@b>: Recipient address rejected"."""
        parts = [self.status, self.diagnostic] if self.diagnostic else [self.status]
        said = " ".join(p for p in parts if p)
        return said or ("undeliverable" if self.action == "failed" else "delayed")


def returned_message_ids(parsed: ParsedEmail) -> list[str]:
    """Message-IDs of the messages a bounce returns (its message/rfc822 or headers parts)."""
    ids: list[str] = []
    for attachment in parsed.attachments:
        if attachment.content_type in RETURNED_TYPES:
            ids.extend(_message_ids_in(attachment.data[:_MAX_RETURNED_HEADER_BYTES]))
    return ids


def failed_recipients(parsed: ParsedEmail) -> tuple[FailedRecipient, ...]:
    """The recipients a bounce reports as failed or delayed, in the report's order.

    From the delivery-status parts when there are any; else from `X-Failed-Recipients`
    (a permanent failure with no status). Recipients that were delivered, relayed or
    expanded are left out, as is anything that is not an address.
    """
    found: dict[str, FailedRecipient] = {}
    for attachment in parsed.attachments:
        if attachment.content_type in REPORT_TYPES:
            for recipient in _report_recipients(attachment.data[:_MAX_REPORT_BYTES]):
                found.setdefault(recipient.address, recipient)
    if not found:
        for value in parsed.header_values("x-failed-recipients"):
            for item in value.split(","):
                address = _address(item)
                if address:
                    found.setdefault(address, FailedRecipient(address, "failed"))
    return tuple(found.values())[:_MAX_RECIPIENTS]


def _report_recipients(data: bytes) -> list[FailedRecipient]:
    recipients: list[FailedRecipient] = []
    for block in _BLOCKS.split(data)[1:]:  # the first block is about the report itself
        fields = _header_block(block)
        if fields is None:
            continue
        action = str(fields.get("action") or "").strip().lower()
        address = _address(fields.get("final-recipient") or fields.get("original-recipient"))
        if action not in _FAILING_ACTIONS or not address:
            continue
        status = _STATUS.match(str(fields.get("status") or "").strip())
        recipients.append(
            FailedRecipient(
                address=address,
                action=action,
                status=status.group(0) if status else None,
                diagnostic=_diagnostic(fields.get("diagnostic-code")),
            )
        )
    return recipients


def _header_block(block: bytes) -> Message | None:
    try:
        return BytesParser(policy=policy.compat32).parsebytes(block.strip(), headersonly=True)
    except Exception:  # a broken block just reports nothing
        return None


def _address(value: object) -> str | None:
    """`rfc822; a@b` (or a bare `a@b`, `<a@b>`) -> `a@b`; None for anything else."""
    text = str(value or "").strip()
    if ";" in text:
        kind, _, text = text.partition(";")
        if kind.strip().lower() not in ("rfc822", "utf-8", "unknown"):
            return None
    address = normalise_address(text.strip().strip("<>"))
    return address.lower() if address else None


def _diagnostic(value: object) -> str | None:
    text = " ".join(str(value or "").split())
    if ";" in text[:20]:
        text = text.partition(";")[2].strip()
    return text[:_MAX_DIAGNOSTIC] or None


def _message_ids_in(data: bytes) -> tuple[str, ...]:
    try:
        headers = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
        return parse_message_ids([str(v) for v in headers.get_all("message-id", [])])
    except Exception:  # a broken returned message just offers no ids
        return ()
