"""Is a message written by a machine? Auto-replies, bounces, lists, and mail loops.

`detect_auto_reply` reads RFC 3834 `Auto-Submitted`, the de-facto `X-Autoreply`,
`X-Autorespond`, `Precedence`, `X-Auto-Response-Suppress`, Microsoft's
`X-MS-Exchange-Generated-Message-Source`, list headers, DSN reports, daemon and
no-reply senders, and out-of-office subjects in several languages.
`is_mail_loop` says a message must never get an automatic response. Pure; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from sopdesk.channels.email_in.headers import normalise_address
from sopdesk.channels.email_in.model import AutoReplyKind, ParsedEmail

LOOP_HEADER = "X-Sopdesk-Loop"

_DAEMONS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster"})
_NOREPLY = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|auto[-_.]?reply|bounces?|notifications?)"
    r"(?:[-_.].*)?$|[-_.]no[-_.]?reply$",
    re.IGNORECASE,
)
_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_MDN_TYPES = frozenset({"message/disposition-notification", "message/feedback-report"})
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliverable|undelivered mail returned to sender|delivery status notification"
    r"|mail delivery failed|returned mail|delivery failure|failure notice|unzustellbar"
    r"|non remis|onbestelbaar|no se puede entregar|non recapitabile)\b",
    re.IGNORECASE,
)
_OOO_PHRASES = (
    r"automatic reply|auto[- ]?reply|auto[- ]?response|autoresponder|out of (?:the )?office"
    r"|automatische antwort|abwesenheitsnotiz|automatische abwesenheitsnotiz|nicht im büro"
    r"|abwesend|réponse automatique|absence du bureau|absent du bureau|respuesta automática"
    r"|respuesta automatica|fuera de (?:la )?oficina|automatisch antwoord|afwezigheidsmelding"
    r"|buiten kantoor|afwezig|risposta automatica|fuori (?:sede|ufficio)|resposta automática"
    r"|fora do escritório|autosvar|automaattinen vastaus|odpowiedź automatyczna"
    r"|автоматический ответ|on vacation|on leave|away from (?:the )?office"
)
_OOO_SUBJECT = re.compile(
    rf"^\s*(?:\[[^\]]{{0,40}}\]\s*)?(?:{_OOO_PHRASES})"
    r"(?:\s*[:\-–—(\[/|,]|\s*$|\s+(?:until|till|from|bis|vom|ab|jusqu|du|hasta|del|tot|van"
    r"|dal|fino|até)\b)",
    re.IGNORECASE,
)
_LIST_ID = re.compile(r"<([^<>]+)>")


def _first_token(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _is_bounce(parsed: ParsedEmail) -> bool:
    content_type = (parsed.header("Content-Type") or "").lower()
    if parsed.content_type == "multipart/report" and "delivery-status" in content_type:
        return True
    if any(a.content_type in _DSN_TYPES for a in parsed.attachments):
        return True
    if parsed.header("X-Failed-Recipients") is not None:
        return True
    if parsed.from_.local_part.lower() in _DAEMONS:
        return True
    automated = _first_token(parsed.header("Auto-Submitted")) not in ("", "no")
    return automated and bool(_BOUNCE_SUBJECT.match(parsed.subject))


def looks_out_of_office(subject: str) -> bool:
    """True when a subject reads like a vacation or out-of-office notice."""
    return bool(_OOO_SUBJECT.match(subject))


def _auto_replied(parsed: ParsedEmail) -> bool:
    if _first_token(parsed.header("Auto-Submitted")) == "auto-replied":
        return True
    if _first_token(parsed.header("Precedence")) == "auto_reply":
        return True
    return any(
        parsed.header(name) is not None and _first_token(parsed.header(name)) != "no"
        for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
    )


def _auto_generated(parsed: ParsedEmail) -> bool:
    if _first_token(parsed.header("Auto-Submitted")) not in ("", "no"):
        return True
    suppress = (parsed.header("X-Auto-Response-Suppress") or "").lower()
    if any(word in suppress for word in ("all", "oof", "autoreply")):
        return True
    source = parsed.header("X-MS-Exchange-Generated-Message-Source")
    if source is not None and "mailbox rules agent" not in source.lower():
        return True
    if any(a.content_type in _MDN_TYPES for a in parsed.attachments):
        return True
    local = parsed.from_.local_part.split("+", 1)[0]
    return bool(_NOREPLY.search(local))


def _list_ids(parsed: ParsedEmail) -> set[str]:
    value = parsed.header("List-Id") or ""
    found = _LIST_ID.findall(value) or [value]
    return {item.strip().lower() for item in found if item.strip()}


def _mailing_list(parsed: ParsedEmail, trusted_list_ids: Collection[str]) -> bool:
    ids = _list_ids(parsed)
    if ids and ids & {t.strip().strip("<>").lower() for t in trusted_list_ids}:
        return False
    if ids or parsed.header("List-Unsubscribe") is not None:
        return True
    return _first_token(parsed.header("Precedence")) == "list"


def detect_auto_reply(
    parsed: ParsedEmail, *, trusted_list_ids: Collection[str] = ()
) -> AutoReplyKind | None:
    """What kind of machine sent `parsed`, or None for a person.

    `trusted_list_ids` names lists that are really your own support address (a Google
    Group in front of the mailbox adds `List-Id` to every customer mail).
    """
    if _is_bounce(parsed):
        return AutoReplyKind.BOUNCE
    says_human = _first_token(parsed.header("Auto-Submitted")) == "no"
    if not says_human and looks_out_of_office(parsed.subject):
        return AutoReplyKind.OUT_OF_OFFICE
    if _auto_replied(parsed):
        return AutoReplyKind.AUTO_REPLY
    if _auto_generated(parsed):
        return AutoReplyKind.AUTO_GENERATED
    if _mailing_list(parsed, trusted_list_ids):
        return AutoReplyKind.MAILING_LIST
    if _first_token(parsed.header("Precedence")) in ("bulk", "junk"):
        return AutoReplyKind.BULK
    return None


_LOOPING_KINDS = frozenset(
    {
        AutoReplyKind.AUTO_REPLY,
        AutoReplyKind.OUT_OF_OFFICE,
        AutoReplyKind.AUTO_GENERATED,
        AutoReplyKind.BULK,
    }
)


def _ours(message_id: str, domain: str) -> bool:
    return bool(domain) and message_id.lower().endswith("@" + domain)


def is_mail_loop(
    parsed: ParsedEmail, our_addresses: Collection[str], our_message_id_domain: str
) -> bool:
    """True when answering `parsed` automatically could start or feed a mail loop.

    Our own address as sender, our `X-Sopdesk-Loop` header, our own Message-ID, or an
    autoresponder whose In-Reply-To/References name only messages we sent.
    """
    ours = {a.casefold() for a in map(normalise_address, our_addresses) if a}
    if parsed.from_.key in ours or parsed.header(LOOP_HEADER) is not None:
        return True
    domain = our_message_id_domain.strip().strip("@").lower()
    if not parsed.message_id_generated and _ours(parsed.message_id, domain):
        return True
    parents = parsed.in_reply_to + parsed.references
    if not parents or not all(_ours(m, domain) for m in parents):
        return False
    return detect_auto_reply(parsed) in _LOOPING_KINDS
