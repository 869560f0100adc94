"""Find time limits, anchors, roles, standards and review cadences in prose.

`find_limit("Process refund within five business days of receiving the item")` gives
`5 business days after item_received` and the event it needs declared. Every limit it
returns is checked with the SOP grammar (`sop.timephrase.parse_limit`). Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sopdesk.calendar.durations import NUMBER_WORDS, Duration, DurationError, parse_duration
from sopdesk.sop.importers.heuristics import fold, slug
from sopdesk.sop.timephrase import (
    BUILTIN_ANCHORS,
    OPENED,
    TimeLimit,
    TimePhraseError,
    parse_cadence,
    parse_limit,
)

_COUNT = r"\d{1,4}|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True))
_UNIT = r"minutes?|mins?|hours?|hrs?|h|days?|weeks?"
_LIMIT = re.compile(
    rf"(?P<lead>\b(?:within|in|under|by|no later than|no more than|up to|after)\s+(?:the\s+)?"
    rf"(?:first\s+|next\s+)?)?"
    rf"\b(?P<count>{_COUNT})(?:\s*|-)(?P<kind>business\s+|working\s+|calendar\s+)?(?P<unit>{_UNIT})\b"
    rf"(?!-)(?P<tail>\s+(?:of|after|from|following)\s+(?P<anchor>[^.,;:!?()\n]+))?",
    re.IGNORECASE,
)
_ANCHOR_STOP = re.compile(
    r"\s+(?:and|or|but|so|to|then|if|unless|with|by|using|via|when|while|because)\b.*$",
    re.IGNORECASE,
)
_OPENED_WORDS = frozenset(
    {
        "request",
        "the request",
        "their request",
        "the customer's request",
        "contact",
        "first contact",
        "the first contact",
        "the email",
        "their email",
        "the message",
        "the inquiry",
        "the enquiry",
        "the complaint",
        "the ticket",
        "the call",
        "the case",
        "case opening",
        "receiving the request",
        "receiving the complaint",
        "receiving the email",
        "receiving the inquiry",
        "receiving the message",
        "receipt of the request",
        "receipt of the complaint",
        "the customer's email",
        "the customer's message",
        "submission",
    }
)
_OPENING_NOUNS = frozenset(
    {"request", "complaint", "email", "message", "inquiry", "enquiry", "ticket", "call"}
)
_PARTICIPLES = {
    "sending": "sent",
    "getting": "got",
    "making": "made",
    "paying": "paid",
    "buying": "bought",
    "taking": "taken",
    "giving": "given",
    "closing": "closed",
    "issuing": "issued",
    "receiving": "received",
}
_GERUND = re.compile(
    r"^(?P<verb>[a-z]+ing)\s+(?:the\s+|their\s+|a\s+|an\s+|your\s+)?(?P<object>[a-z][a-z ]*)$"
)
_RECEIPT_OF = re.compile(
    r"^(?:the\s+)?(?:receipt|arrival|delivery)\s+of\s+(?:the\s+)?(?P<object>[a-z][a-z ]*)$"
)
_PASSIVE = re.compile(
    r"^(?:the\s+)?(?P<object>[a-z][a-z ]*?)\s+(?:is|are|was|has been|being|gets|got)\s+"
    r"(?P<verb>[a-z]+ed)$"
)


@dataclass(frozen=True)
class FoundLimit:
    """A time limit found in prose: the grammar phrase, the source words, a new event."""

    phrase: str
    source: str
    event: str | None = None
    event_text: str | None = None
    anchor_guessed: bool = False


def _participle(verb: str) -> str:
    """`receiving` -> `received`, `shipping` -> `shipped`, `sending` -> `sent`."""
    return _PARTICIPLES.get(verb, f"{verb[:-3]}ed")


def _object_event(words: str, verb: str) -> str:
    noun = slug(words, sep="_", max_words=2, fallback="event")
    return f"{noun}_{verb}"


def resolve_anchor(text: str) -> tuple[str, str | None, bool]:
    """Anchor words -> (anchor id, event id to declare or None, guessed?)."""
    words = fold(text).strip(" '\"")
    words = re.sub(r"^(?:the\s+)?(?:date\s+of\s+|day\s+of\s+|time\s+of\s+)", "", words)
    bare = words.removeprefix("the ")
    if words in BUILTIN_ANCHORS or bare in BUILTIN_ANCHORS:
        return BUILTIN_ANCHORS.get(words, BUILTIN_ANCHORS.get(bare, OPENED)), None, False
    if words in _OPENED_WORDS or bare in _OPENED_WORDS or f"the {bare}" in _OPENED_WORDS:
        return OPENED, None, False
    if 0 < len(bare.split()) <= 3 and bare.split()[-1] in _OPENING_NOUNS:
        return OPENED, None, False
    for pattern in (_GERUND, _RECEIPT_OF, _PASSIVE):
        match = pattern.match(words)
        if match:
            obj = match["object"]
            if pattern is _GERUND:
                verb = _participle(match["verb"])
            elif pattern is _RECEIPT_OF:
                verb = "received" if "receipt" in words or "arrival" in words else "delivered"
            else:
                verb = match["verb"]
            event = _object_event(obj, verb)
            return event, event, False
    event = slug(bare, sep="_", max_words=3, fallback="event")
    return event, event, True


def _duration(match: re.Match[str]) -> Duration | None:
    count = match["count"].lower()
    unit = match["unit"].lower()
    kind = (match["kind"] or "").strip().lower()
    try:
        return parse_duration(f"{count} {kind} {unit}".replace("  ", " "))
    except DurationError:
        return None


def find_limits(text: str) -> list[FoundLimit]:
    """Every time limit in `text`, in order, as grammar phrases."""
    found: list[FoundLimit] = []
    for match in _LIMIT.finditer(" ".join(text.split())):
        if not match["lead"] and not match["tail"]:
            continue
        if match["count"].lower() in {"a", "an"} and not match["lead"]:
            continue
        duration = _duration(match)
        if duration is None:
            continue
        anchor, event, guessed = OPENED, None, False
        anchor_words = ""
        if match["tail"]:
            anchor_words = _ANCHOR_STOP.sub("", match["anchor"]).strip()
            anchor, event, guessed = resolve_anchor(anchor_words)
        phrase = str(TimeLimit(duration, anchor))
        try:
            parse_limit(phrase)
        except TimePhraseError:
            continue
        found.append(
            FoundLimit(
                phrase=phrase,
                source=match.group(0).strip(),
                event=event,
                event_text=anchor_words or None,
                anchor_guessed=guessed,
            )
        )
    return found


def find_limit(text: str) -> FoundLimit | None:
    """The first time limit in `text`, preferring one introduced by `within`."""
    limits = find_limits(text)
    within = [found for found in limits if found.source.lower().startswith("within")]
    return (within or limits or [None])[0]


ROLE_WORDS: tuple[tuple[str, str, str], ...] = (
    # (words as written, role id, role title)
    ("customer service representative", "agent", "Customer service representative"),
    ("customer service representatives", "agent", "Customer service representative"),
    ("customer service agent", "agent", "Customer service agent"),
    ("support representative", "agent", "Support representative"),
    ("support agent", "agent", "Support agent"),
    ("customer service rep", "agent", "Customer service rep"),
    ("support rep", "agent", "Support rep"),
    ("rep", "agent", "Rep"),
    ("representatives", "agent", "Representative"),
    ("representative", "agent", "Representative"),
    ("agents", "agent", "Agent"),
    ("agent", "agent", "Agent"),
    ("csr", "agent", "Customer service representative"),
    ("advisor", "agent", "Advisor"),
    ("team leads", "team-lead", "Team lead"),
    ("team lead", "team-lead", "Team lead"),
    ("team leader", "team-lead", "Team leader"),
    ("support lead", "support-lead", "Support lead"),
    ("supervisor", "supervisor", "Supervisor"),
    ("customer service manager", "support-manager", "Customer service manager"),
    ("support manager", "support-manager", "Support manager"),
    ("account manager", "account-manager", "Account manager"),
    ("manager", "manager", "Manager"),
    ("support team", "support-team", "Support team"),
    ("customer service team", "support-team", "Customer service team"),
    ("warehouse team", "warehouse", "Warehouse team"),
    ("warehouse", "warehouse", "Warehouse"),
    ("billing team", "billing", "Billing team"),
    ("finance team", "finance", "Finance team"),
    ("finance", "finance", "Finance"),
    ("business owner", "owner", "Business owner"),
    ("owner", "owner", "Owner"),
    ("technical team", "technical-team", "Technical team"),
    ("engineering", "engineering", "Engineering"),
)
_ROLE_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(words) for words, _, _ in ROLE_WORDS) + r")\b", re.IGNORECASE
)
_ROLE_BY_WORDS = {words: (role, title) for words, role, title in ROLE_WORDS}
_NOT_OWNER = re.compile(r"\b(?:sop|document|process|page|account|product|store)\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class FoundRole:
    role: str
    title: str
    words: str


def find_roles(text: str) -> list[FoundRole]:
    """Role words in order of appearance (`agent`, `team lead`, `warehouse`, ...)."""
    found: list[FoundRole] = []
    flat = fold(text)
    for match in _ROLE_RE.finditer(flat):
        words = match.group(0).lower()
        if words == "owner" and _NOT_OWNER.search(flat[: match.start()]):
            continue
        role, title = _ROLE_BY_WORDS[words]
        found.append(FoundRole(role, title, words))
    return found


def role_for(text: str) -> FoundRole | None:
    """The role a phrase names when it is (almost) only a role, e.g. `Team Lead (Sam)`."""
    roles = find_roles(text)
    if roles:
        return roles[0]
    return None


_COMPARE = re.compile(
    r"(?P<op>>=|<=|≥|≤|>|<|at least|no less than|above|over|more than|minimum of|min\.?"
    r"|at most|no more than|below|under|less than|maximum of|max\.?)?\s*"
    r"(?P<num>\d+(?:\.\d+)?)\s*(?P<pct>%|percent)?(?:\s*(?:/|out of)\s*(?P<scale>\d+))?"
    r"\s*(?P<post>or (?:more|higher|above|better)|or (?:less|lower|fewer|below)|\+)?",
    re.IGNORECASE,
)
_AT_LEAST = {">=", "≥", "at least", "no less than", "minimum of", "min", "min."}
_ABOVE = {">", "above", "over", "more than"}
_AT_MOST = {"<=", "≤", "at most", "no more than", "maximum of", "max", "max."}
_BELOW = {"<", "below", "under", "less than"}
_METRICS: tuple[tuple[str, str], ...] = (
    ("first contact resolution", "fcr"),
    ("first-contact resolution", "fcr"),
    ("fcr", "fcr"),
    ("repeat complaint", "repeat_complaints"),
    ("csat", "csat"),
    ("satisfaction", "csat"),
    ("nps", "nps"),
    ("net promoter", "nps"),
)


def _comparison(text: str) -> str | None:
    for match in _COMPARE.finditer(text):
        op = (match["op"] or "").lower()
        post = (match["post"] or "").lower()
        if not op and not post:
            continue
        if (
            op in _AT_LEAST
            or "more" in post
            or "higher" in post
            or post in {"+"}
            or "above" in post
        ):
            symbol = ">="
        elif op in _ABOVE:
            symbol = ">"
        elif op in _AT_MOST or "less" in post or "lower" in post or "fewer" in post:
            symbol = "<="
        elif op in _BELOW:
            symbol = "<"
        else:
            symbol = ">=" if "better" in post else "<="
        percent = "%" if match["pct"] else ""
        return f"{symbol} {match['num']}{percent}"
    return None


_RATES = frozenset({"fcr", "repeat_complaints"})
_SCALES = {"csat": (1.0, 5.0), "nps": (-100.0, 100.0)}


def _fits(metric: str, value: str) -> bool:
    """Rates are percentages; scores are on their scale or a percentage."""
    number = float(value.split()[1].rstrip("%"))
    if value.endswith("%"):
        return 0 <= number <= 100
    if metric in _RATES:
        return False
    low, high = _SCALES.get(metric, (float("-inf"), float("inf")))
    return low <= number <= high


def find_standard(text: str) -> tuple[str, str] | None:
    """`"First response within 12 hours"` -> ("first_response", "12 hours");
    `"CSAT of 4.5 or more"` -> ("csat", ">= 4.5")."""
    flat = fold(text)
    for words, key in _METRICS:
        if re.search(rf"\b{re.escape(words)}", flat):
            value = _comparison(flat)
            return (key, value) if value and _fits(key, value) else None
    limit = find_limit(text)
    if limit is None:
        return None
    duration = limit.phrase.split(" after ")[0]
    if re.search(r"\b(?:first (?:response|reply)|respond|acknowledg|reply|replies)", flat):
        return "first_response", duration
    if re.search(r"\b(?:resolution|resolve|resolved|close|closed)\b", flat):
        return "resolution", duration
    return None


_CADENCE_WORDS = re.compile(
    r"\b(weekly|fortnightly|monthly|quarterly|semi-?annually|biannually|annually|yearly|"
    r"twice a year|every\s+\w+\s+(?:days?|weeks?|months?|years?))\b",
    re.IGNORECASE,
)


def find_cadence(text: str) -> str | None:
    """`"Reviewed every 6 months"` -> `every 6 months`, checked with the grammar."""
    match = _CADENCE_WORDS.search(text)
    if not match:
        return None
    phrase = fold(match.group(1))
    try:
        return str(parse_cadence(phrase))
    except TimePhraseError:
        return None
