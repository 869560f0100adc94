"""/reports: whether the SOPs work, for owners and managers (`report.read`).

A period (the last 7, 30 or 90 days, or two dates) and a grouping (SOP, SOP version,
channel, assignee) chosen with a plain GET form; the page shows every KPI overall with
a sentence saying what it means, then the groups side by side. The numbers come from
`sopdesk.actions.reports` and the pure `sopdesk.metrics`; this module only reads the
query and renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sopdesk.actions.base import utcnow
from sopdesk.actions.reports import kpi_report, last_days, parse_dimension, period_of
from sopdesk.errors import InvalidInput
from sopdesk.metrics import Dimension, Period
from sopdesk.metrics.present import hours, lines, percent
from sopdesk.web.rendering import TEMPLATES
from sopdesk.web.ui import DbSession, person, ui_page

router = APIRouter()
ReportReader = person("report.read")

PRESETS: dict[str, str] = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days"}
DATES = "dates"
GROUPINGS: dict[str, str] = {
    Dimension.OVERALL.value: "No grouping",
    Dimension.SOP.value: "SOP",
    Dimension.VERSION.value: "SOP version",
    Dimension.CHANNEL.value: "Channel",
    Dimension.ASSIGNEE.value: "Assignee",
}

TEMPLATES.env.filters["percent"] = percent
TEMPLATES.env.filters["hours"] = hours


@dataclass(frozen=True)
class ReportQuery:
    """What the form asked for: a preset (`7`, `30`, `90`) or `dates`, and a grouping."""

    period: str
    since: date | None
    until: date | None
    by: Dimension


def read_query(period: str, since: str, until: str, by: str) -> ReportQuery:
    """The form's values, or `InvalidInput` naming the one that is wrong."""
    choice = period or "30"
    if choice not in PRESETS and choice != DATES:
        raise InvalidInput(f"there is no period {choice!r}", hint="choose one from the list")
    return ReportQuery(choice, _day(since, "from"), _day(until, "until"), parse_dimension(by))


def _day(value: str, name: str) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"the {name} date {text!r} is not a date", hint="write it as 2026-03-01"
        ) from None


def period_for(query: ReportQuery, today: date) -> Period:
    if query.period == DATES:
        return period_of(query.since, query.until)
    return last_days(today, int(query.period))


@router.get("/reports", response_class=HTMLResponse)
def reports(
    request: Request,
    session: DbSession,
    me: ReportReader,
    period: str = "",
    since: str = "",
    until: str = "",
    by: str = "",
) -> HTMLResponse:
    query = read_query(period, since, until, by)
    chosen = period_for(query, utcnow().date())
    report = kpi_report(session, chosen, query.by)
    context = {
        "query": query,
        "chosen": chosen,
        "report": report,
        "overall": lines(report.overall),
        "presets": PRESETS,
        "groupings": GROUPINGS,
        "active": "reports",
    }
    return ui_page(request, "ui/reports.html", me, context)
