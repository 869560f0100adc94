"""KPI reports from a real desk (actions/reports.py), on SQLite and PostgreSQL: cases
opened, answered, resolved and reopened through the real actions, a survey, a purchase
and a breach from the worker's timers, then the exact KPI values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from sopdesk.actions import sops
from sopdesk.actions.cases import (
    do_assign,
    do_complete_step,
    do_open_case,
    do_reopen,
    do_resolve,
)
from sopdesk.actions.replies import do_reply
from sopdesk.actions.reports import kpi_report, last_days, load_facts, parse_dimension, period_of
from sopdesk.actions.sequences import do_purchase
from sopdesk.actions.surveys import SurveyAnswer, do_answer_survey
from sopdesk.errors import InvalidInput
from sopdesk.metrics import Dimension, Period
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow
from tests.cases.conftest import MONDAY, fire_due
from tests.conftest import sop_text

H = timedelta(hours=1)
MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
SETTINGS = Settings(
    company_name="Shop Example",
    support_address="support@shop.example",
    public_base_url="https://help.shop.example",
    secret_key="test-secret",
)


def _open(session: Session, email: str, at: datetime, channel: str, case_type: str) -> int:
    case = do_open_case(
        session,
        customer_email=email,
        subject=f"{case_type} from {email}",
        body="Please help.",
        channel=channel,
        case_type=case_type,
        sop_id="refunds",
        now=at,
        settings=SETTINGS,
    )
    return int(case.id)


def _resolve(session: Session, case_id: int, at: datetime) -> None:
    """Tick the SOP's checklist, then resolve (the completion gate wants both steps)."""
    for step in ("acknowledge", "refund"):
        do_complete_step(session, case_id, step, by="agent", now=at, settings=SETTINGS)
    do_resolve(session, case_id, by="agent", now=at, settings=SETTINGS)


def _reply(session: Session, case_id: int, at: datetime) -> None:
    do_reply(
        session, case_id, author="agent@shop.example", text="On it.", now=at, settings=SETTINGS
    )


@pytest.fixture
def desk(session: Session) -> dict[str, int]:
    """Three cases over two SOP versions (see the test for what happened to each)."""
    sops.do_create_draft(session, sop_text(), "ann", "first", now=MONDAY - 48 * H)
    sops.do_publish(session, "refunds", approver="bob", now=MONDAY - 48 * H)
    a = _open(session, "ann@customer.example", MONDAY, "email", "return")
    do_assign(session, a, "agent@shop.example", by="lead", now=MONDAY + 0.5 * H)
    _reply(session, a, MONDAY + 2 * H)
    _resolve(session, a, MONDAY + 3 * H)

    sops.do_create_draft(session, sop_text(within="12 business hours"), "ann", now=MONDAY)
    sops.do_publish(session, "refunds", approver="bob", now=MONDAY)
    b = _open(session, "bob@customer.example", MONDAY + H, "web", "complaint")
    _reply(session, b, MONDAY + 2 * H)
    _reply(session, b, MONDAY + 4 * H)
    _resolve(session, b, MONDAY + 5 * H)
    do_reopen(session, b, by="agent", now=MONDAY + 6 * H, settings=SETTINGS)
    do_resolve(session, b, by="agent", now=MONDAY + 8 * H, settings=SETTINGS)

    c = _open(session, "bob@customer.example", MONDAY + 24 * H, "email", "complaint")
    fire_due(session, MONDAY + 72 * H, SETTINGS)  # nobody answers: its first response breaches

    do_answer_survey(session, f"SD-{a}", SurveyAnswer(5, True, ""), now=MONDAY + 4 * H)
    do_answer_survey(session, f"SD-{b}", SurveyAnswer(3, False, "slow"), now=MONDAY + 9 * H)
    ann = session.get(CaseRow, a)
    assert ann is not None
    do_purchase(session, ann.customer_id, purchase_id="o-1", at=MONDAY + 240 * H, now=MONDAY)
    return {"a": a, "b": b, "c": c}


def test_the_facts_come_from_the_real_actions(session: Session, desk: dict[str, int]) -> None:
    facts = {case.case_id: case for case in load_facts(session, MARCH).cases}
    a, b, c = facts[desk["a"]], facts[desk["b"]], facts[desk["c"]]
    assert (a.sop_id, a.sop_version, b.sop_version, c.sop_version) == ("refunds", 1, 2, 2)
    assert (a.agent_replies, b.agent_replies, c.agent_replies) == (1, 2, 0)
    assert (a.reopen_count, b.reopen_count) == (0, 1)
    assert a.assignee == "agent@shop.example" and b.channel == "web"
    assert a.breaches == () and b.breaches == ()
    assert "metric:first_response" in c.breaches
    assert c.resolved_at is None and c.first_response_at is None


def test_overall_kpis(session: Session, desk: dict[str, int]) -> None:
    k = kpi_report(session, MARCH).overall
    assert (k.cases, k.resolved) == (3, 2)
    assert (k.csat.answers, k.csat.satisfied, k.csat.csat, k.csat.mean_rating) == (2, 1, 0.5, 4.0)
    assert k.csat.response_rate == 1.0
    assert (k.fcr.first_contact, k.fcr.resolved_cases, k.fcr.rate) == (1, 2, 0.5)
    assert (k.fcr.said_yes, k.fcr.said_answers, k.fcr.customer_yes_share) == (1, 2, 0.5)
    fr = k.first_response
    assert (fr.count, fr.mean_hours, fr.p50_hours, fr.p90_hours) == (2, 1.5, 1.0, 2.0)
    res = k.resolution
    assert (res.count, res.mean_hours, res.p50_hours, res.p90_hours) == (2, 5.0, 3.0, 7.0)
    assert (k.sla.cases, k.sla.breached_cases) == (3, 1)
    assert k.sla.attainment == pytest.approx(2 / 3)
    assert dict(k.sla.breaches_by_target)["metric:first_response"] == 1
    assert (k.repeats.complaining_customers, k.repeats.repeat_complainers) == (1, 1)
    assert (k.repeats.resolved_cases, k.repeats.repeat_contacts) == (2, 1)
    business = k.repeat_business
    assert (business.customers, business.returning, business.share) == (2, 1, 0.5)


def test_by_version_shows_whether_the_new_version_helped(
    session: Session, desk: dict[str, int]
) -> None:
    groups = {g.label: g.kpis for g in kpi_report(session, MARCH, Dimension.VERSION).groups}
    assert list(groups) == ["refunds v1", "refunds v2"]
    v1, v2 = groups["refunds v1"], groups["refunds v2"]
    assert (v1.cases, v1.fcr.rate, v1.csat.csat, v1.sla.attainment) == (1, 1.0, 1.0, 1.0)
    assert (v2.cases, v2.fcr.rate, v2.csat.csat, v2.sla.attainment) == (2, 0.0, 0.0, 0.5)


def test_by_channel_and_assignee(session: Session, desk: dict[str, int]) -> None:
    channels = {g.label: g.kpis.cases for g in kpi_report(session, MARCH, Dimension.CHANNEL).groups}
    assert channels == {"email": 2, "web": 1}
    assignees = kpi_report(session, MARCH, Dimension.ASSIGNEE).groups
    assert {g.label: g.kpis.cases for g in assignees} == {"agent@shop.example": 1, "unassigned": 2}


def test_the_period_filters_on_opening(session: Session, desk: dict[str, int]) -> None:
    tuesday = period_of(date(2026, 3, 3), date(2026, 3, 4))
    only_c = kpi_report(session, tuesday).overall
    assert (only_c.cases, only_c.resolved, only_c.csat.answers) == (1, 0, 0)
    assert only_c.csat.csat is None and only_c.fcr.rate is None
    # case c's customer complained the day before: still a repeat complaint
    assert only_c.repeats.repeat_complaint_share == 1.0
    assert kpi_report(session, period_of(date(2026, 4, 1), None)).overall.cases == 0


def test_six_queries_whatever_the_number_of_cases(session: Session, desk: dict[str, int]) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        session.expire_all()
        kpi_report(session, MARCH, Dimension.SOP)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 6


def test_periods_and_dimensions_from_words() -> None:
    assert last_days(date(2026, 3, 31), 7) == Period(
        datetime(2026, 3, 25, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert (
        parse_dimension("Version") is Dimension.VERSION and parse_dimension(None).value == "overall"
    )
    with pytest.raises(InvalidInput):
        parse_dimension("weather")
    with pytest.raises(InvalidInput):
        period_of(date(2026, 3, 2), date(2026, 3, 2))
    with pytest.raises(InvalidInput):
        last_days(date(2026, 3, 2), 0)
