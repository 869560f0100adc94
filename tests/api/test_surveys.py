"""/api/v1/surveys and /api/v1/cases/{ref}/survey: permissions, filters, cursor pages,
the schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions.base import utcnow
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.surveys import SurveyAnswer, do_answer_survey
from tests.api.conftest import bearer, problem

START = utcnow() - timedelta(hours=2)


def _answered(session: Session, count: int) -> list[str]:
    """`count` cases with answers rated 1, 2, ... (mod 5), a minute apart, oldest first."""
    start = START
    references = []
    for number in range(count):
        case = do_open_case(
            session,
            customer_email=f"c{number}@example.com",
            subject=f"Question {number}",
            sop_id=None,
            now=start,
        )
        answer = SurveyAnswer(number % 5 + 1, number % 2 == 0, f"comment <b>{number}</b>")
        do_answer_survey(
            session, str(case.reference), answer, now=start + timedelta(minutes=number)
        )
        references.append(str(case.reference))
    return references


def test_list_needs_report_read(client: TestClient, session: Session) -> None:
    agent = bearer(session, "agent@example.com", "agent")
    problem(client.get("/api/v1/surveys", headers=agent), 403, "forbidden")
    manager = bearer(session, "manager@example.com", "manager")
    assert client.get("/api/v1/surveys", headers=manager).json() == {
        "items": [],
        "next_cursor": None,
    }
    reports = bearer(session, "owner@example.com", "owner", "reports:read")
    assert client.get("/api/v1/surveys", headers=reports).status_code == 200
    cases_only = bearer(session, "owner2@example.com", "owner", "cases:read")
    problem(client.get("/api/v1/surveys", headers=cases_only), 403, "forbidden")


def test_list_newest_first_with_cursor_and_filters(client: TestClient, session: Session) -> None:
    references = _answered(session, 7)
    manager = bearer(session, "manager@example.com", "manager")
    first = client.get("/api/v1/surveys?limit=3", headers=manager)
    assert first.status_code == 200
    body = first.json()
    assert [item["case"] for item in body["items"]] == references[::-1][:3]
    assert body["items"][0]["comment"] == "comment <b>6</b>"
    assert 'rel="next"' in first.headers["link"]
    seen = [item["case"] for item in body["items"]]
    cursor = body["next_cursor"]
    while cursor:
        page = client.get("/api/v1/surveys", params={"limit": 3, "cursor": cursor}, headers=manager)
        seen += [item["case"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seen == references[::-1]
    low = client.get("/api/v1/surveys?rating_max=2", headers=manager).json()["items"]
    assert sorted(item["rating"] for item in low) == [1, 1, 2, 2]
    since = (START + timedelta(minutes=5)).isoformat()
    recent = client.get("/api/v1/surveys", params={"since": since}, headers=manager).json()
    assert [item["case"] for item in recent["items"]] == references[::-1][:2]
    assert client.get("/api/v1/surveys?sop=nope", headers=manager).json()["items"] == []
    problem(client.get("/api/v1/surveys?rating_max=6", headers=manager), 422)
    problem(client.get("/api/v1/surveys?cursor=garbage!", headers=manager), 422)
    problem(client.get("/api/v1/surveys?since=2026-01-01T00:00:00", headers=manager), 422)


def test_case_survey(client: TestClient, session: Session) -> None:
    references = _answered(session, 1)
    agent = bearer(session, "agent@example.com", "agent")
    answer = client.get(f"/api/v1/cases/{references[0]}/survey", headers=agent)
    assert answer.status_code == 200
    assert answer.json()["rating"] == 1 and answer.json()["resolved"] is True
    case = do_open_case(session, customer_email="new@example.com", subject="No answer yet")
    problem(client.get(f"/api/v1/cases/{case.reference}/survey", headers=agent), 404)
    problem(client.get("/api/v1/cases/SD-424242/survey", headers=agent), 404)
    reports_only = bearer(session, "manager@example.com", "manager", "reports:read")
    problem(
        client.get(f"/api/v1/cases/{references[0]}/survey", headers=reports_only), 403, "forbidden"
    )


def test_schema_documents_the_operations(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    listing = schema["paths"]["/api/v1/surveys"]["get"]
    one = schema["paths"]["/api/v1/cases/{ref}/survey"]["get"]
    assert listing["summary"] == "List survey answers"
    assert listing["x-permission"] == "report.read"
    assert one["summary"] == "Get a case's survey answer"
    assert one["x-permission"] == "case.read"
    assert "SurveyOut" in schema["components"]["schemas"]
