"""`parse_inbound`: raw RFC 5322 bytes → `ParsedEmail`, or `Quarantined` with the bytes kept.

Parses with the stdlib `email` package and `policy.default`; if extraction fails on a
broken shape it re-parses with `policy.compat32`; if that fails too, or the bytes are
not an e-mail at all (no header fields, no sender), the message is quarantined. This
function never raises and never drops a message. Pure: the receive time is a parameter.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from html import escape

from sopdesk.channels.email_in.headers import (
    header_text,
    parse_addresses,
    parse_date,
    parse_message_ids,
)
from sopdesk.channels.email_in.html_body import html_to_text
from sopdesk.channels.email_in.mime import Segment, content_type_of, walk_message
from sopdesk.channels.email_in.model import (
    GENERATED_ID_DOMAIN,
    MAX_HEADERS,
    MAX_PARTS,
    MAX_RAW_BYTES,
    Address,
    ParsedEmail,
    Quarantined,
    QuarantineReason,
)
from sopdesk.channels.email_in.policies import BOUNDED_COMPAT32, BOUNDED_DEFAULT
from sopdesk.channels.email_in.text import single_line

_SENDER_HEADERS = ("from", "sender", "reply-to", "return-path")
_SINGLETONS = ("from", "subject", "message-id", "date", "in-reply-to")
_MAX_DEFECTS = 50
_PART_HEADER = re.compile(rb"^content-type[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MAX_PART_ESTIMATE = 10 * MAX_PARTS

Headers = list[tuple[str, str]]


def parse_inbound(
    raw: bytes, *, received_at: datetime, max_bytes: int = MAX_RAW_BYTES
) -> ParsedEmail | Quarantined:
    """Parse one inbound message. Never raises; unusable input comes back `Quarantined`."""
    data = _as_bytes(raw)
    if not data.strip():
        return Quarantined(data, QuarantineReason.EMPTY, received_at, "no bytes")
    if len(data) > max_bytes:
        detail = f"{len(data)} bytes, limit {max_bytes}"
        return Quarantined(data, QuarantineReason.TOO_LARGE, received_at, detail)
    try:
        return _parse(data, received_at)
    except Exception as exc:  # the contract is: never raise, keep the bytes
        detail = single_line(f"{type(exc).__name__}: {exc}", 300)
        return Quarantined(data, QuarantineReason.PARSER_ERROR, received_at, detail)


def _as_bytes(raw: object) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        try:
            return raw.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return raw.encode("utf-8", "replace")
    try:
        return bytes(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return b""


def _parse(data: bytes, received_at: datetime) -> ParsedEmail | Quarantined:
    body = data.lstrip(b"\r\n")
    parts = sum(1 for _ in _PART_HEADER.finditer(body))
    if parts > _MAX_PART_ESTIMATE:
        detail = f"about {parts} MIME parts, limit {_MAX_PART_ESTIMATE}"
        return Quarantined(data, QuarantineReason.TOO_COMPLEX, received_at, detail)
    if parts <= MAX_PARTS:  # policy.default is ~10x slower per part than compat32
        try:
            message = BytesParser(policy=BOUNDED_DEFAULT).parsebytes(body)
            return _extract(message, data, received_at, [])
        except Exception as exc:  # broken shape for policy.default: retry the legacy way
            note = f"policy.default failed: {type(exc).__name__}"
    else:
        note = f"about {parts} MIME parts: parsed with compat32"
    message = BytesParser(policy=BOUNDED_COMPAT32).parsebytes(body)
    return _extract(message, data, received_at, [note])


def _raw_headers(message: Message) -> Headers:
    items: Headers = []
    for name, value in list(message.raw_items())[:MAX_HEADERS]:
        clean = single_line(str(name), 100).replace(" ", "")
        if clean:
            items.append((clean, str(value)))
    return items


def _values(items: Headers, name: str) -> list[str]:
    return [value for key, value in items if key.lower() == name]


def _sender(items: Headers) -> tuple[Address | None, list[str]]:
    for header in _SENDER_HEADERS:
        found = parse_addresses(_values(items, header))
        if found:
            return found[0], [] if header == "from" else [f"sender taken from {header}"]
    return None, []


def _bodies(segments: list[Segment]) -> tuple[str, str | None, bool]:
    texts: list[str] = []
    from_html = False
    for seg in segments:
        if seg.plain is not None:
            texts.append(seg.plain)
        elif seg.html is not None:
            texts.append(html_to_text(seg.html))
            from_html = True
    text = "\n\n".join(t.strip("\n") for t in texts if t.strip()).rstrip()
    if not any(seg.html is not None for seg in segments):
        return text, None, from_html
    html = "\n".join(
        seg.html if seg.html is not None else f"<pre>{escape(seg.plain or '')}</pre>"
        for seg in segments
    )
    return text, html, from_html


def _defects(message: Message, items: Headers, extra: list[str]) -> tuple[str, ...]:
    found = [type(defect).__name__ for defect in message.defects]
    found.extend(f"duplicate {n} header" for n in _SINGLETONS if len(_values(items, n)) > 1)
    return tuple(dict.fromkeys(found + extra))[:_MAX_DEFECTS]


def _message_id(items: Headers, data: bytes) -> tuple[str, bool]:
    ids = parse_message_ids(_values(items, "message-id"))
    if ids:
        return ids[0], False
    return f"{hashlib.sha256(data).hexdigest()[:40]}@{GENERATED_ID_DOMAIN}", True


def _first(items: Headers, name: str) -> str | None:
    values = _values(items, name)
    return values[0] if values else None


def _extract(
    message: Message, data: bytes, received_at: datetime, notes: list[str]
) -> ParsedEmail | Quarantined:
    items = _raw_headers(message)
    if not items:
        return Quarantined(data, QuarantineReason.NOT_AN_EMAIL, received_at, "no header fields")
    sender, sender_notes = _sender(items)
    if sender is None:
        return Quarantined(data, QuarantineReason.NO_SENDER, received_at, "no sender address")
    walk = walk_message(message)
    text, html, from_html = _bodies(walk.segments)
    message_id, generated = _message_id(items, data)
    subject = _first(items, "subject")
    return ParsedEmail(
        message_id=message_id,
        message_id_generated=generated,
        in_reply_to=parse_message_ids(_values(items, "in-reply-to")),
        references=parse_message_ids(_values(items, "references")),
        from_=sender,
        to=parse_addresses(_values(items, "to")),
        cc=parse_addresses(_values(items, "cc")),
        reply_to=parse_addresses(_values(items, "reply-to")),
        subject=header_text(subject) if subject is not None else "",
        date=parse_date(_first(items, "date")),
        received_at=received_at,
        text=text,
        html=html,
        text_from_html=from_html,
        attachments=tuple(walk.attachments),
        headers=tuple((name, header_text(value)) for name, value in items),
        content_type=content_type_of(message),
        defects=_defects(message, items, notes + sender_notes + walk.defects),
        raw=data,
    )
