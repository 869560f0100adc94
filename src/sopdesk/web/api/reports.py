"""/api/v1/reports/kpis: whether the SOPs work, measured (`report.read`).

A thin edge over `sopdesk.actions.reports` (which loads the facts) and the pure
`sopdesk.metrics` (which defines every KPI, see docs/metrics.md). Shares are numbers
from 0 to 1 and durations are hours; a KPI with nothing to measure is null, never 0.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from sopdesk.actions.reports import kpi_report, period_of
from sopdesk.auth.permissions import Principal
from sopdesk.metrics import Dimension
from sopdesk.metrics.present import report_dict
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.security import DbSession

router = APIRouter(tags=["reports"], responses=m.ERROR_RESPONSES)

ReportReader = Annotated[Principal, Depends(require("report.read"))]

Share = Annotated[float | None, Field(ge=0, le=1)]
Hours = Annotated[float | None, Field(ge=0)]


class CsatOut(BaseModel):
    """Customer satisfaction from survey answers (ratings 1 to 5)."""

    answers: int = Field(ge=0, description="Survey answers in the group")
    satisfied: int = Field(ge=0, description="Answers rated 4 or 5")
    csat: Share = Field(description="satisfied / answers (the standard CSAT); null: no answers")
    mean_rating: float | None = Field(ge=1, le=5, description="The mean rating; null: no answers")
    answered_resolved_cases: int = Field(ge=0, description="Resolved cases with an answer")
    response_rate: Share = Field(
        description="answered_resolved_cases / resolved cases; null: nothing resolved"
    )


class FcrOut(BaseModel):
    """First contact resolution, measured by what we did and by what customers said."""

    resolved_cases: int = Field(ge=0, description="Cases resolved (or closed)")
    first_contact: int = Field(
        ge=0, description="Resolved with at most one agent reply and never reopened"
    )
    rate: Share = Field(description="first_contact / resolved_cases; null: nothing resolved")
    said_answers: int = Field(ge=0, description="Answers that said yes or no to “did we solve it”")
    said_yes: int = Field(ge=0, description="Of those, the yes answers")
    customer_yes_share: Share = Field(description="said_yes / said_answers; null: none said")


class DurationsOut(BaseModel):
    """Wall-clock hours; percentiles by the nearest-rank method (an observed value)."""

    count: int = Field(ge=0, description="Cases measured")
    mean_hours: Hours = Field(description="Mean, in hours; null when count is 0")
    p50_hours: Hours = Field(description="Median (nearest rank), in hours")
    p90_hours: Hours = Field(description="90th percentile (nearest rank), in hours")


class BreachCount(BaseModel):
    target: str = Field(description="What breached: `step:<id>` or `metric:<name>`")
    breaches: int = Field(ge=1, description="How many `sla.breached` events")


class SlaOut(BaseModel):
    """Service levels: cases that never missed a deadline of their SOP."""

    cases: int = Field(ge=0, description="Cases in the group")
    breached_cases: int = Field(ge=0, description="Cases with at least one breach")
    attainment: Share = Field(description="(cases - breached_cases) / cases; null: no cases")
    breaches_by_target: list[BreachCount] = Field(description="Breaches by target, most first")


class RepeatsOut(BaseModel):
    """Customers who had to come back: lower is better."""

    complaining_customers: int = Field(ge=0, description="Customers with a complaint case")
    repeat_complainers: int = Field(
        ge=0, description="Of those, with another complaint case within 90 days"
    )
    repeat_complaint_share: Share = Field(description="repeat_complainers / complaining_customers")
    resolved_cases: int = Field(ge=0, description="Resolved cases")
    repeat_contacts: int = Field(
        ge=0, description="Of those, whose customer opened another case within 7 days after"
    )
    repeat_contact_share: Share = Field(description="repeat_contacts / resolved_cases")


class RepeatBusinessOut(BaseModel):
    """Customers who bought again after we solved their case."""

    customers: int = Field(ge=0, description="Customers with a resolved case")
    returning: int = Field(
        ge=0, description="Of those, with a purchase within 90 days after a resolution"
    )
    share: Share = Field(description="returning / customers")


class KpisOut(BaseModel):
    """Every KPI of one group of cases."""

    cases: int = Field(ge=0, description="Cases opened in the period")
    resolved: int = Field(ge=0, description="Of those, resolved or closed now")
    proactive: int = Field(
        ge=0,
        description="Of those, opened by us (channel internal: a customer's event or an "
        "agent's outreach); left out of the KPIs about contacts (FCR, times, repeats)",
    )
    csat: CsatOut
    fcr: FcrOut
    first_response: DurationsOut = Field(description="Opening to the first reply by a person")
    resolution: DurationsOut = Field(description="Opening to the (latest) resolution")
    sla: SlaOut
    repeats: RepeatsOut
    repeat_business: RepeatBusinessOut


class GroupOut(BaseModel):
    """One group; only the fields of the grouping are set."""

    label: str = Field(description="The group's name for people", examples=["refunds v3"])
    sop: str | None = Field(description="The SOP (by=sop or version); null: no SOP")
    version: int | None = Field(description="The SOP version (by=version); null: no run")
    channel: str | None = Field(description="The channel (by=channel)")
    assignee: str | None = Field(description="The assignee (by=assignee); null: unassigned")
    sequence: bool = Field(
        description="Answers of customer-sequence surveys, which belong to no case"
    )
    kpis: KpisOut


class PeriodOut(BaseModel):
    since: datetime | None = Field(description="Cases opened at or after this instant")
    until: datetime | None = Field(description="Cases opened before this instant")


class KpiReport(BaseModel):
    """The KPIs of the cases opened in the period, overall and per group."""

    period: PeriodOut
    by: Dimension = Field(description="What the groups are")
    overall: KpisOut
    groups: list[GroupOut] = Field(description="Empty when by=overall")


@router.get(
    "/reports/kpis",
    response_model=KpiReport,
    summary="KPIs: CSAT, FCR, times, SLA, repeats",
    openapi_extra={"x-permission": "report.read"},
)
def kpis(
    who: ReportReader,
    session: DbSession,
    since: Annotated[
        date | None, Query(description="First day counted (00:00 UTC), e.g. 2026-03-01")
    ] = None,
    until: Annotated[
        date | None, Query(description="First day not counted (00:00 UTC), e.g. 2026-04-01")
    ] = None,
    by: Annotated[Dimension, Query(description="Group by sop, version, channel or assignee")] = (
        Dimension.OVERALL
    ),
) -> KpiReport:
    """CSAT, first contact resolution, first response and resolution times, SLA
    attainment, repeat complaints, repeat contacts and repeat business of the cases
    opened in [since, until), overall and grouped `by`. Definitions: docs/metrics.md."""
    report = kpi_report(session, period_of(since, until), by)
    return KpiReport.model_validate(report_dict(report))
