"""Text heuristics shared by the readers and the mapping core.

Whitespace and quote clean-up, list markers typed as text (`1)`, `•`, `-`, `Step 2:`),
lines that look like headings (ALL CAPS, a trailing colon, bold and short), and matching
a heading to a standard SOP section (synonyms, then word and close matches). Pure.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sopdesk.sop.model import SECTION_SYNONYMS, SectionKey

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"'})
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"})


def clean(text: str) -> str:
    """Collapse runs of spaces, drop invisible characters, trim every line."""
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\x0b", "\n").replace("\f", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def fold(text: str) -> str:
    """A comparison key: lower case, straight quotes, plain dashes, single spaces."""
    return " ".join(text.translate(_QUOTES).translate(_DASHES).lower().split())


def slug(text: str, *, sep: str = "-", max_words: int = 5, fallback: str = "item") -> str:
    """`"Acknowledge the Return!"` -> `acknowledge-the-return`; always a valid identifier."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"'s\b", "", fold(text)))
    value = sep.join(words[:max_words])
    if not value or not value[0].isalpha():
        value = f"{fallback}{sep}{value}" if value else fallback
    return value[:60].strip(sep)


@dataclass(frozen=True)
class Marker:
    """A list marker typed as text: ordered or not, a depth hint, and the text after it."""

    ordered: bool
    depth: int
    rest: str


_ORDERED = re.compile(
    r"^(?:\(?(?P<num>\d{1,2})[.)]|\(?(?P<letter>[a-h])\)|step\s+\d{1,2}\s*[:.)\-–—])\s*(?P<rest>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_BULLETS = {
    "•": 0,
    "●": 0,
    "-": 0,
    "–": 0,
    "—": 0,
    "*": 0,
    "■": 0,
    "➢": 0,
    "➤": 0,
    "✓": 0,
    "✔": 0,
    "→": 0,
    "o": 1,
    "◦": 1,
    "○": 1,
    "▪": 1,
    "▫": 2,
    "·": 0,
    "∙": 0,
    "‣": 1,
}
_BULLET = re.compile(
    r"^(?P<mark>[•●\-–—*■➢➤✓✔→o◦○▪▫·∙‣])[ \t\u00a0]+(?P<rest>\S.*)$",
    re.DOTALL,
)


def split_marker(text: str) -> Marker | None:
    """Recognise `1.`, `2)`, `(a)`, `Step 3:`, `•`, `-`, `o` typed at the start of text."""
    stripped = text.lstrip()
    match = _ORDERED.match(stripped)
    if match:
        if match["num"] and re.match(r"^\d", match["rest"]):
            return None  # "1.5 hours", "2. 3" is not a list
        return Marker(True, 1 if match["letter"] else 0, match["rest"].strip())
    match = _BULLET.match(stripped)
    if match:
        return Marker(False, _BULLETS[match["mark"]], match["rest"].strip())
    return None


def _words(text: str) -> list[str]:
    return text.split()


def is_all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def looks_like_heading(text: str, *, strong: bool = False) -> bool:
    """A one-line text that reads as a heading: ALL CAPS, a short label ending with ':',
    or a short bold line without a full stop."""
    if "\n" in text or not text or len(text) > 90:
        return False
    words = _words(text)
    body = text.rstrip(":").strip()
    if not body or not body[0].isalnum():
        return False
    sentence_inside = bool(re.search(r"[.!?]\s", body))
    if text.endswith(":") and len(words) <= 8 and not sentence_inside:
        return body[0].isupper() or body[0].isdigit()
    if text.endswith((".", ",", ";", "?", "!")):
        return False
    if is_all_caps(body) and len(words) <= 10:
        return True
    return strong and len(words) <= 10 and not sentence_inside


EXTRA_SYNONYMS: dict[str, SectionKey] = {
    "overview": SectionKey.PURPOSE,
    "introduction": SectionKey.PURPOSE,
    "goal": SectionKey.PURPOSE,
    "goals": SectionKey.PURPOSE,
    "aim": SectionKey.PURPOSE,
    "why": SectionKey.PURPOSE,
    "applicability": SectionKey.SCOPE,
    "who this applies to": SectionKey.SCOPE,
    "when to use": SectionKey.SCOPE,
    "who does what": SectionKey.RESPONSIBILITIES,
    "roles and responsibility": SectionKey.RESPONSIBILITIES,
    "responsibility": SectionKey.RESPONSIBILITIES,
    "action steps": SectionKey.PROCEDURE,
    "instructions": SectionKey.PROCEDURE,
    "workflow": SectionKey.PROCEDURE,
    "step by step": SectionKey.PROCEDURE,
    "step-by-step": SectionKey.PROCEDURE,
    "step-by-step instructions": SectionKey.PROCEDURE,
    "how to": SectionKey.PROCEDURE,
    "method": SectionKey.PROCEDURE,
    "systems": SectionKey.TOOLS,
    "software": SectionKey.TOOLS,
    "tools and templates": SectionKey.TOOLS,
    "service levels": SectionKey.STANDARDS,
    "service standards": SectionKey.STANDARDS,
    "service level agreement": SectionKey.STANDARDS,
    "sla": SectionKey.STANDARDS,
    "targets": SectionKey.STANDARDS,
    "response times": SectionKey.STANDARDS,
    "quality standards": SectionKey.STANDARDS,
    "documentation": SectionKey.RECORDS,
    "record": SectionKey.RECORDS,
    "recordkeeping": SectionKey.RECORDS,
    "common problems": SectionKey.TROUBLESHOOTING,
    "common issues": SectionKey.TROUBLESHOOTING,
    "faq": SectionKey.TROUBLESHOOTING,
    "edge cases": SectionKey.TROUBLESHOOTING,
    "special cases": SectionKey.TROUBLESHOOTING,
    "escalation points": SectionKey.ESCALATION,
    "escalations": SectionKey.ESCALATION,
    "escalation procedure": SectionKey.ESCALATION,
    "terms": SectionKey.GLOSSARY,
    "key terms": SectionKey.GLOSSARY,
    "terminology": SectionKey.GLOSSARY,
}
ALL_SYNONYMS: dict[str, SectionKey] = {**EXTRA_SYNONYMS, **SECTION_SYNONYMS}
_WORD_KEYS = {
    "purpose": SectionKey.PURPOSE,
    "scope": SectionKey.SCOPE,
    "responsibilities": SectionKey.RESPONSIBILITIES,
    "procedure": SectionKey.PROCEDURE,
    "process": SectionKey.PROCEDURE,
    "steps": SectionKey.PROCEDURE,
    "tools": SectionKey.TOOLS,
    "standards": SectionKey.STANDARDS,
    "kpis": SectionKey.STANDARDS,
    "records": SectionKey.RECORDS,
    "troubleshooting": SectionKey.TROUBLESHOOTING,
    "escalation": SectionKey.ESCALATION,
    "glossary": SectionKey.GLOSSARY,
}
_NUMBERING = re.compile(
    r"^(?:(?:section|part)\s+)?(?:\d{1,2}(?:\.\d{1,2})*|[ivx]{1,4}|[a-h])[.):]?\s+|^(?:section|part)\s+\d+\s*[-:.]\s*",
    re.IGNORECASE,
)


def heading_key(title: str) -> str:
    """`"3. Roles & Responsibilities:"` -> `roles and responsibilities`."""
    text = fold(title).rstrip(":").strip()
    text = _NUMBERING.sub("", text).strip(" -:.")
    return " ".join(text.replace("&", " and ").replace("/", " and ").split())


@dataclass(frozen=True)
class SectionMatch:
    key: SectionKey
    how: str


def match_section(title: str) -> SectionMatch | None:
    """Map a heading to a standard section: synonym, close spelling, or a key word."""
    text = heading_key(title)
    if not text:
        return None
    if text in ALL_SYNONYMS:
        return SectionMatch(ALL_SYNONYMS[text], "synonym")
    close = difflib.get_close_matches(text, list(ALL_SYNONYMS), n=1, cutoff=0.85)
    if close:
        return SectionMatch(ALL_SYNONYMS[close[0]], f"close to {close[0]!r}")
    words = re.findall(r"[a-z]+", text)
    if len(words) <= 4:
        for word in words:
            if word in _WORD_KEYS:
                return SectionMatch(_WORD_KEYS[word], f"key word {word!r}")
    return None


_LABEL = re.compile(r"^(?P<label>[^:\n]{2,40}):\s*(?P<rest>\S.*)?$", re.DOTALL)


def split_label(text: str) -> tuple[str, str] | None:
    """`"Purpose: Ensure returns..."` -> ("Purpose", "Ensure returns...")."""
    match = _LABEL.match(text.strip())
    if not match:
        return None
    return match["label"].strip(), (match["rest"] or "").strip()
