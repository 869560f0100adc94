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
}


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.column, f.code))
