"""Bytes to text for mail: charset fallbacks, 8-bit header repair, single-line bounding.

`decode_bytes` never raises: declared charset (strict) → UTF-8 → cp1252 → Latin-1.
Every string it returns is free of NUL and lone surrogates, so it can be stored in
any database. Pure; no I/O.
"""

from __future__ import annotations

import binascii
import codecs
import re

# Names seen in real mail that Python does not know, or knows under a narrower name.
_CHARSET_ALIASES: dict[str, str | None] = {
    "utf8mb4": "utf-8",
    "utf8mb3": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "us-ascii": None,
    "ascii": None,
    "ansi_x3.4-1968": None,
    "x-unknown": None,
    "unknown": None,
    "unknown-8bit": None,
    "x-user-defined": None,
    "default": None,
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso_8859-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "big5": "big5hkscs",
    "iso-2022-jp": "iso2022_jp_ext",
}

# Codecs that exist but are not charsets: decoding mail with them would be wrong.
_REFUSED_CODECS = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "escape"}
)

_SURROGATES = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t]+")
_UTF8 = "utf-8"
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def codec_for(charset: str | None) -> str | None:
    """The Python codec to try for a declared charset, or None when it is unknown or unsafe."""
    if not charset:
        return None
    name = str(charset).strip().strip("\"'").strip().lower()[:64]
    if name in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode `data` with the declared charset if it fits, else UTF-8, cp1252, Latin-1."""
    codec = codec_for(charset)
    text = _try(data, codec) if codec else None
    if text is None and codec == _UTF8:
        text = _damaged_utf8(data)
    if text is None:
        text = _try(data, _UTF8)
    if text is None:
        text = _try(data, "cp1252")
    if text is None:
        text = data.decode("latin-1", errors="replace")
    return clean_text(text)


def _damaged_utf8(data: bytes) -> str | None:
    """UTF-8 with a few bad bytes keeps its good characters; no valid UTF-8 at all → None."""
    text = data.decode(_UTF8, errors="replace")
    return text if any(ord(c) > 127 and c != "\ufffd" for c in text) else None


def clean_text(text: str) -> str:
    """Drop NUL and a leading BOM, and replace lone surrogates with U+FFFD."""
    text = text.replace("\x00", "")
    if text.startswith("\ufeff"):
        text = text[1:]
    return _SURROGATES.sub("\ufffd", text)


def to_bytes(text: str) -> bytes:
    """Undo the parser's surrogateescape: 8-bit header bytes come back as bytes."""
    try:
        return text.encode(_UTF8, errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode(_UTF8, errors="replace")


def repair_8bit(text: str) -> str:
    """Decode raw 8-bit bytes smuggled into a header string (RFC 6532 or plain broken)."""
    if not _SURROGATES.search(text):
        return text
    return decode_bytes(to_bytes(text))


def single_line(text: str, limit: int) -> str:
    """One line, no control characters, runs of blanks collapsed, at most `limit` characters."""
    text = _LINE_BREAKS.sub(" ", clean_text(text))
    text = _CONTROLS.sub("", text)
    return _SPACES.sub(" ", text).strip()[:limit].rstrip()


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR become LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def lenient_b64decode(data: bytes) -> bytes:
    """Base64 that ignores junk characters and repairs bad length and padding."""
    clean = _NOT_BASE64.sub(b"", data)
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    try:
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
    except (binascii.Error, ValueError):
        return b""


def unflow(text: str, *, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines, keep quote depth."""
    out: list[str] = []
    pending: tuple[int, str] | None = None
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        content = content[1:] if content.startswith(" ") else content
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if pending is not None and pending[0] == depth:
            pending = (depth, pending[1] + content)
        else:
            if pending is not None:
                out.append(_flowed_line(*pending))
            pending = (depth, content)
        if not soft:
            out.append(_flowed_line(*pending))
            pending = None
    if pending is not None:
        out.append(_flowed_line(*pending))
    return "\n".join(out)


def _flowed_line(depth: int, content: str) -> str:
    return f"{'>' * depth} {content}" if depth else content
