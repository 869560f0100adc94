"""Tolerant header decoding: RFC 2047 words, addresses, Message-IDs and dates.

Works on the raw header strings the stdlib parser keeps (8-bit bytes arrive as
surrogate escapes). Every function here is total: garbage in gives a best-effort
value or an empty result, never an exception. Values are single-line and bounded.
"""

from __future__ import annotations

import quopri
import re
import unicodedata
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from sopdesk.channels.email_in.model import (
    MAX_ADDRESS_CHARS,
    MAX_ADDRESSES,
    MAX_HEADER_CHARS,
    MAX_MESSAGE_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_REFERENCES,
    Address,
)
from sopdesk.channels.email_in.text import (
    decode_bytes,
    lenient_b64decode,
    repair_8bit,
    single_line,
    to_bytes,
)

_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=")
_BRACKETED_ID = re.compile(r"<([^<>]{1,2000})>")
_BARE_ADDRESS = re.compile(r"[\w!#$%&'*+/=?^`{|}~.-]+@[\w-]+(?:\.[\w-]+)+")
_BAD_IN_ADDRESS = re.compile(r"[\s<>\"(),;:\\\[\]\x00-\x1f\x7f]")
_BAD_IN_DOMAIN = re.compile(r"[^\w.-]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BAD_IN_ID = re.compile(r"[\s<>\x00-\x1f\x7f]")


def unfold(value: str) -> str:
    """Remove header folding (a line break followed by blank space)."""
    return _FOLD.sub("", value)


def _q_payload(text: str) -> bytes:
    return quopri.decodestring(to_bytes(text), header=True)


def _word_bytes(encoding: str, payload: str) -> bytes:
    return lenient_b64decode(to_bytes(payload)) if encoding in "bB" else _q_payload(payload)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words, tolerating broken ones (bad padding, unknown charsets).

    Adjacent words in the same charset are joined before decoding, so a multi-byte
    character split across two words survives. Text that is not an encoded word is
    repaired from raw 8-bit bytes. The result may still contain line breaks.
    """
    pieces: list[tuple[str | None, bytes | str]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        previous_is_word = bool(pieces) and pieces[-1][0] is not None
        if between and not (previous_is_word and between.isspace()):
            pieces.append((None, between))
        pos = match.end()
        charset = match.group(1).split("*", 1)[0].lower()
        data = _word_bytes(match.group(2), match.group(3))
        last = pieces[-1] if pieces else None
        if not data and match.group(3):  # undecodable: keep the word as written
            pieces.append((None, match.group(0)))
        elif last is not None and last[0] == charset and isinstance(last[1], bytes):
            pieces[-1] = (charset, last[1] + data)
        else:
            pieces.append((charset, data))
    if value[pos:]:
        pieces.append((None, value[pos:]))
    return "".join(_piece_text(charset, piece) for charset, piece in pieces)


def _piece_text(charset: str | None, piece: bytes | str) -> str:
    if isinstance(piece, bytes):
        return decode_bytes(piece, charset)
    return repair_8bit(piece)


def header_text(raw: str, limit: int = MAX_HEADER_CHARS) -> str:
    """A raw header value as display text: unfolded, decoded, single-line, bounded."""
    return single_line(decode_words(unfold(raw)), limit)


def _idna_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return label


def normalise_domain(domain: str) -> str | None:
    """Lower-case Unicode domain with IDNA labels decoded, or None if it is not a domain."""
    domain = unicodedata.normalize("NFC", domain.strip().rstrip(".")).lower()
    if domain.startswith("[") and domain.endswith("]") and len(domain) > 2:
        return domain
    labels = domain.split(".")
    if not domain or any(not lab or len(lab) > 63 for lab in labels):
        return None
    if _BAD_IN_DOMAIN.search(domain.replace("_", "-")):
        return None
    return ".".join(_idna_label(lab) for lab in labels)


def normalise_address(value: str) -> str | None:
    """`local@domain` with the domain normalised, or None if `value` is not an address."""
    text = repair_8bit(unfold(value)).strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    local, at, domain = text.rpartition("@")
    if not at or not local or _BAD_IN_ADDRESS.search(local) or len(local) > 128:
        return None
    norm_domain = normalise_domain(domain)
    if norm_domain is None:
        return None
    address = f"{unicodedata.normalize('NFC', local)}@{norm_domain}"
    return address if len(address) <= MAX_ADDRESS_CHARS else None


def _pairs(value: str) -> list[tuple[str, str]]:
    try:
        return getaddresses([value])
    except (ValueError, TypeError, IndexError, AttributeError, RecursionError):
        return []


def _addresses_in(raw: str) -> list[Address]:
    value = _CONTROL.sub("", unfold(raw))
    found = []
    for name, addr in _pairs(value):
        address = normalise_address(addr)
        if address is not None:
            found.append(
                Address(name=header_text(name, MAX_NAME_CHARS).strip("\"' "), address=address)
            )
    if found:
        return found
    bare = (normalise_address(m) for m in _BARE_ADDRESS.findall(repair_8bit(value)))
    return [Address(name="", address=a) for a in bare if a is not None]


def parse_addresses(raw_values: list[str]) -> tuple[Address, ...]:
    """Every valid mailbox in the given raw header values, de-duplicated, bounded.

    Uses the stdlib address parser; when it finds nothing valid in a value, falls back
    to picking anything shaped like local@domain out of it.
    """
    found: dict[str, Address] = {}
    for raw in raw_values:
        for address in _addresses_in(raw):
            found.setdefault(address.key, address)
            if len(found) >= MAX_ADDRESSES:
                return tuple(found.values())
    return tuple(found.values())


def normalise_message_id(value: str) -> str | None:
    """A Message-ID without angle brackets or blanks, bounded; None if nothing usable."""
    text = _BAD_IN_ID.sub("", repair_8bit(value))
    text = single_line(text, MAX_MESSAGE_ID_CHARS)
    return text or None


def parse_message_ids(raw_values: list[str]) -> tuple[str, ...]:
    """The Message-IDs in In-Reply-To / References style values, in order, de-duplicated."""
    ids: list[str] = []
    for raw in raw_values:
        value = unfold(raw)
        candidates = _BRACKETED_ID.findall(value)
        if not candidates:
            candidates = [tok for tok in re.split(r"[\s,]+", value) if "@" in tok]
        ids.extend(filter(None, (normalise_message_id(c) for c in candidates)))
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_REFERENCES:
        unique = unique[:1] + unique[-(MAX_REFERENCES - 1) :]
    return tuple(unique)


def parse_date(raw: str | None) -> datetime | None:
    """An aware datetime from a Date header (UTC when the zone is unknown), or None."""
    if not raw:
        return None
    text = single_line(repair_8bit(unfold(raw)), 200)
    try:
        parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
