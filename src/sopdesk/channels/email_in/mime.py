"""The MIME tree of a parsed `email.message.Message` → body segments and attachments.

A body is a list of segments in message order; each segment has a plain and/or an
HTML rendering (a `multipart/alternative` gives one segment with both). Everything
that is not body text is an `Attachment` with its decoded bytes kept, including
inline images, forwarded `message/rfc822` parts, DSN reports and `winmail.dat`. The
files Outlook packs into a `winmail.dat` (TNEF) are also unpacked as attachments of
their own, next to the kept original. Depth and part count are bounded; the raw
message is kept by the caller, so a truncated walk loses nothing. Pure; no I/O.
"""

from __future__ import annotations

import io
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.errors import InvalidBase64LengthDefect
from email.generator import BytesGenerator
from email.message import Message

from tnefparse import TNEF

from sopdesk.channels.email_in.headers import decode_words, header_text, normalise_message_id
from sopdesk.channels.email_in.model import (
    MAX_DEPTH,
    MAX_FILENAME_CHARS,
    MAX_PARTS,
    Attachment,
)
from sopdesk.channels.email_in.text import (
    decode_bytes,
    lenient_b64decode,
    normalise_newlines,
    single_line,
    unflow,
)

_CONTENT_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,63}/[a-z0-9!#$&^_.+-]{1,63}$")
_FILENAME_UNSAFE = re.compile(r"[\\/\x00-\x1f\x7f]")
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_OCTETS = "application/octet-stream"
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


@dataclass(frozen=True)
class Segment:
    plain: str | None
    html: str | None


@dataclass
class Walk:
    """Mutable accumulator for one walk; discarded once `walk_message` returns."""

    segments: list[Segment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parts: int = 0


def content_type_of(part: Message) -> str:
    value = str(part.get_content_type()).lower()
    return value if _CONTENT_TYPE.match(value) else "text/plain"


def _raw_header(message: Message, name: str) -> str | None:
    """The first raw value of header `name`, without the policy's header objects."""
    wanted = name.lower()
    return next((str(v) for k, v in message.raw_items() if k.lower() == wanted), None)


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    payload = part.get_payload()
    if not isinstance(payload, str):
        return data if isinstance(data, bytes) else b""
    if any(isinstance(d, InvalidBase64LengthDefect) for d in part.defects):
        # the stdlib gave up on this base64 and returned the encoded text
        return lenient_b64decode(payload.encode("ascii", "ignore"))
    return data if isinstance(data, bytes) else payload.encode("utf-8", "surrogateescape")


def message_bytes(message: Message) -> bytes:
    """Serialise a (sub)message as close to its original bytes as the stdlib allows."""
    try:
        buffer = io.BytesIO()
        BytesGenerator(buffer, mangle_from_=False, policy=policy.compat32).flatten(message)
        return buffer.getvalue()
    except Exception:  # the generator can choke on malformed headers; fall back
        try:
            return str(message).encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def safe_filename(raw: str | None) -> str | None:
    """A decoded, single-line file name without directories; None when there is none."""
    if not raw:
        return None
    name = single_line(decode_words(str(raw)), 4 * MAX_FILENAME_CHARS)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _FILENAME_UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME_CHARS:
        _, dot, ext = name.rpartition(".")
        keep = "." + ext if dot and 0 < len(ext) <= 16 else ""
        name = name[: MAX_FILENAME_CHARS - len(keep)].rstrip() + keep
    return name or None


def _attachment(part: Message, data: bytes, ctype: str, filename: str | None) -> Attachment:
    content_id = _raw_header(part, "content-id")
    cid = normalise_message_id(header_text(content_id)) if content_id else None
    disposition = part.get_content_disposition()
    inline = disposition == "inline" or (disposition is None and cid is not None)
    return Attachment.of(filename, ctype, data, content_id=cid, inline=inline)


def _message_name(sub: Message | None) -> str:
    subject = _raw_header(sub, "subject") if sub is not None else None
    stem = header_text(subject, 120) if subject else "forwarded-message"
    return safe_filename(f"{stem}.eml") or "forwarded-message.eml"


def _leaf(part: Message, ctype: str, out: Walk) -> None:
    data = _payload_bytes(part)
    filename = safe_filename(part.get_filename())
    is_body = (ctype in _BODY_TYPES or ctype.startswith("multipart/")) and not filename
    if is_body and part.get_content_disposition() != "attachment":
        text = normalise_newlines(decode_bytes(data, part.get_content_charset()))
        if ctype == "text/plain" and str(part.get_param("format", "")).lower() == "flowed":
            text = unflow(text, delsp=str(part.get_param("delsp", "")).lower() == "yes")
        html = ctype == "text/html"
        out.segments.append(Segment(plain=None if html else text, html=text if html else None))
        return
    out.attachments.append(_attachment(part, data, ctype, filename))
    if ctype in _TNEF_TYPES or (filename or "").lower() == "winmail.dat":
        _tnef_files(data, out)


def _tnef_files(data: bytes, out: Walk) -> None:
    """The files inside a `winmail.dat`, each as an attachment (the original is kept).

    Outlook sends attachments wrapped in TNEF when it uses its rich text format; other
    mail programs show only an opaque `winmail.dat`. A file that does not decode is
    left as that one opaque attachment, with a defect noted.
    """
    try:
        packed = TNEF(data, do_checksum=False)
        files = [(_tnef_name(item), item.data) for item in packed.attachments]
    except Exception:  # any malformed TNEF: tnefparse raises whatever its reader hits
        out.defects.append("winmail.dat could not be unpacked")
        return
    for name, content in files:
        if not isinstance(content, bytes) or not content:
            continue
        if out.parts >= MAX_PARTS:
            out.defects.append("mime structure truncated")
            return
        out.parts += 1
        filename = safe_filename(name)
        guessed = mimetypes.guess_type(filename)[0] if filename else None
        out.attachments.append(Attachment.of(filename, guessed or _OCTETS, content))


def _tnef_name(item: object) -> str | None:
    name = getattr(item, "long_filename", lambda: None)() or getattr(item, "name", None)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return name.strip("\x00") if isinstance(name, str) else None


def _embedded_message(part: Message, ctype: str, out: Walk) -> None:
    payload = part.get_payload()
    messages = [m for m in payload if isinstance(m, Message)]
    sub = messages[0] if len(messages) == 1 else None
    if sub is not None:
        data = message_bytes(sub)
    else:  # message/delivery-status holds one header block per recipient
        data = b"\r\n".join(message_bytes(m) for m in messages)
    name = safe_filename(part.get_filename())
    if name is None and ctype == "message/rfc822":
        name = _message_name(sub)
    out.attachments.append(_attachment(part, data, ctype, name))


def _alternative(children: list[Message], depth: int, out: Walk) -> None:
    best_plain: str | None = None
    best_html: str | None = None
    for child in children:
        sub = Walk(parts=out.parts)
        _walk(child, depth + 1, sub)
        out.parts = sub.parts
        out.attachments.extend(sub.attachments)
        out.defects.extend(sub.defects)
        plains = [s.plain for s in sub.segments if s.plain is not None]
        htmls = [s.html for s in sub.segments if s.html is not None]
        if plains and best_plain is None:
            best_plain = "\n\n".join(plains)
        if htmls:
            best_html = "\n".join(htmls)
    if best_plain is not None or best_html is not None:
        out.segments.append(Segment(plain=best_plain, html=best_html))


def _walk(part: Message, depth: int, out: Walk) -> None:
    if out.parts >= MAX_PARTS or depth > MAX_DEPTH:
        if "mime structure truncated" not in out.defects:
            out.defects.append("mime structure truncated")
        return
    out.parts += 1
    out.defects.extend(type(defect).__name__ for defect in getattr(part, "defects", ()))
    ctype = content_type_of(part)
    payload = part.get_payload()
    if ctype.startswith("message/") and isinstance(payload, list):
        _embedded_message(part, ctype, out)
    elif isinstance(payload, list):
        children = [c for c in payload if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            _alternative(children, depth, out)
        else:
            for child in children:
                _walk(child, depth + 1, out)
    else:
        _leaf(part, ctype, out)


def walk_message(message: Message) -> Walk:
    """Body segments and attachments of `message`, in order."""
    out = Walk()
    _walk(message, 0, out)
    return out
