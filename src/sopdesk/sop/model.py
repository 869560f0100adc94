"""The SOP document model: what the YAML front matter may say, and the readable sections.

Field validators check *shape* (types, ids, time phrases); the linter (`sop.lint`)
checks *meaning* across fields (owners exist, templates used, anchors reachable).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sopdesk.sop.timephrase import (
    parse_cadence,
    parse_escalation_point,
    parse_limit,
)

ID_PATTERN = r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN, max_length=80)]

SYSTEM_OWNER = "system"
"""A step owned by `system` is carried out by sopdesk itself (e.g. sending a template)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Channel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    API = "api"
    PHONE = "phone"
    SMS = "sms"
    CHAT = "chat"
    CALL = "call"


class Trigger(StrEnum):
    """What starts a run of this SOP."""

    CASE = "case"
    CUSTOMER_CREATED = "customer_created"
    PURCHASE = "purchase"
    MANUAL = "manual"


class AppliesTo(Strict):
    """Scope as rules: which cases (or customer events) start this SOP."""

    trigger: Trigger = Trigger.CASE
    case_type: Identifier | None = None
    channels: list[Channel] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    customer_tags: list[str] = Field(default_factory=list)
    when: str | None = None
    priority: int = Field(default=100, ge=0, le=10000)


class Role(Strict):
    title: str = Field(min_length=1)
    responsibilities: list[str] = Field(default_factory=list)


class Step(Strict):
    id: Identifier
    title: str = Field(min_length=1)
    owner: Identifier | None = None
    within: str | None = None
    send: Identifier | None = None
    when: str | None = None
    critical: bool = False
    checklist: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    details: str | None = None

    @field_validator("within")
    @classmethod
    def _limit(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limit(value)
        return value


class EscalationLevel(Strict):
    """One row of the escalation matrix: at a point, who is told, who takes over."""

    at: str
    level: int | None = Field(default=None, ge=1, le=20)
    metric: str | None = None
    notify: list[Identifier] = Field(default_factory=list)
    assign: Identifier | None = None
    priority: str | None = Field(default=None, pattern=r"^(low|normal|high|urgent)$")
    respond_within: str | None = None
    note: str | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _point(cls, value: Any) -> str:
        text = str(value)
        parse_escalation_point(text)
        return text

    @field_validator("notify", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("respond_within")
    @classmethod
    def _respond(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limit(value)
        return value


class Followup(Strict):
    """A message or task scheduled after an anchor, cancelled if the case reopens."""

    id: Identifier | None = None
    send: Identifier
    after: str
    channel: Channel = Channel.EMAIL
    owner: Identifier | None = None
    unless: str | None = None

    @field_validator("after")
    @classmethod
    def _after(cls, value: str) -> str:
        parse_limit(value)
        return value


class Template(Strict):
    subject: str | None = None
    body: str = Field(min_length=1)
    channel: Channel = Channel.EMAIL
    description: str | None = None


_COMPARISON = re.compile(r"^\s*(>=|<=|>|<|=)\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


class FrontMatter(Strict):
    """Everything sopdesk runs. Keys are documented in docs/sop-format.md."""

    id: Identifier
    title: str = Field(min_length=3, max_length=200)
    summary: str | None = None
    owner: Identifier
    review: str
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    calendar: Identifier = "default"
    tags: list[str] = Field(default_factory=list)
    roles: dict[Identifier, Role] = Field(default_factory=dict)
    events: dict[Identifier, str] = Field(default_factory=dict)
    fields: dict[Identifier, str] = Field(default_factory=dict)
    standards: dict[Identifier, str] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    escalation: list[EscalationLevel] = Field(default_factory=list)
    followups: list[Followup] = Field(default_factory=list)
    templates: dict[Identifier, Template] = Field(default_factory=dict)

    @field_validator("review")
    @classmethod
    def _cadence(cls, value: str) -> str:
        parse_cadence(value)
        return value

    @field_validator("standards", mode="before")
    @classmethod
    def _standards_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: str(item) if isinstance(item, int | float) else item
                for key, item in value.items()
            }
        return value


class SectionKey(StrEnum):
    PURPOSE = "purpose"
    SCOPE = "scope"
    RESPONSIBILITIES = "responsibilities"
    PROCEDURE = "procedure"
    TOOLS = "tools"
    STANDARDS = "standards"
    RECORDS = "records"
    TROUBLESHOOTING = "troubleshooting"
    ESCALATION = "escalation"
    GLOSSARY = "glossary"


SECTION_TITLES: dict[SectionKey, str] = {
    SectionKey.PURPOSE: "Purpose",
    SectionKey.SCOPE: "Scope",
    SectionKey.RESPONSIBILITIES: "Responsibilities",
    SectionKey.PROCEDURE: "Procedure",
    SectionKey.TOOLS: "Tools and Resources",
    SectionKey.STANDARDS: "Performance Standards",
    SectionKey.RECORDS: "Records",
    SectionKey.TROUBLESHOOTING: "Troubleshooting",
    SectionKey.ESCALATION: "Escalation",
    SectionKey.GLOSSARY: "Glossary",
}

SECTION_SYNONYMS: dict[str, SectionKey] = {
    "purpose": SectionKey.PURPOSE,
    "objective": SectionKey.PURPOSE,
    "objectives": SectionKey.PURPOSE,
    "purpose and scope": SectionKey.PURPOSE,
    "scope": SectionKey.SCOPE,
    "responsibilities": SectionKey.RESPONSIBILITIES,
    "roles and responsibilities": SectionKey.RESPONSIBILITIES,
    "roles": SectionKey.RESPONSIBILITIES,
    "procedure": SectionKey.PROCEDURE,
    "procedures": SectionKey.PROCEDURE,
    "process": SectionKey.PROCEDURE,
    "process steps": SectionKey.PROCEDURE,
    "steps": SectionKey.PROCEDURE,
    "procedure details": SectionKey.PROCEDURE,
    "tools and resources": SectionKey.TOOLS,
    "tools": SectionKey.TOOLS,
    "resources": SectionKey.TOOLS,
    "performance standards": SectionKey.STANDARDS,
    "standards": SectionKey.STANDARDS,
    "kpis": SectionKey.STANDARDS,
    "metrics": SectionKey.STANDARDS,
    "records": SectionKey.RECORDS,
    "documentation and records": SectionKey.RECORDS,
    "record keeping": SectionKey.RECORDS,
    "troubleshooting": SectionKey.TROUBLESHOOTING,
    "exceptions": SectionKey.TROUBLESHOOTING,
    "escalation": SectionKey.ESCALATION,
    "escalation path": SectionKey.ESCALATION,
    "escalation matrix": SectionKey.ESCALATION,
    "escalation process": SectionKey.ESCALATION,
    "glossary": SectionKey.GLOSSARY,
    "definitions": SectionKey.GLOSSARY,
    "glossary or definitions": SectionKey.GLOSSARY,
}


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: SectionKey | None
    title: str
    markdown: str
    line: int


class SopDocument(BaseModel):
    """A parsed SOP: the front matter, the body sections, and the exact source text."""

    model_config = ConfigDict(frozen=True)

    meta: FrontMatter
    sections: list[Section]
    body: str
    source: str
    path: str | None = None
    body_line: int = 1

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def title(self) -> str:
        return self.meta.title

    def section(self, key: SectionKey) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.meta.steps if s.id == step_id), None)


def parse_comparison(text: str) -> tuple[str, float, bool] | None:
    """`">= 4.5"` -> (">=", 4.5, False); `">= 70%"` -> (">=", 70.0, True); else None."""
    match = _COMPARISON.match(text)
    if not match:
        return None
    op, number, percent = match.groups()
    return op, float(number), bool(percent)
