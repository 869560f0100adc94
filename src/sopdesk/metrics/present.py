"""The report as JSON-ready data and as lines a person reads.

`report_dict` is what the CLI's `--format json` prints and the API returns; `lines`
gives each KPI of a group with its value in words and a plain-language sentence saying
what it means, for the `/reports` page and the CLI's text output. Shares stay numbers
between 0 and 1 in data and become "87.5 %" only in text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sopdesk.metrics.model import Durations, GroupReport, Kpis, Period, Report


@dataclass(frozen=True)
class KpiLine:
    """One KPI of one group, for people: its name, its value, what it means."""

    key: str
    name: str
    value: str
    detail: str
    meaning: str


MEANINGS: dict[str, str] = {
    "csat": "Share of survey answers rated 4 or 5 out of 5: how many customers were satisfied.",
    "mean_rating": "The average survey rating, from 1 (very dissatisfied) to 5 (very satisfied).",
    "response_rate": "Share of resolved cases whose customer answered the survey.",
    "fcr": "Share of resolved cases solved with at most one reply from us and never reopened "
    "(cases we opened ourselves are left out of this and the times and repeats below).",
    "customer_yes": "Share of customers who answered yes to “Did we solve your problem?”.",
    "first_response": "Hours from the customer's first message to our first reply (p50: half "
    "were faster; p90: nine in ten were faster).",
    "resolution": "Hours from opening to resolution, for resolved cases.",
    "sla": "Share of cases that never missed a deadline of their SOP (steps and service levels).",
    "repeat_complaints": "Share of complaining customers who complained again within 90 days: "
    "lower is better.",
    "repeat_contacts": "Share of resolved cases whose customer wrote in again within 7 days: "
    "lower is better.",
    "repeat_business": "Share of customers with a resolved case who bought again within 90 days.",
}


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def _of(part: int, whole: int, noun: str) -> str:
    return f"{part} of {whole} {noun}"


def _durations_text(d: Durations) -> tuple[str, str]:
    if d.count == 0:
        return "—", "none measured yet"
    return (
        f"p50 {hours(d.p50_hours)}",
        f"mean {hours(d.mean_hours)}, p90 {hours(d.p90_hours)}, {d.count} cases",
    )


def lines(k: Kpis) -> list[KpiLine]:
    """Every KPI of a group, in the order a person reads them."""
    breaches = ", ".join(f"{target} ×{count}" for target, count in k.sla.breaches_by_target)
    first_response = _durations_text(k.first_response)
    resolution = _durations_text(k.resolution)
    entries = [
        ("csat", "CSAT", percent(k.csat.csat), _of(k.csat.satisfied, k.csat.answers, "answers")),
        (
            "mean_rating",
            "Mean rating",
            "—" if k.csat.mean_rating is None else f"{k.csat.mean_rating:.2f} / 5",
            f"{k.csat.answers} answers",
        ),
        (
            "response_rate",
            "Survey response rate",
            percent(k.csat.response_rate),
            _of(k.csat.answered_resolved_cases, k.resolved, "resolved cases"),
        ),
        (
            "fcr",
            "First contact resolution",
            percent(k.fcr.rate),
            _of(k.fcr.first_contact, k.fcr.resolved_cases, "resolved cases")
            + (f"; {k.proactive} opened by us left out" if k.proactive else ""),
        ),
        (
            "customer_yes",
            "Customers say solved",
            percent(k.fcr.customer_yes_share),
            _of(k.fcr.said_yes, k.fcr.said_answers, "answers"),
        ),
        ("first_response", "First response time", *first_response),
        ("resolution", "Resolution time", *resolution),
        (
            "sla",
            "SLA attainment",
            percent(k.sla.attainment),
            _of(k.sla.cases - k.sla.breached_cases, k.sla.cases, "cases on time")
            + (f"; breaches: {breaches}" if breaches else ""),
        ),
        (
            "repeat_complaints",
            "Repeat complaints",
            percent(k.repeats.repeat_complaint_share),
            _of(k.repeats.repeat_complainers, k.repeats.complaining_customers, "customers"),
        ),
        (
            "repeat_contacts",
            "Repeat contacts",
            percent(k.repeats.repeat_contact_share),
            _of(k.repeats.repeat_contacts, k.repeats.resolved_cases, "resolved cases"),
        ),
        (
            "repeat_business",
            "Repeat business",
            percent(k.repeat_business.share),
            _of(k.repeat_business.returning, k.repeat_business.customers, "customers"),
        ),
    ]
    return [
        KpiLine(key, name, value, detail, MEANINGS[key]) for key, name, value, detail in entries
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def period_dict(period: Period) -> dict[str, Any]:
    return {"since": _iso(period.since), "until": _iso(period.until)}


def kpis_dict(k: Kpis) -> dict[str, Any]:
    """The KPIs as JSON-ready data (breaches by target as a list of objects)."""
    data = asdict(k)
    data["sla"]["breaches_by_target"] = [
        {"target": target, "breaches": count} for target, count in k.sla.breaches_by_target
    ]
    return data


def group_dict(group: GroupReport) -> dict[str, Any]:
    key = group.key
    return {
        "label": group.label,
        "sop": key.sop_id,
        "version": key.version,
        "channel": key.channel,
        "assignee": key.assignee,
        "sequence": key.sequence,
        "kpis": kpis_dict(group.kpis),
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data (the API's and the CLI's shape)."""
    return {
        "period": period_dict(report.period),
        "by": report.by.value,
        "overall": kpis_dict(report.overall),
        "groups": [group_dict(group) for group in report.groups],
    }
