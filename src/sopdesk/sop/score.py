"""The SOP quality score: 0 to 100, with every deduction and credit explained.

Owns the scoring table. A document that parses starts at BASE (92); each good practice
in `CREDITS` adds 2 (all four reach 100); each lint finding deducts points by code,
capped per code; any error caps the score at 45. The score is a pure function of the
document and its findings, so the same file always gets the same score, and each
reason says how to win the points back. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sopdesk.sop.findings import Finding, Severity
from sopdesk.sop.lint import lint
from sopdesk.sop.model import SYSTEM_OWNER, SopDocument
from sopdesk.sop.parser import ParseResult
from sopdesk.sop.timephrase import TimePhraseError, parse_escalation_point, parse_limit

BASE = 92
ERROR_POINTS = 10
ERROR_CAP = 60
WITH_ERRORS_MAX = 45
DEFAULT_WARNING_POINTS = (2, 6)

WARNING_POINTS: dict[str, tuple[int, int]] = {
    # code: (points per finding, most points this code can cost)
    "SOP102": (4, 28),
    "SOP103": (3, 12),
    "SOP105": (3, 12),
    "SOP106": (2, 10),
    "SOP108": (2, 6),
    "SOP123": (1, 3),
    "SOP124": (1, 3),
    "SOP125": (2, 6),
    "SOP126": (2, 6),
    "SOP127": (3, 3),
    "SOP128": (3, 9),
}
CREDIT_POINTS = 2


@dataclass(frozen=True)
class Score:
    score: int
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"score": self.score, "reasons": list(self.reasons)}


def score(result: ParseResult) -> Score:
    """Score one parsed SOP: BASE plus credits minus deductions, capped when it has errors."""
    findings = lint(result)
    if result.document is None:
        return Score(0, [_unreadable_reason(findings)])
    deductions, reasons = _deductions(findings)
    credits = list(_credits(result.document))
    value = BASE - deductions + CREDIT_POINTS * len(credits)
    reasons += credits
    reasons += _missed_credits(result.document)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors and value > WITH_ERRORS_MAX:
        value = WITH_ERRORS_MAX
        reasons.append(f"capped at {WITH_ERRORS_MAX} while the SOP has errors: fix them first")
    return Score(max(0, min(100, value)), reasons)


def _unreadable_reason(findings: list[Finding]) -> str:
    first = findings[0] if findings else None
    detail = f": {first.message} (line {first.line}; {first.hint})" if first else ""
    return f"0: the file cannot be read as an SOP{detail}"


def _deductions(findings: list[Finding]) -> tuple[int, list[str]]:
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    total = 0
    error_points = 0
    reasons: list[str] = []
    for code in sorted(by_code):
        group = by_code[code]
        if group[0].severity is Severity.ERROR:
            points = min(ERROR_POINTS * len(group), ERROR_CAP - error_points)
            error_points += points
        else:
            each, cap = WARNING_POINTS.get(code, DEFAULT_WARNING_POINTS)
            points = min(each * len(group), cap)
        total += points
        reasons.append(_reason(code, group, points))
    return total, reasons


def _reason(code: str, group: list[Finding], points: int) -> str:
    first = group[0]
    what = first.message if len(group) == 1 else f"{len(group)} times, e.g. {first.message}"
    detail = f"{code} {what} (line {first.line})"
    if points == 0:
        return f"also fix: {detail}; {first.hint}"
    return f"-{points}: {detail}; to gain the points back: {first.hint}"


@dataclass(frozen=True)
class Credit:
    """A good practice beyond the lint checks, worth CREDIT_POINTS."""

    earned: Callable[[SopDocument], bool]
    praise: str
    advice: str


def _credits(document: SopDocument) -> Iterator[str]:
    for credit in CREDITS:
        if credit.earned(document):
            yield f"+{CREDIT_POINTS}: {credit.praise}"


def _missed_credits(document: SopDocument) -> Iterator[str]:
    for credit in CREDITS:
        if not credit.earned(document):
            yield f"could earn +{CREDIT_POINTS}: {credit.advice}"


def _checklists(document: SopDocument) -> bool:
    people = [s for s in document.meta.steps if s.owner != SYSTEM_OWNER]
    return bool(people) and 2 * sum(1 for s in people if s.checklist) >= len(people)


def _evidence(document: SopDocument) -> bool:
    critical = [s for s in document.meta.steps if s.critical]
    return bool(critical) and all(s.evidence for s in critical)


def _early_warning(document: SopDocument) -> bool:
    return any(_is_early(level.at) for level in document.meta.escalation)


def _is_early(point: str) -> bool:
    try:
        return parse_escalation_point(point).percent is not None
    except TimePhraseError:
        return False


def _feedback(document: SopDocument) -> bool:
    return any(_after_resolution(f.after) for f in document.meta.followups)


def _after_resolution(phrase: str) -> bool:
    try:
        return parse_limit(phrase).anchor in {"resolved", "closed"}
    except TimePhraseError:
        return False


CREDITS: tuple[Credit, ...] = (
    Credit(
        _checklists,
        "most people-owned steps carry a checklist",
        "give most steps a checklist of what 'done' means",
    ),
    Credit(
        _evidence,
        "every critical step names the evidence it must leave",
        "mark the step that matters most critical: true and list its evidence",
    ),
    Credit(
        _early_warning,
        "the escalation matrix warns someone before the deadline is missed",
        "add an escalation level at 75% that notifies a lead",
    ),
    Credit(
        _feedback,
        "a follow-up after resolution asks the customer how it went",
        "add a follow-up such as a survey 1 day after resolved",
    ),
)
"""Good practices beyond the lint checks; BASE plus all of them is 100."""
