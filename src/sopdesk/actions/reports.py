"""KPI reports: load the facts of a period with a handful of set-based queries and hand
them to the pure core (`sopdesk.metrics`).

Six queries whatever the number of cases — the cases opened in the period (with the
SOP version of their latest run), agent replies up to resolution per case, breaches,
survey answers, the same customers' other cases, their purchases — each one a plain
SELECT with IN (subquery) that runs the same on SQLite and PostgreSQL. No per-case
round trips, so a month of a busy desk costs the same six statements as a quiet day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from sopdesk.errors import InvalidInput
from sopdesk.metrics import (
    CaseFacts,
    Contact,
    Dimension,
    Facts,
    Period,
    Purchase,
    Report,
    SurveyFacts,
    build_report,
)
from sopdesk.metrics.kpis import REPEAT_COMPLAINT_WINDOW
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    MessageKindValue,
    MessageRow,
    SopRunRow,
    SopVersion,
    SurveyResponseRow,
)

DIMENSIONS = tuple(Dimension)


def period_of(since: date | None, until: date | None) -> Period:
    """The period [since, until) from calendar dates, each at 00:00 UTC; `InvalidInput`
    when it would be empty."""
    start = _midnight(since)
    end = _midnight(until)
    if start is not None and end is not None and end <= start:
        raise InvalidInput(
            f"the period ends ({until}) before or when it starts ({since})",
            hint="until is the first day not counted, e.g. since 2026-03-01 until 2026-04-01",
        )
    return Period(start, end)


def last_days(today: date, days: int) -> Period:
    """The `days` days up to and including `today` (UTC): [today - days + 1, today + 1)."""
    if days < 1:
        raise InvalidInput("a period has at least one day")
    return period_of(today - timedelta(days=days - 1), today + timedelta(days=1))


def _midnight(day: date | None) -> datetime | None:
    if day is None:
        return None
    if isinstance(day, datetime):
        return day.astimezone(UTC)
    return datetime.combine(day, time(), tzinfo=UTC)


def parse_dimension(value: str | None) -> Dimension:
    """The dimension `value` names (`sop`, `version`, `channel`, `assignee`, `overall`)."""
    try:
        return Dimension((value or "overall").strip().lower())
    except ValueError:
        names = ", ".join(d.value for d in Dimension)
        raise InvalidInput(f"cannot group by {value!r}", hint=f"use one of {names}") from None


def kpi_report(session: Session, period: Period, by: Dimension = Dimension.OVERALL) -> Report:
    """The KPIs of the cases opened in `period`, overall and grouped `by`."""
    return build_report(load_facts(session, period), by)


def load_facts(session: Session, period: Period) -> Facts:
    """Everything the KPIs of `period` read, as plain facts."""
    opened = _opened_in(period)
    case_ids = select(CaseRow.id).where(*opened).scalar_subquery()
    customer_ids = select(CaseRow.customer_id).where(*opened).scalar_subquery()
    replies = _agent_replies(session, opened)
    breaches = _breaches(session, case_ids)
    cases = tuple(
        CaseFacts(
            case_id=row.id,
            customer_id=row.customer_id,
            opened_at=row.opened_at,
            channel=row.channel,
            case_type=row.case_type,
            sop_id=row.sop_id,
            sop_version=row.version if row.run_sop == row.sop_id else None,
            assignee=row.assignee,
            first_response_at=row.first_response_at,
            resolved_at=row.resolved_at,
            reopen_count=row.reopen_count,
            agent_replies=replies.get(row.id, 0),
            breaches=tuple(breaches.get(row.id, ())),
        )
        for row in session.execute(_cases_statement(opened))
    )
    return Facts(
        period=period,
        cases=cases,
        surveys=_surveys(session, period, case_ids),
        contacts=_contacts(session, period, customer_ids),
        purchases=_purchases(session, period, customer_ids),
    )


def _opened_in(period: Period) -> list[ColumnElement[bool]]:
    """The cases a report counts: opened in `period`, and not merged into another (a
    merged case is a duplicate, its messages counted in the case it went to)."""
    clauses: list[ColumnElement[bool]] = [CaseRow.merged_into.is_(None)]
    if period.since is not None:
        clauses.append(CaseRow.opened_at >= period.since)
    if period.until is not None:
        clauses.append(CaseRow.opened_at < period.until)
    return clauses


def _cases_statement(opened: list[ColumnElement[bool]]) -> Select[Any]:
    """The period's cases with the version of their latest SOP run (None without one)."""
    latest = (
        select(SopRunRow.case_id, func.max(SopRunRow.id).label("run_id"))
        .join(CaseRow, CaseRow.id == SopRunRow.case_id)
        .where(*opened)
        .group_by(SopRunRow.case_id)
        .subquery()
    )
    return (
        select(
            CaseRow.id,
            CaseRow.customer_id,
            CaseRow.opened_at,
            CaseRow.channel,
            CaseRow.case_type,
            CaseRow.sop_id,
            CaseRow.assignee,
            CaseRow.first_response_at,
            CaseRow.resolved_at,
            CaseRow.reopen_count,
            SopVersion.version,
            SopVersion.sop_id.label("run_sop"),
        )
        .outerjoin(latest, latest.c.case_id == CaseRow.id)
        .outerjoin(SopRunRow, SopRunRow.id == latest.c.run_id)
        .outerjoin(SopVersion, SopVersion.id == SopRunRow.sop_version_id)
        .where(*opened)
        .order_by(CaseRow.id)
    )


def _agent_replies(session: Session, opened: list[ColumnElement[bool]]) -> dict[int, int]:
    """Public replies written by a person (not automatic SOP mail) up to the resolution."""
    statement = (
        select(MessageRow.case_id, func.count(MessageRow.id))
        .join(CaseRow, CaseRow.id == MessageRow.case_id)
        .where(
            *opened,
            MessageRow.kind == MessageKindValue.OUTBOUND.value,
            MessageRow.automated.is_(False),
            MessageRow.created_at <= CaseRow.resolved_at,
        )
        .group_by(MessageRow.case_id)
    )
    return {case_id: int(count) for case_id, count in session.execute(statement)}


def _breaches(session: Session, case_ids: Any) -> dict[int, list[str]]:
    statement = (
        select(CaseEventRow.case_id, CaseEventRow.data)
        .where(CaseEventRow.kind == "sla.breached", CaseEventRow.case_id.in_(case_ids))
        .order_by(CaseEventRow.id)
    )
    found: dict[int, list[str]] = {}
    for case_id, data in session.execute(statement):
        target = data.get("target") if isinstance(data, dict) else None
        found.setdefault(case_id, []).append(str(target or "unknown"))
    return found


def _surveys(session: Session, period: Period, case_ids: Any) -> tuple[SurveyFacts, ...]:
    """Answers about the period's cases, and customer-sequence answers given in it."""
    row = SurveyResponseRow
    answered = [row.case_id.is_(None)]
    if period.since is not None:
        answered.append(row.answered_at >= period.since)
    if period.until is not None:
        answered.append(row.answered_at < period.until)
    statement = select(row).where(or_(row.case_id.in_(case_ids), and_(*answered))).order_by(row.id)
    return tuple(
        SurveyFacts(
            rating=answer.rating,
            resolved=answer.resolved,
            answered_at=answer.answered_at,
            case_id=answer.case_id,
            customer_id=answer.customer_id,
            sop_id=answer.sop_id,
        )
        for answer in session.scalars(statement)
    )


def _contacts(session: Session, period: Period, customer_ids: Any) -> tuple[Contact, ...]:
    """Every case of the period's customers from 90 days before the period on: what a
    repeat complaint or a repeat contact can be."""
    clauses = [CaseRow.customer_id.in_(customer_ids)]
    if period.since is not None and period.since - datetime.min.replace(tzinfo=UTC) > (
        REPEAT_COMPLAINT_WINDOW
    ):
        clauses.append(CaseRow.opened_at >= period.since - REPEAT_COMPLAINT_WINDOW)
    statement = select(
        CaseRow.id, CaseRow.customer_id, CaseRow.opened_at, CaseRow.case_type, CaseRow.channel
    )
    return tuple(
        Contact(case_id, customer_id, opened_at, case_type, channel)
        for case_id, customer_id, opened_at, case_type, channel in session.execute(
            statement.where(*clauses).order_by(CaseRow.id)
        )
    )


def _purchases(session: Session, period: Period, customer_ids: Any) -> tuple[Purchase, ...]:
    """The period's customers' purchases from the period's start on."""
    clauses = [
        CaseEventRow.kind == "customer.purchase",
        CaseEventRow.customer_id.in_(customer_ids),
    ]
    if period.since is not None:
        clauses.append(CaseEventRow.at >= period.since)
    statement = select(CaseEventRow.customer_id, CaseEventRow.at).where(*clauses)
    return tuple(
        Purchase(customer_id, at)
        for customer_id, at in session.execute(statement.order_by(CaseEventRow.id))
    )
