"""Split a reply into what the person wrote and the quoted history below it.

Cuts at the first attribution line ("On … wrote:" and its German, French, Spanish,
Dutch, Italian, Portuguese and Scandinavian forms, wrapped over up to three lines),
Outlook "-----Original Message-----" separators and "From: / Sent:" header blocks,
a "-- " signature or a "Sent from my phone" line; `>`-quoted lines go to the quote
wherever they are. Forwarded messages are content, not history: nothing after a
"Forwarded message" marker is cut. A message that is all quote is returned whole.
Pure; no I/O.
"""

from __future__ import annotations

import re

from sopdesk.channels.email_in.text import normalise_newlines

_MAX_LINE = 600
_OPENERS = r"(?:on|am|le|el|op|il|em|den|på|w dniu|в)"
_VERBS = (
    r"(?:wrote|has written|schrieb|a écrit|a ecrit|escribió|escribio|schreef|ha scritto"
    r"|escreveu|skrev|kirjoitti|napisał|написал)"
)
_ATTRIBUTION = re.compile(
    rf"^(?:{_OPENERS}\b.{{0,400}}?\b{_VERBS}\b[^\n]{{0,300}}?\s?:"
    r"|.{1,300}?\b(?:schrieb am|schreef op|wrote on|a écrit le|escribió el)\b.{0,300}?:)\s*$",
    re.IGNORECASE,
)
_OPENER_START = re.compile(rf"^{_OPENERS}\b", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|originalnachricht"
    r"|message d'origine|mensaje original|oorspronkelijk bericht|origineel bericht"
    r"|messaggio originale|mensagem original|originalmeddelande|opprinnelig melding"
    r"|oprindelig meddelelse)\s*-{2,}$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^_{10,}$")
_FROM_LINE = re.compile(r"^\*?(?:from|von|de|van|da|från|fra|od|от)\s?:\*?\s*\S", re.I)
_SENT_LINE = re.compile(
    r"^\*?(?:sent|date|gesendet|datum|envoyé|enviado|fecha|verzonden|inviato|data|skickat"
    r"|sendt|wysłano|отправлено)(?:\s+(?:el|on|le))?\s?:\*?",
    re.IGNORECASE,
)
_TO_LINE = re.compile(
    r"^\*?(?:to|subject|an|betreff|à|a|objet|para|asunto|aan|onderwerp|oggetto|till|ämne"
    r"|til|emne|do|temat|кому|тема)\s?:\*?",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^(?:sent from my \w+|sent from (?:outlook|mail|yahoo mail)\b|get outlook for \w+"
    r"|von meinem \w+ gesendet|gesendet von meinem \w+|envoyé de mon \w+|enviado desde mi \w+"
    r"|verzonden (?:vanaf|met) mijn \w+|inviato da\b|skickat från min \w+)",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré"
    r"|mensaje reenviado|doorgestuurd bericht|messaggio inoltrato)\b"
    r"|begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:"
    r"|début du message réexpédié\s*:)",
    re.IGNORECASE,
)


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _attribution_at(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if len(line) > _MAX_LINE:
        return False
    if _ATTRIBUTION.match(line):
        return True
    if not _OPENER_START.match(line):
        return False
    joined = line
    for extra in lines[i + 1 : i + 3]:
        joined = f"{joined} {extra.strip()}"
        if len(joined) <= _MAX_LINE and _ATTRIBUTION.match(joined):
            return True
    return False


def _header_block_at(lines: list[str], i: int) -> bool:
    if not _FROM_LINE.match(lines[i].strip()):
        return False
    following = [line.strip() for line in lines[i + 1 : i + 7]]
    return any(_SENT_LINE.match(s) for s in following) and any(_TO_LINE.match(s) for s in following)


def _is_cut(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    if _SEPARATOR.match(stripped) or _SIGNATURE.match(lines[i].rstrip("\n")):
        return True
    if _UNDERSCORES.match(stripped):
        return any(_header_block_at(lines, j) for j in range(i + 1, min(i + 3, len(lines))))
    if len(stripped) < 80 and _MOBILE.match(stripped):
        return True
    return _header_block_at(lines, i) or _attribution_at(lines, i)


def _cut_index(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _FORWARD.match(line.strip()):
            return len(lines)
        if not _is_quote(line) and _is_cut(lines, i):
            return i
    return len(lines)


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n").rstrip()


def strip_quoted(text: str) -> tuple[str, str]:
    """(reply, quoted): the new text of a reply and everything it quotes or signs off with.

    Never returns an empty reply for a non-empty message: if everything looks quoted,
    the bottom-posted part is tried, and failing that the whole text is the reply.
    """
    lines = normalise_newlines(text or "").split("\n")
    cut = _cut_index(lines)
    keep = [not _is_quote(line) for line in lines[:cut]] + [False] * (len(lines) - cut)
    reply = _join([line for line, k in zip(lines, keep, strict=True) if k])
    if not reply.strip():
        keep = [not (_is_quote(ln) or _attribution_at(lines, i)) for i, ln in enumerate(lines)]
        reply = _join([line for line, k in zip(lines, keep, strict=True) if k])
    if not reply.strip():
        return _join(lines), ""
    quoted = _join([line for line, k in zip(lines, keep, strict=True) if not k])
    return reply, quoted
