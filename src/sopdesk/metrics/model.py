"""The plain data the KPIs are computed from, and the shape of the answer.

The shell (`sopdesk.actions.reports`) turns rows into these facts with a few set-based
queries; `sopdesk.metrics.kpis` turns facts into a `Report`. Nothing here knows about
SQLAlchemy or the clock, so every rule is tested with hand-made facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Period:
    """The half-open interval [since, until) of `opened_at` a report covers; None is open."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("the period must end after it starts")

    def contains(self, moment: datetime) -> bool:
        after = self.since is None or moment >= self.since
        return after and (self.until is None or moment < self.until)


PROACTIVE_CHANNEL = "internal"
"""The channel of the cases we open ourselves: by sopdesk when a customer's event starts
an SOP with a person's step (onboarding, loyalty), or by an agent for an outreach.
Those cases are not customers contacting us, so the KPIs about contacts leave them out."""


@dataclass(frozen=True)
class CaseFacts:
    """One case opened in the period, with what the KPIs need from its history.

    `agent_replies` counts public replies written by a person up to the resolution
    (automatic SOP mail does not count); `breaches` holds the target of every
    `sla.breached` event (`step:refund`, `metric:first_response`).
    """

    case_id: int
    customer_id: int
    opened_at: datetime
    channel: str = "email"
    case_type: str | None = None
    sop_id: str | None = None
    sop_version: int | None = None
    assignee: str | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    reopen_count: int = 0
    agent_replies: int = 0
    breaches: tuple[str, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def proactive(self) -> bool:
        return self.channel == PROACTIVE_CHANNEL


@dataclass(frozen=True)
class Contact:
    """Any case of a customer the report looks at, inside the period or not: repeat
    complaints and repeat contacts look at the customer's other cases."""

    case_id: int
    customer_id: int
    opened_at: datetime
    case_type: str | None = None
    channel: str = "email"

    @property
    def proactive(self) -> bool:
        return self.channel == PROACTIVE_CHANNEL


@dataclass(frozen=True)
class SurveyFacts:
    """A customer's answer: about a case (`case_id`), or about an SOP from a customer
    sequence's e-mail (`case_id` None; it counts when answered in the period)."""

    rating: int
    resolved: bool | None
    answered_at: datetime
    case_id: int | None = None
    customer_id: int | None = None
    sop_id: str | None = None


@dataclass(frozen=True)
class Purchase:
    """A `customer.purchase` event."""

    customer_id: int
    at: datetime


@dataclass(frozen=True)
class Facts:
    """Everything a report reads. `cases` are the cases opened in `period`; `contacts`,
    `purchases` and `surveys` may hold more (the core filters what counts)."""

    period: Period
    cases: tuple[CaseFacts, ...] = ()
    surveys: tuple[SurveyFacts, ...] = ()
    contacts: tuple[Contact, ...] = ()
    purchases: tuple[Purchase, ...] = ()


class Dimension(StrEnum):
    """What a report groups by."""

    OVERALL = "overall"
    SOP = "sop"
    VERSION = "version"
    CHANNEL = "channel"
    ASSIGNEE = "assignee"


@dataclass(frozen=True)
class GroupKey:
    """One group's identity. Only the fields of the report's dimension are set;
    `sequence` marks the answers of customer-sequence surveys, which belong to no case
    (and so to no channel, assignee or SOP version)."""

    sop_id: str | None = None
    version: int | None = None
    channel: str | None = None
    assignee: str | None = None
    sequence: bool = False

    def label(self, by: Dimension) -> str:
        """How a person reads the group's name."""
        if by is Dimension.OVERALL:
            return "All cases"
        if self.sequence and by in (Dimension.CHANNEL, Dimension.ASSIGNEE):
            return "customer sequence surveys (no case)"
        if by is Dimension.CHANNEL:
            return self.channel or "unknown channel"
        if by is Dimension.ASSIGNEE:
            return self.assignee or "unassigned"
        sop = self.sop_id or "no SOP (triage or imported)"
        if by is Dimension.SOP:
            return sop
        if self.sequence:
            return f"{sop} (sequence surveys)"
        return f"{sop} v{self.version}" if self.version is not None else f"{sop} (no run)"

    def sort_key(self) -> tuple[object, ...]:
        """Named groups first, alphabetically; versions in order; the unnamed last."""
        name = self.sop_id or self.channel or self.assignee
        return (name is None, name or "", self.sequence, self.version or 0)


@dataclass(frozen=True)
class Durations:
    """A distribution of durations in hours; every figure None when `count` is 0.

    Percentiles use the nearest-rank method (`stats.percentile`): always an observed
    value."""

    count: int
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class Csat:
    """Customer satisfaction from survey answers (rating 1..5)."""

    answers: int
    satisfied: int  # ratings 4 and 5
    csat: float | None  # satisfied / answers
    mean_rating: float | None
    answered_resolved_cases: int  # resolved cases with an answer
    response_rate: float | None  # answered_resolved_cases / resolved cases


@dataclass(frozen=True)
class Fcr:
    """First contact resolution, measured two ways and reported side by side."""

    resolved_cases: int
    first_contact: int  # at most one agent reply, never reopened
    rate: float | None  # first_contact / resolved_cases
    said_answers: int  # answers that said yes or no to "did we solve it"
    said_yes: int
    customer_yes_share: float | None  # said_yes / said_answers


@dataclass(frozen=True)
class Sla:
    """Service levels: cases without any breach, and breaches by target."""

    cases: int
    breached_cases: int
    attainment: float | None  # (cases - breached_cases) / cases
    breaches_by_target: tuple[tuple[str, int], ...]  # (target, breaches), most first


@dataclass(frozen=True)
class Repeats:
    """Repeat complaints (customers) and repeat contacts (cases)."""

    complaining_customers: int
    repeat_complainers: int
    repeat_complaint_share: float | None
    resolved_cases: int
    repeat_contacts: int
    repeat_contact_share: float | None


@dataclass(frozen=True)
class RepeatBusiness:
    """Customers with a resolved case who bought again within the window."""

    customers: int
    returning: int
    share: float | None


@dataclass(frozen=True)
class Kpis:
    """Every KPI of one group."""

    cases: int
    resolved: int
    proactive: int  # of `cases`, opened by us (see PROACTIVE_CHANNEL)
    csat: Csat
    fcr: Fcr
    first_response: Durations
    resolution: Durations
    sla: Sla
    repeats: Repeats
    repeat_business: RepeatBusiness


@dataclass(frozen=True)
class GroupReport:
    key: GroupKey
    label: str
    kpis: Kpis


@dataclass(frozen=True)
class Report:
    """The KPIs over the whole period, and per group when `by` is not overall."""

    period: Period
    by: Dimension
    overall: Kpis
    groups: tuple[GroupReport, ...]
