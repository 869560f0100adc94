"""Threading a reply onto its case: Message-ID chain first, then the case token in the
subject, then one in the text (a quoted "Subject: … [SD-1042]" line survives a changed
subject).

The case token format lives here and only here: `format_case_token` writes it into
outgoing subjects, `find_case_token` reads it back from incoming ones. A token found
in an auto-reply still threads; `ThreadKeys.auto_reply` tells the caller what it is.
A token-only match is weaker evidence than a Message-ID (tokens are guessable), so
`resolve_thread` says which one matched. Pure; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sopdesk.channels.email_in.autoreply import detect_auto_reply
from sopdesk.channels.email_in.dsn import returned_message_ids
from sopdesk.channels.email_in.model import AutoReplyKind, ParsedEmail, ThreadKeys

CASE_TOKEN_PREFIX = "SD"  # noqa: S105 - a subject marker, not a secret
_MAX_DIGITS = 18
_LABELS = r"(?:case|ticket|fall|dossier|caso|zaak|anfrage|demande)"


def _token_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(
        rf"[\[(]\s*(?:{_LABELS}\s*(?:no\.?|nr\.?|n°|:)?\s*)?#?\s*"
        rf"{re.escape(prefix)}\s*[-#:_ ]?\s*(\d{{1,{_MAX_DIGITS}}})\s*[\])]",
        re.IGNORECASE,
    )


_TOKEN = _token_pattern(CASE_TOKEN_PREFIX)
_REFERENCE = re.compile(rf"(?:{re.escape(CASE_TOKEN_PREFIX)}-?)?(\d{{1,{_MAX_DIGITS}}})", re.I)

_BLANKS = re.compile(r"\s+")
_MAX_SUBJECT = 4000
_MAX_TEXT_SEARCHED = 64 * 1024

CaseId = TypeVar("CaseId")


def case_reference(number: int) -> str:
    """The human case reference for a case number: 1234 → "SD-1234"."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"a case number is a non-negative integer, not {number!r}")
    return f"{CASE_TOKEN_PREFIX}-{number}"


def format_case_token(reference: int | str) -> str:
    """The subject token for a case: 1234, "1234" or "SD-1234" → "[SD-1234]"."""
    if isinstance(reference, str):
        match = _REFERENCE.fullmatch(reference.strip())
        if match is None:
            raise ValueError(f"not a case reference: {reference!r}")
        reference = int(match.group(1))
    return f"[{case_reference(reference)}]"


def find_case_token(subject: str) -> str | None:
    """The case reference ("SD-1234") of the first token in `subject`, or None.

    Accepts "[SD-1234]", "[#SD-1234]", "[Case SD-1234]", "(Ticket #SD 1234)" and similar.
    """
    match = _TOKEN.search(_BLANKS.sub(" ", subject or "")[:_MAX_SUBJECT])
    return case_reference(int(match.group(1))) if match else None


def find_case_token_in_text(text: str) -> str | None:
    """The first case token in a message's text (its first 64 KB), or None.

    Replies whose subject was rewritten usually still quote ours, e.g. Outlook's
    "Subject: RE: Your return [SD-1042]" header block above the quoted message.
    """
    match = _TOKEN.search(_BLANKS.sub(" ", (text or "")[:_MAX_TEXT_SEARCHED]))
    return case_reference(int(match.group(1))) if match else None


def thread_keys(parsed: ParsedEmail) -> ThreadKeys:
    """Candidate parent Message-IDs and the case token (the subject's, else the text's).

    Candidates: In-Reply-To, then References newest first; for a bounce, the
    Message-ID of the returned message too (DSNs rarely carry In-Reply-To).
    """
    auto_reply = detect_auto_reply(parsed)
    candidates = [*parsed.in_reply_to, *reversed(parsed.references)]
    if auto_reply is AutoReplyKind.BOUNCE:
        candidates.extend(returned_message_ids(parsed))
    ids = tuple(i for i in dict.fromkeys(candidates) if i != parsed.message_id)
    token = find_case_token(parsed.subject) or find_case_token_in_text(parsed.text)
    return ThreadKeys(message_ids=ids, case_token=token, auto_reply=auto_reply)


@dataclass(frozen=True)
class ThreadMatch(Generic[CaseId]):
    """Which case a message belongs to, and what evidence matched."""

    case_id: CaseId
    via: Literal["message_id", "case_token"]
    key: str


def resolve_thread(
    keys: ThreadKeys,
    known_message_ids: Mapping[str, CaseId],
    token_lookup: Mapping[str, CaseId],
) -> ThreadMatch[CaseId] | None:
    """Match by Message-ID (best candidate first), then by case token; None if neither."""
    for message_id in keys.message_ids:
        if message_id in known_message_ids:
            return ThreadMatch(known_message_ids[message_id], "message_id", message_id)
    if keys.case_token is not None and keys.case_token in token_lookup:
        return ThreadMatch(token_lookup[keys.case_token], "case_token", keys.case_token)
    return None


def match_thread(
    keys: ThreadKeys,
    known_message_ids: Mapping[str, CaseId],
    token_lookup: Mapping[str, CaseId],
) -> CaseId | None:
    """The case a message threads onto, or None for a new conversation."""
    found = resolve_thread(keys, known_message_ids, token_lookup)
    return found.case_id if found is not None else None
