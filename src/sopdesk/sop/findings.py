"""Findings: errors and warnings with a stable code, a position and a fix hint.

Printed like a compiler (`returns.md:14:5: error SOP012 ...`). Every code is listed in
`CODES` with a one-line meaning; docs/sop-format.md documents them and a test checks it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    path: str
    line: int
    column: int
    message: str
    hint: str

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.severity.value} {self.code} "
        text += self.message
        return f"{text}\n    hint: {self.hint}" if self.hint else text


CODES: dict[str, str] = {
    # the file itself (parser)
    "SOP001": "no YAML front matter between '---' lines at the top of the file",
    "SOP002": "the front matter is not valid YAML",
    "SOP003": "a value has the wrong type or shape",
    "SOP004": "an unknown key",
    "SOP005": "a required key is missing",
    "SOP006": "a time phrase, cadence or escalation point outside the grammar",
    "SOP007": "a duplicate key or id",
    "SOP008": "the file is not UTF-8 text",
    "SOP009": "the file is too large to be an SOP",
    "SOP010": "a condition expression is not valid",
    "SOP011": "a message template is not valid Jinja2",
    # the document's meaning (linter)
    "SOP101": "a core SOP component is missing (purpose, scope, responsibilities, steps)",
    "SOP102": "a supporting SOP component is missing (tools, standards, records, ...)",
    "SOP103": "a step has no owner",
    "SOP104": "a critical step has no owner",
    "SOP105": "a step has no time limit",
    "SOP106": "vague time language ('ASAP', 'promptly', 'soon') where a limit belongs",
    "SOP107": "a template placeholder that no context fills",
    "SOP108": "a template that no step or follow-up sends",
    "SOP109": "a step or follow-up sends a template that does not exist",
    "SOP110": "a role is used but not declared under roles",
    "SOP111": "an escalation level that nobody receives (no notify, no assign)",
    "SOP112": "an anchor that is not a built-in event, a step or a declared event",
    "SOP113": "steps anchored on themselves or in a circle",
    "SOP114": "a step that can never start because its anchor never happens",
    "SOP115": "a condition or template reads a case field not declared under fields",
    "SOP116": "a standard or escalation metric that sopdesk cannot measure",
    "SOP117": "a time standard that is not a plain duration",
    "SOP118": "a target that is not a comparison such as '>= 4.5' or '<= 5%', or is out of range",
    "SOP119": "a step owned by system that sends nothing",
    "SOP120": "a call or SMS follow-up sends an email-only template",
    "SOP121": "escalation levels out of order",
    "SOP122": "an escalation respond_within with an anchor (it counts from the escalation)",
    "SOP123": "a role declared but never used",
    "SOP124": "an event declared but never used as an anchor",
    "SOP125": "a section that is empty or appears twice",
    "SOP126": "an email template without a subject",
    "SOP127": "a review cadence longer than a year",
    "SOP128": "a step's time limit is longer than the SOP's own standard for it",
    "SOP129": "a link name that looks like a misspelt built-in link (links.surevy)",
    "SOP199": "the linter failed on one rule (a bug: please report it)",
}

WARNINGS: frozenset[str] = frozenset(
    {
        "SOP102",
        "SOP103",
        "SOP105",
        "SOP106",
        "SOP108",
        "SOP123",
        "SOP124",
        "SOP125",
        "SOP126",
        "SOP127",
        "SOP128",
        "SOP129",
    }
)
"""Codes reported as warnings; every other code is an error."""


def severity_of(code: str) -> Severity:
    return Severity.WARNING if code in WARNINGS else Severity.ERROR


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.column, f.code))
