"""/api/v1/reports/kpis: permission, exact values from real cases, grouping, bad query
values as 422 problems, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import sops
from sopdesk.actions.base import utcnow
from sopdesk.actions.cases import do_complete_step, do_open_case, do_resolve
from sopdesk.actions.replies import do_reply
from sopdesk.actions.surveys import SurveyAnswer, do_answer_survey
from tests.api.conftest import bearer, problem
from tests.conftest import sop_text

START = utcnow() - timedelta(hours=6)
URL = "/api/v1/reports/kpis"


def _desk(session: Session) -> None:
    """Two cases of one SOP: one answered once and resolved (rated 5), one left open."""
    sops.do_create_draft(session, sop_text(), "ann", now=START - timedelta(days=1))
    sops.do_publish(session, "refunds", approver="bob", now=START - timedelta(days=1))
    done = do_open_case(
        session, customer_email="a@example.com", subject="Refund", sop_id="refunds", now=START
    )
    do_reply(session, done.id, author="agent", text="Done.", now=START + timedelta(hours=1))
    for step in ("acknowledge", "refund"):
        do_complete_step(session, done.id, step, by="agent", now=START + timedelta(hours=2))
    do_resolve(session, done.id, by="agent", now=START + timedelta(hours=2))
    do_answer_survey(
        session, str(done.reference), SurveyAnswer(5, True, ""), now=START + timedelta(hours=3)
    )
    do_open_case(
        session,
        customer_email="b@example.com",
        subject="Where?",
        channel="web",
        sop_id="refunds",
        now=START,
    )


def test_needs_report_read(client: TestClient, session: Session) -> None:
    problem(client.get(URL, headers=bearer(session, "agent@example.com", "agent")), 403)
    cases_only = bearer(session, "owner2@example.com", "owner", "cases:read")
    problem(client.get(URL, headers=cases_only), 403, "forbidden")
    problem(client.get(URL), 401)
    reports = bearer(session, "owner@example.com", "owner", "reports:read")
    assert client.get(URL, headers=reports).status_code == 200


def test_an_empty_desk_reports_null_not_zero(client: TestClient, session: Session) -> None:
    body = client.get(URL, headers=bearer(session, "m@example.com", "manager")).json()
    assert body["by"] == "overall" and body["groups"] == []
    assert body["period"] == {"since": None, "until": None}
    overall = body["overall"]
    assert overall["cases"] == 0 and overall["csat"]["csat"] is None
    assert overall["first_response"] == {
        "count": 0,
        "mean_hours": None,
        "p50_hours": None,
        "p90_hours": None,
    }


def test_kpis_of_real_cases(client: TestClient, session: Session) -> None:
    _desk(session)
    manager = bearer(session, "m@example.com", "manager")
    today = utcnow().date()
    params = {"since": str(today - timedelta(days=2)), "until": str(today + timedelta(days=1))}
    body = client.get(URL, params=params, headers=manager).json()
    assert body["period"]["since"].startswith(params["since"])
    overall = body["overall"]
    assert (overall["cases"], overall["resolved"]) == (2, 1)
    assert overall["csat"] == {
        "answers": 1,
        "satisfied": 1,
        "csat": 1.0,
        "mean_rating": 5.0,
        "answered_resolved_cases": 1,
        "response_rate": 1.0,
    }
    assert overall["fcr"]["rate"] == 1.0 and overall["fcr"]["customer_yes_share"] == 1.0
    assert overall["first_response"]["p50_hours"] == 1.0
    assert overall["resolution"]["p90_hours"] == 2.0
    assert overall["sla"]["attainment"] == 1.0

    channels = client.get(URL, params={**params, "by": "channel"}, headers=manager).json()
    assert [(g["label"], g["channel"], g["kpis"]["cases"]) for g in channels["groups"]] == [
        ("api", "api", 1),
        ("web", "web", 1),
    ]
    versions = client.get(URL, params={"by": "version"}, headers=manager).json()
    [group] = versions["groups"]
    assert (group["sop"], group["version"], group["label"]) == ("refunds", 1, "refunds v1")

    later = {"since": str(today + timedelta(days=1))}
    assert client.get(URL, params=later, headers=manager).json()["overall"]["cases"] == 0


def test_bad_query_values_are_422_problems(client: TestClient, session: Session) -> None:
    manager = bearer(session, "m@example.com", "manager")
    problem(client.get(URL, params={"by": "weather"}, headers=manager), 422)
    problem(client.get(URL, params={"since": "yesterday"}, headers=manager), 422)
    same = {"since": "2026-03-02", "until": "2026-03-02"}
    problem(client.get(URL, params=same, headers=manager), 422)
    backwards = {"since": "2026-03-02", "until": "2026-03-01"}
    problem(client.get(URL, params=backwards, headers=manager), 422)


def test_the_schema_documents_the_operation(client: TestClient) -> None:
    operation = client.get("/api/v1/openapi.json").json()["paths"][URL]["get"]
    assert operation["x-permission"] == "report.read" and operation["summary"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "until", "by"}
