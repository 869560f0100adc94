"""The KPI definitions on hand-made facts with exact values, empty groups, and the
property that grouping then adding up gives the overall counts (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopdesk.metrics import (
    CaseFacts,
    Contact,
    Dimension,
    Facts,
    GroupKey,
    Kpis,
    Period,
    Purchase,
    SurveyFacts,
    build_report,
)
from sopdesk.metrics.present import lines, report_dict

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))

C1 = CaseFacts(1, 1, T0, "email", "return", "refunds", 1, "ann", T0 + 2 * H, T0 + 10 * H, 0, 1, ())
C2 = CaseFacts(
    2, 2, T0, "web", "return", "refunds", 2, "bo", T0 + 6 * H, T0 + 30 * H, 0, 3,
    ("metric:first_response",),
)  # fmt: skip
C3 = CaseFacts(
    3, 2, T0 + 3 * D, "email", "complaint", "complaints", 1, None, T0 + 3 * D + H, T0 + 4 * D,
    1, 1, ("step:refund", "metric:first_response"),
)  # fmt: skip
C4 = CaseFacts(4, 3, T0 + 5 * D, "phone", "complaint", "complaints", 1, "ann")
C5_LATER = CaseFacts(5, 2, T0 + 40 * D, "email", "complaint", "complaints", 1)  # April
CONTACTS = (
    Contact(0, 3, T0 - 100 * D, "complaint"),  # 105 days before case 4: not a repeat
    *(Contact(c.case_id, c.customer_id, c.opened_at, c.case_type) for c in (C1, C2, C3, C4)),
    Contact(5, 2, T0 + 40 * D, "complaint"),  # 37 days after case 3: a repeat
)
SURVEYS = (
    SurveyFacts(5, True, T0 + D, case_id=1, customer_id=1, sop_id="refunds"),
    SurveyFacts(2, False, T0 + 2 * D, case_id=2, customer_id=2, sop_id="refunds"),
    SurveyFacts(4, None, T0 + 5 * D, case_id=3, customer_id=2, sop_id="complaints"),
    SurveyFacts(3, True, T0 + D, customer_id=9, sop_id="onboarding"),  # a sequence survey
    SurveyFacts(1, False, T0 - 10 * D, customer_id=8, sop_id="onboarding"),  # February
    SurveyFacts(1, False, T0 + 41 * D, case_id=5, customer_id=2),  # about an April case
)
PURCHASES = (
    Purchase(1, T0 + 20 * D),  # 20 days after case 1's resolution
    Purchase(2, T0 + H),  # before case 2 was resolved
    Purchase(3, T0 + 6 * D),  # case 4 is not resolved
)
FACTS = Facts(MARCH, (C1, C2, C3, C4, C5_LATER), SURVEYS, CONTACTS, PURCHASES)


def test_overall_kpis_are_exact() -> None:
    k = build_report(FACTS).overall
    assert (k.cases, k.resolved) == (4, 3)
    assert (k.csat.answers, k.csat.satisfied, k.csat.csat) == (4, 2, 0.5)
    assert k.csat.mean_rating == 3.5
    assert (k.csat.answered_resolved_cases, k.csat.response_rate) == (3, 1.0)
    assert (k.fcr.resolved_cases, k.fcr.first_contact, k.fcr.rate) == (3, 1, pytest.approx(1 / 3))
    assert (k.fcr.said_answers, k.fcr.said_yes) == (3, 2)
    assert k.fcr.customer_yes_share == pytest.approx(2 / 3)
    fr = k.first_response
    assert (fr.count, fr.mean_hours, fr.p50_hours, fr.p90_hours) == (3, 3.0, 2.0, 6.0)
    res = k.resolution
    assert (res.count, res.p50_hours, res.p90_hours) == (3, 24.0, 30.0)
    assert res.mean_hours == pytest.approx(64 / 3)
    assert (k.sla.cases, k.sla.breached_cases, k.sla.attainment) == (4, 2, 0.5)
    assert k.sla.breaches_by_target == (("metric:first_response", 2), ("step:refund", 1))
    repeats = k.repeats
    assert (repeats.complaining_customers, repeats.repeat_complainers) == (2, 1)
    assert repeats.repeat_complaint_share == 0.5
    assert (repeats.resolved_cases, repeats.repeat_contacts) == (3, 1)
    assert repeats.repeat_contact_share == pytest.approx(1 / 3)
    business = k.repeat_business
    assert (business.customers, business.returning, business.share) == (2, 1, 0.5)


def test_cases_we_open_ourselves_count_but_not_as_customers_contacting_us() -> None:
    # Ann's question is resolved; two days later her 3rd purchase opens a loyalty case,
    # which the team answers with a thank-you and resolves: our outreach, not her
    # writing in again.
    question = CaseFacts(1, 1, T0, "email", "inquiry", "faq", 1, "bo", T0 + 5 * H, T0 + 9 * H,
                         0, 1, ())  # fmt: skip
    loyalty = CaseFacts(2, 1, T0 + 2 * D, "internal", None, "loyalty", 1, "bo",
                        T0 + 2 * D + H, T0 + 2 * D + 2 * H, 0, 1, ("step:reward",))  # fmt: skip
    contacts = tuple(
        Contact(c.case_id, c.customer_id, c.opened_at, c.case_type, c.channel)
        for c in (question, loyalty)
    )
    answers = (SurveyFacts(5, True, T0 + 3 * D, case_id=2, customer_id=1, sop_id="loyalty"),)
    purchases = (Purchase(1, T0 + 2 * D),)
    k = build_report(Facts(MARCH, (question, loyalty), answers, contacts, purchases)).overall
    assert (k.cases, k.resolved, k.proactive) == (2, 2, 1)
    assert (k.csat.answers, k.csat.csat) == (1, 1.0)  # her answer about the loyalty case counts
    assert (k.sla.cases, k.sla.breached_cases) == (2, 1)  # so do the team's own deadlines
    assert (k.fcr.resolved_cases, k.fcr.first_contact) == (1, 1)  # only the question
    assert (k.first_response.count, k.first_response.p50_hours) == (1, 5.0)
    assert (k.resolution.count, k.resolution.p50_hours) == (1, 9.0)
    assert (k.repeats.resolved_cases, k.repeats.repeat_contacts) == (1, 0)  # not a repeat
    assert (k.repeat_business.customers, k.repeat_business.returning) == (1, 1)
    [fcr] = [line for line in lines(k) if line.key == "fcr"]
    assert fcr.detail == "1 of 1 resolved cases; 1 opened by us left out"
    by_channel = {g.label: g.kpis for g in build_report(
        Facts(MARCH, (question, loyalty), answers, contacts, purchases), Dimension.CHANNEL
    ).groups}  # fmt: skip
    assert by_channel["internal"].fcr.rate is None  # nothing there to measure it on


def _groups(by: Dimension) -> dict[str, Kpis]:
    return {group.label: group.kpis for group in build_report(FACTS, by).groups}


def test_by_sop() -> None:
    groups = _groups(Dimension.SOP)
    assert list(groups) == ["complaints", "onboarding", "refunds"]
    refunds, complaints, onboarding = groups["refunds"], groups["complaints"], groups["onboarding"]
    assert (refunds.cases, refunds.csat.csat, refunds.fcr.rate, refunds.sla.attainment) == (
        2,
        0.5,
        0.5,
        0.5,
    )
    assert (complaints.cases, complaints.resolved, complaints.fcr.rate) == (2, 1, 0.0)
    assert complaints.sla.attainment == 0.5 and complaints.repeats.repeat_complaint_share == 0.5
    # the sequence survey's SOP has answers but no cases: what needs cases is None
    assert (onboarding.cases, onboarding.csat.answers, onboarding.csat.csat) == (0, 1, 0.0)
    assert onboarding.fcr.rate is None and onboarding.sla.attainment is None
    assert onboarding.first_response.p50_hours is None and onboarding.csat.response_rate is None
    assert onboarding.fcr.customer_yes_share == 1.0


def test_by_version_tells_versions_apart() -> None:
    groups = _groups(Dimension.VERSION)
    assert list(groups) == [
        "complaints v1",
        "onboarding (sequence surveys)",
        "refunds v1",
        "refunds v2",
    ]
    assert groups["refunds v1"].fcr.rate == 1.0 and groups["refunds v2"].fcr.rate == 0.0
    assert groups["refunds v1"].csat.csat == 1.0 and groups["refunds v2"].csat.csat == 0.0


def test_by_assignee_and_channel() -> None:
    assignees = _groups(Dimension.ASSIGNEE)
    assert list(assignees) == ["ann", "bo", "unassigned", "customer sequence surveys (no case)"]
    assert assignees["ann"].cases == 2 and assignees["unassigned"].cases == 1
    channels = _groups(Dimension.CHANNEL)
    assert {label: k.cases for label, k in channels.items()} == {
        "email": 2,
        "phone": 1,
        "web": 1,
        "customer sequence surveys (no case)": 0,
    }


def test_an_empty_period_gives_none_never_zero() -> None:
    k = build_report(Facts(Period(T0 + 100 * D, T0 + 101 * D), FACTS.cases)).overall
    assert k.cases == 0
    nones = [
        k.csat.csat,
        k.csat.mean_rating,
        k.csat.response_rate,
        k.fcr.rate,
        k.fcr.customer_yes_share,
        k.first_response.mean_hours,
        k.resolution.p90_hours,
        k.sla.attainment,
        k.repeats.repeat_complaint_share,
        k.repeats.repeat_contact_share,
        k.repeat_business.share,
    ]
    assert nones == [None] * len(nones)
    assert all(line.value == "—" for line in lines(k))


def test_an_open_period_counts_everything() -> None:
    assert build_report(Facts(Period(), FACTS.cases)).overall.cases == 5


def test_a_period_must_not_be_empty() -> None:
    with pytest.raises(ValueError):
        Period(T0, T0)


def test_report_dict_is_plain_data() -> None:
    data = report_dict(build_report(FACTS, Dimension.VERSION))
    assert data["period"] == {
        "since": "2026-03-01T00:00:00+00:00",
        "until": "2026-04-01T00:00:00+00:00",
    }
    assert data["by"] == "version"
    assert data["overall"]["sla"]["breaches_by_target"][0] == {
        "target": "metric:first_response",
        "breaches": 2,
    }
    assert [(g["sop"], g["version"]) for g in data["groups"]][-1] == ("refunds", 2)


def test_every_kpi_has_a_plain_language_line() -> None:
    found = {line.key: line for line in lines(build_report(FACTS).overall)}
    assert found["csat"].value == "50.0 %" and found["csat"].detail == "2 of 4 answers"
    assert found["first_response"].value == "p50 2.0 h"
    assert "breaches: metric:first_response ×2, step:refund ×1" in found["sla"].detail
    assert all(line.meaning.endswith(".") for line in found.values())


def test_the_group_key_labels_the_unnamed() -> None:
    assert GroupKey().label(Dimension.SOP) == "no SOP (triage or imported)"
    assert GroupKey(sop_id="x").label(Dimension.VERSION) == "x (no run)"
    assert GroupKey().label(Dimension.ASSIGNEE) == "unassigned"


# --- grouping then adding up equals the overall counts -------------------------------


@st.composite
def facts(draw: st.DrawFn) -> Facts:
    count = draw(st.integers(min_value=0, max_value=25))
    cases = []
    for case_id in range(1, count + 1):
        opened = T0 + draw(st.integers(min_value=-40, max_value=40)) * D
        resolved_after = draw(st.none() | st.integers(min_value=0, max_value=200))
        first_after = draw(st.none() | st.integers(min_value=0, max_value=50))
        resolved = None if resolved_after is None else opened + resolved_after * H
        first = None if first_after is None else opened + first_after * H
        cases.append(
            CaseFacts(
                case_id,
                draw(st.integers(min_value=1, max_value=6)),
                opened,
                draw(st.sampled_from(["email", "web", "phone", "internal"])),
                draw(st.sampled_from([None, "complaint", "return"])),
                draw(st.sampled_from([None, "a", "b"])),
                draw(st.sampled_from([None, 1, 2])),
                draw(st.sampled_from([None, "ann", "bo"])),
                first,
                resolved,
                draw(st.integers(min_value=0, max_value=2)),
                draw(st.integers(min_value=0, max_value=3)),
                tuple(draw(st.lists(st.sampled_from(["step:x", "metric:y"]), max_size=2))),
            )
        )
    surveys = [
        SurveyFacts(
            draw(st.integers(min_value=1, max_value=5)),
            draw(st.sampled_from([None, True, False])),
            T0 + draw(st.integers(min_value=-40, max_value=40)) * D,
            case_id=draw(st.none() | st.integers(min_value=1, max_value=max(count, 1))),
            sop_id=draw(st.sampled_from([None, "a", "c"])),
        )
        for _ in range(draw(st.integers(min_value=0, max_value=15)))
    ]
    # one answer per case at most, as the table guarantees
    answered: dict[int, SurveyFacts] = {}
    for number, survey in enumerate(surveys):
        answered.setdefault(survey.case_id if survey.case_id is not None else -number, survey)
    unique = list(answered.values())
    contacts = tuple(
        Contact(c.case_id, c.customer_id, c.opened_at, c.case_type, c.channel) for c in cases
    )
    purchases = tuple(
        Purchase(draw(st.integers(min_value=1, max_value=6)), T0 + draw(st.integers(-40, 90)) * D)
        for _ in range(draw(st.integers(min_value=0, max_value=6)))
    )
    return Facts(MARCH, tuple(cases), tuple(unique), contacts, purchases)


def _counts(k: Kpis) -> tuple[int, ...]:
    return (
        k.cases,
        k.resolved,
        k.proactive,
        k.csat.answers,
        k.csat.satisfied,
        k.csat.answered_resolved_cases,
        k.fcr.first_contact,
        k.fcr.said_answers,
        k.fcr.said_yes,
        k.first_response.count,
        k.resolution.count,
        k.sla.breached_cases,
        sum(count for _, count in k.sla.breaches_by_target),
        k.repeats.resolved_cases,
        k.repeats.repeat_contacts,
    )


@given(facts(), st.sampled_from([d for d in Dimension if d is not Dimension.OVERALL]))
def test_grouping_then_merging_counts_equals_overall(data: Facts, by: Dimension) -> None:
    report = build_report(data, by)
    merged = [sum(column) for column in zip(*(_counts(g.kpis) for g in report.groups), strict=True)]
    assert merged == list(_counts(report.overall)) or (
        not report.groups and report.overall.cases == 0
    )
    assert len({g.key for g in report.groups}) == len(report.groups)


@given(facts(), st.sampled_from(list(Dimension)))
def test_every_share_lies_between_zero_and_one(data: Facts, by: Dimension) -> None:
    report = build_report(data, by)
    for k in [report.overall, *(g.kpis for g in report.groups)]:
        shares = [
            k.csat.csat,
            k.csat.response_rate,
            k.fcr.rate,
            k.fcr.customer_yes_share,
            k.sla.attainment,
            k.repeats.repeat_complaint_share,
            k.repeats.repeat_contact_share,
            k.repeat_business.share,
        ]
        assert all(s is None or 0.0 <= s <= 1.0 for s in shares)
        for d in (k.first_response, k.resolution):
            if d.count:
                assert d.p50_hours is not None and d.p90_hours is not None
                assert 0.0 <= d.p50_hours <= d.p90_hours
            else:
                assert d.p50_hours is None and d.mean_hours is None
