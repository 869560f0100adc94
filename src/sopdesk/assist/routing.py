"""Routing: which SOP, and which case type, a new inquiry runs — and why.

Owns the matching of an SOP's `applies_to` rules against an incoming inquiry, the
ranking of the SOPs that match, the classifier extension point used when no rule
matches, and the triage decision when nothing does. Rules, in short (docs/routing.md):

- only `trigger: case` SOPs route cases;
- an SOP matches when every criterion it states holds: `case_type` (equal to the type
  the channel gave; with no given type, the SOP's keywords stand for its type, so an
  SOP naming a type but no keywords needs an explicit type), `channels`, `keywords`
  (any one, as whole words, case- and accent-insensitive, common inflections allowed),
  `customer_tags` (any one), and `when` (a sandboxed condition);
- SOPs matched through the explicit case type rank first; then the lowest `priority`,
  then the most criteria matched, then the SOP id.

Pure: no I/O, no clock. Must not import `sopdesk.store`, `sopdesk.web` or `sopdesk.actions`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from sopdesk.engine.conditions import customer_context
from sopdesk.engine.state import Case, Customer
from sopdesk.sop.expressions import ExpressionError, evaluate
from sopdesk.sop.model import AppliesTo, FrontMatter, Trigger

DEFAULT_THRESHOLD = 0.5
"""A classifier candidate below this confidence is not acted on; the case goes to triage."""

TRIAGE_QUEUE = "triage"


@dataclass(frozen=True)
class Inquiry:
    """What routing sees of a new case: where it came from, what it says, who sent it.

    `case_type` is set only when the channel itself supplied one (a web form's
    "type" menu, an API field, an import column); routing never guesses it here.
    `customer` holds extra `customer.*` attributes for `when` conditions.
    """

    channel: str = "email"
    subject: str = ""
    body: str = ""
    customer_tags: tuple[str, ...] = ()
    customer_tier: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    case_type: str | None = None
    tags: tuple[str, ...] = ()
    customer: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_case(cls, case: Case, body: str = "", customer: Customer | None = None) -> Inquiry:
        """The inquiry for an engine `Case` (its `type`, if set, counts as explicit)."""
        return cls(
            channel=case.channel,
            subject=case.subject,
            body=body,
            customer_tags=customer.tags if customer else (),
            customer_tier=customer.tier if customer else None,
            fields=dict(case.fields),
            case_type=case.type,
            tags=case.tags,
            customer=customer_context(customer),
        )

    @property
    def text(self) -> str:
        """Subject and body as one text, for classifiers."""
        return f"{self.subject}\n{self.body}".strip()


class RoutableSop(Protocol):
    """What routing needs of an SOP; `sop.model.FrontMatter` is one."""

    @property
    def id(self) -> str: ...

    @property
    def applies_to(self) -> AppliesTo: ...


class Classifier(Protocol):
    """Learns case types (or SOP ids) from past cases; asked only when no rule matches."""

    def predict(self, inquiry: Inquiry) -> Sequence[tuple[str, float]]:
        """Candidate labels (a case type or an SOP id) with confidences in [0, 1]."""
        ...


class Criterion(StrEnum):
    CASE_TYPE = "case_type"
    CHANNEL = "channel"
    KEYWORDS = "keywords"
    CUSTOMER_TAGS = "customer_tags"
    WHEN = "when"
    CLASSIFIER = "classifier"


@dataclass(frozen=True)
class Reason:
    """One criterion that held, in words an agent can read."""

    criterion: Criterion
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Match:
    """An SOP whose rules hold for the inquiry."""

    sop_id: str
    case_type: str | None
    priority: int
    reasons: tuple[Reason, ...]
    explicit_type: bool = False

    @property
    def rank(self) -> tuple[bool, int, int, str]:
        """Sort key: explicit type first, lowest priority, most criteria, then id."""
        return (not self.explicit_type, self.priority, -len(self.reasons), self.sop_id)


class RouteSource(StrEnum):
    RULES = "rules"
    CLASSIFIER = "classifier"
    TRIAGE = "triage"


@dataclass(frozen=True)
class RouteDecision:
    """Where a case goes: an SOP (by rules or by the classifier) or the triage queue.

    `reasons` say why, for agents; `runners_up` are the other SOPs that matched, best
    first; `candidates` are what the classifier proposed (also on a triage decision,
    as suggestions); `problems` name SOP rules that could not be evaluated.
    """

    source: RouteSource
    sop_id: str | None = None
    case_type: str | None = None
    reasons: tuple[Reason, ...] = ()
    runners_up: tuple[Match, ...] = ()
    confidence: float | None = None
    candidates: tuple[tuple[str, float], ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def triage(self) -> bool:
        """True when no SOP was chosen and the case waits in the triage queue."""
        return self.source is RouteSource.TRIAGE

    @property
    def by_classifier(self) -> bool:
        return self.source is RouteSource.CLASSIFIER

    @property
    def queue(self) -> str | None:
        return TRIAGE_QUEUE if self.triage else None

    def explain(self) -> str:
        """One line for the case page: what was chosen and why."""
        if self.triage:
            return "No SOP applies: the case waits in the triage queue."
        why = "; ".join(str(reason) for reason in self.reasons) or "it applies to every case"
        return f"Routed to {self.sop_id}: {why}."


# --- text matching -------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case, no accents, straight apostrophes, single spaces: what keywords compare."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACE.sub(" ", bare.casefold()).strip()


def _inflected(word: str) -> str:
    """A pattern for a word and its common English inflections (return, returns, returned)."""
    if len(word) < 3 or not word.isalpha() or word.endswith(("ed", "ing")):
        return re.escape(word)
    if word.endswith("e"):
        return re.escape(word[:-1]) + "(?:e|es|ed|ing)"
    if word.endswith("y") and word[-2] not in "aeiou":
        return re.escape(word[:-1]) + "(?:y|ies|ied|ying)"
    return re.escape(word) + "(?:s|es|ed|ing)?"


@lru_cache(maxsize=4096)
def keyword_pattern(keyword: str) -> re.Pattern[str] | None:
    """The compiled pattern for one keyword or phrase; None for a blank keyword."""
    words = fold(keyword).split(" ")
    if not words or words == [""]:
        return None
    body = r"[\s\-]+".join(_inflected(word) for word in words)
    return re.compile(rf"(?<!\w){body}(?!\w)")


def find_keywords(keywords: Sequence[str], text: str) -> list[str]:
    """The keywords found in `text` (already folded), in the SOP's order."""
    found = []
    for keyword in keywords:
        pattern = keyword_pattern(keyword)
        if pattern is not None and pattern.search(text):
            found.append(keyword)
    return found


# --- one SOP against one inquiry -----------------------------------------------------


@dataclass(frozen=True)
class _Texts:
    subject: str
    body: str


@dataclass(frozen=True)
class _Outcome:
    match: Match | None
    problem: str | None = None


def _keyword_reason(rules: AppliesTo, texts: _Texts) -> Reason | None:
    """Which keywords the subject and the message mention; None when neither does."""
    parts = []
    for where, text in (("subject", texts.subject), ("message", texts.body)):
        found = find_keywords(rules.keywords, text)
        if found:
            parts.append(f"the {where} mentions " + ", ".join(f"'{word}'" for word in found))
    return Reason(Criterion.KEYWORDS, " and ".join(parts)) if parts else None


def _content_reasons(
    rules: AppliesTo, inquiry: Inquiry, texts: _Texts, assumed: bool
) -> tuple[list[Reason], bool] | None:
    """Case type and keywords; None when they rule the SOP out. Also: explicit type used."""
    explicit = rules.case_type is not None and inquiry.case_type == rules.case_type
    if rules.case_type is not None and inquiry.case_type not in (None, rules.case_type):
        return None
    reasons: list[Reason] = []
    if explicit:
        reasons.append(Reason(Criterion.CASE_TYPE, f"the case type is '{rules.case_type}'"))
    if rules.keywords:
        keyword_reason = _keyword_reason(rules, texts)
        if keyword_reason is not None:
            reasons.append(keyword_reason)
        elif not (explicit or assumed):
            return None
    elif rules.case_type is not None and not (explicit or assumed):
        return None
    return reasons, explicit


def _context_reasons(rules: AppliesTo, inquiry: Inquiry) -> list[Reason] | None:
    """Channel and customer tags; None when they rule the SOP out."""
    reasons: list[Reason] = []
    if rules.channels:
        if fold(inquiry.channel) not in {channel.value for channel in rules.channels}:
            return None
        reasons.append(Reason(Criterion.CHANNEL, f"it came in by {inquiry.channel}"))
    if rules.customer_tags:
        held = {fold(tag) for tag in inquiry.customer_tags}
        shared = [tag for tag in rules.customer_tags if fold(tag) in held]
        if not shared:
            return None
        names = ", ".join(f"'{tag}'" for tag in shared)
        reasons.append(Reason(Criterion.CUSTOMER_TAGS, f"the customer is tagged {names}"))
    return reasons


def condition_context(inquiry: Inquiry, case_type: str | None) -> dict[str, Any]:
    """The `case.*` and `customer.*` names an `applies_to.when` condition may read."""
    customer = dict(inquiry.customer)
    customer["tags"] = list(inquiry.customer_tags)
    if inquiry.customer_tier is not None:
        customer["tier"] = inquiry.customer_tier
    return {
        "case": {
            "subject": inquiry.subject,
            "description": inquiry.body,
            "type": case_type,
            "channel": inquiry.channel,
            "tags": list(inquiry.tags),
            "fields": dict(inquiry.fields),
        },
        "customer": customer,
    }


def _texts(inquiry: Inquiry) -> _Texts:
    return _Texts(fold(inquiry.subject), fold(inquiry.body))


def match_sop(
    sop: RoutableSop, inquiry: Inquiry, *, assumed: bool = False, texts: _Texts | None = None
) -> _Outcome:
    """Whether `sop`'s rules hold for `inquiry`, and which criteria did.

    `assumed` treats the content criteria (case type, keywords) as given: the classifier
    has already said what the inquiry is about. `texts` is the folded inquiry, when the
    caller matches many SOPs against one inquiry.
    """
    rules = sop.applies_to
    if rules.trigger is not Trigger.CASE:
        return _Outcome(None)
    content = _content_reasons(rules, inquiry, texts or _texts(inquiry), assumed)
    context = _context_reasons(rules, inquiry) if content is not None else None
    if content is None or context is None:
        return _Outcome(None)
    reasons, explicit = content
    reasons.extend(context)
    case_type = rules.case_type or inquiry.case_type
    if rules.when:
        try:
            if not evaluate(rules.when, condition_context(inquiry, case_type)):
                return _Outcome(None)
        except ExpressionError as exc:
            return _Outcome(None, f"{sop.id}: applies_to.when was skipped — {exc}")
        reasons.append(Reason(Criterion.WHEN, f"its condition holds: {rules.when}"))
    match = Match(sop.id, case_type, rules.priority, tuple(reasons), explicit)
    return _Outcome(match)


# --- ranking and the decision ----------------------------------------------------------


def rank(sops: Sequence[RoutableSop], inquiry: Inquiry) -> tuple[list[Match], list[str]]:
    """Every SOP that matches, best first, and the problems met on the way."""
    texts = _texts(inquiry)
    outcomes = [match_sop(sop, inquiry, texts=texts) for sop in sops]
    matches = sorted((o.match for o in outcomes if o.match), key=lambda match: match.rank)
    return matches, [o.problem for o in outcomes if o.problem]


def route(
    inquiry: Inquiry,
    sops: Sequence[RoutableSop],
    classifier: Classifier | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> RouteDecision:
    """Choose the SOP for a new inquiry: rules first, then the classifier, else triage."""
    matches, problems = rank(sops, inquiry)
    if matches:
        best, *others = matches
        return RouteDecision(
            source=RouteSource.RULES,
            sop_id=best.sop_id,
            case_type=best.case_type,
            reasons=best.reasons,
            runners_up=tuple(others),
            problems=tuple(problems),
        )
    candidates = _candidates(classifier, inquiry)
    chosen = _classified(candidates, inquiry, sops, threshold)
    if chosen is not None:
        match, confidence = chosen
        return RouteDecision(
            source=RouteSource.CLASSIFIER,
            sop_id=match.sop_id,
            case_type=match.case_type,
            reasons=match.reasons,
            confidence=confidence,
            candidates=candidates,
            problems=tuple(problems),
        )
    return RouteDecision(
        source=RouteSource.TRIAGE,
        case_type=inquiry.case_type,
        candidates=candidates,
        problems=tuple(problems),
    )


def _candidates(classifier: Classifier | None, inquiry: Inquiry) -> tuple[tuple[str, float], ...]:
    if classifier is None:
        return ()
    predicted = [(str(label), float(score)) for label, score in classifier.predict(inquiry)]
    return tuple(sorted(predicted, key=lambda item: (-item[1], item[0])))


def _classified(
    candidates: Sequence[tuple[str, float]],
    inquiry: Inquiry,
    sops: Sequence[RoutableSop],
    threshold: float,
) -> tuple[Match, float] | None:
    """The first candidate at or above the threshold that resolves to an SOP."""
    for label, confidence in candidates:
        if confidence < threshold:
            return None
        match = _resolve(label, inquiry, sops)
        if match is not None:
            reason = Reason(
                Criterion.CLASSIFIER,
                f"the classifier says '{label}' with confidence {confidence:.2f}",
            )
            return replace(match, reasons=(reason, *match.reasons)), confidence
    return None


def _resolve(label: str, inquiry: Inquiry, sops: Sequence[RoutableSop]) -> Match | None:
    """The SOP a predicted label stands for: an SOP id, else the best SOP of that type.

    The channel's own case type wins: a label that contradicts it is ignored.
    """
    by_id = next((sop for sop in sops if sop.id == label), None)
    if by_id is not None:
        declared = by_id.applies_to.case_type
        if inquiry.case_type not in (None, declared) and declared is not None:
            return None
        return match_sop(by_id, inquiry, assumed=True).match
    if inquiry.case_type not in (None, label):
        return None
    typed = replace(inquiry, case_type=label)
    of_type = [sop for sop in sops if sop.applies_to.case_type == label]
    matches = [m for m in (match_sop(sop, typed).match for sop in of_type) if m]
    return min(matches, key=lambda match: match.rank, default=None)


@dataclass(frozen=True)
class Suggestion:
    """An SOP a person may start on a case in triage; `confidence` when the classifier
    proposed it."""

    sop_id: str
    title: str
    suggested: bool = False
    confidence: float | None = None


def triage_suggestions(
    candidates: Sequence[tuple[str, float]], sops: Sequence[FrontMatter]
) -> list[Suggestion]:
    """Every `trigger: case` SOP for the triage form: the classifier's candidates first
    (by id, or by the case type an SOP applies to), in the classifier's order, then the
    others by title."""
    case_sops = [s for s in sops if s.applies_to.trigger is Trigger.CASE]
    chosen: dict[str, Suggestion] = {}
    for label, confidence in candidates:
        for sop in case_sops:
            if sop.id not in chosen and label in (sop.id, sop.applies_to.case_type):
                chosen[sop.id] = Suggestion(sop.id, sop.title, True, confidence)
    rest = sorted((s for s in case_sops if s.id not in chosen), key=lambda s: (s.title, s.id))
    return [*chosen.values(), *(Suggestion(s.id, s.title) for s in rest)]
