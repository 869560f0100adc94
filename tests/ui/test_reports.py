"""/reports: who sees it (page and navigation link), the period and grouping form, the
KPIs with their meaning, bad form values as a 422 page."""

from __future__ import annotations

import re
from datetime import timedelta

from sopdesk.actions.cases import do_complete_step, do_reply, do_resolve
from sopdesk.actions.surveys import SurveyAnswer, do_answer_survey
from tests.ui.conftest import ClientFor, World

NAV_LINK = '<a href="/reports"'


def _kpi(html: str, key: str) -> str:
    match = re.search(rf'<tr data-kpi="{key}">.*?<strong[^>]*>(.*?)</strong>', html, re.S)
    assert match, key
    return match.group(1)


def test_owners_and_managers_see_it_agents_do_not(world: World, client_for: ClientFor) -> None:
    for role in ("owner", "manager"):
        client = client_for(role)
        assert NAV_LINK in client.get("/inbox").text
        page = client.get("/reports")
        assert page.status_code == 200
        assert 'aria-current="page">Reports</a>' in page.text
    agent = client_for("agent")
    assert NAV_LINK not in agent.get("/inbox").text
    refused = agent.get("/reports")
    assert refused.status_code == 403 and "your role does not allow this page" in refused.text
    assert client_for(None).get("/reports").status_code in (302, 303, 307)


def test_the_kpis_with_what_they_mean(world: World, client_for: ClientFor) -> None:
    case = world.case(world.case_ref)
    at = world.now + timedelta(minutes=1)
    do_reply(world.session, case.id, author="manager", text="Refunded.", now=at)
    for step in ("acknowledge", "refund"):
        do_complete_step(world.session, case.id, step, by="manager", now=at)
    do_resolve(world.session, case.id, by="manager", now=at)
    do_answer_survey(world.session, world.case_ref, SurveyAnswer(4, True, ""), now=at)
    html = client_for("manager").get("/reports").text
    assert "2 cases, 1 resolved" in html
    assert _kpi(html, "csat") == "100.0 %" and _kpi(html, "fcr") == "100.0 %"
    assert _kpi(html, "response_rate") == "100.0 %" and _kpi(html, "sla") == "100.0 %"
    assert _kpi(html, "repeat_business") == "0.0 %"
    assert "Share of survey answers rated 4 or 5 out of 5" in html
    assert html.count("<tr data-kpi=") == 11
    assert 'data-report="groups"' not in html  # no grouping asked


def test_grouping_by_version(world: World, client_for: ClientFor) -> None:
    html = client_for("owner").get("/reports?period=90&by=version").text
    assert re.findall(r'<tr data-group="([^"]+)">', html) == ["critical-check v1", "refunds v1"]
    assert '<option value="version" selected>' in html
    assert '<option value="90" selected>' in html


def test_a_period_between_dates(world: World, client_for: ClientFor) -> None:
    today = world.now.date()
    client = client_for("owner")
    later = f"/reports?period=dates&since={today + timedelta(days=1)}&by=sop"
    html = client.get(later).text
    assert "0 cases, 0 resolved" in html and "No cases or answers in this period." in html
    assert _kpi(html, "csat") == "—"
    around = f"/reports?period=dates&since={today}&until={today + timedelta(days=1)}"
    assert "2 cases, 0 resolved" in client.get(around).text


def test_bad_form_values_are_a_422_page(world: World, client_for: ClientFor) -> None:
    client = client_for("owner")
    for query in (
        "period=365",
        "by=weather",
        "period=dates&since=March",
        "period=dates&since=2026-03-02&until=2026-03-01",
    ):
        assert client.get(f"/reports?{query}").status_code == 422, query


def test_the_form_is_labelled_for_screen_readers(world: World, client_for: ClientFor) -> None:
    html = client_for("owner").get("/reports").text
    for field in ("report-period", "report-since", "report-until", "report-by"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert '<th scope="row">First contact resolution</th>' in html
    assert 'class="stack"' in html  # the tables stack into cards on a phone


def test_on_postgresql_too(any_world: World, any_client_for: ClientFor) -> None:
    html = any_client_for("owner").get("/reports?by=sop").text
    assert re.findall(r'<tr data-group="([^"]+)">', html) == ["critical-check", "refunds"]
    assert _kpi(html, "sla") == "100.0 %"
