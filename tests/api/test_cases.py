"""/api/v1/cases on SQLite and PostgreSQL: open, list, read, reply, note, steps, status."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions.cases import do_open_case
from sopdesk.actions.delivery import record_delivery_failure
from tests.api.conftest import problem

NEW_CASE = {
    "customer": {"email": "Ann@Customer.example", "name": "Ann Lee"},
    "subject": "Question about opening hours",
    "body": "Hello, what are your opening hours on Saturday?",
}


def _open(client: TestClient, headers: dict[str, str], **extra: object) -> dict[str, object]:
    response = client.post("/api/v1/cases", json=NEW_CASE | extra, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_open_a_case_routes_it_and_starts_the_sop(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    response = client.post("/api/v1/cases", json=NEW_CASE, headers=agent)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["reference"] == f"SD-{case['id']}"
    assert response.headers["location"] == f"/api/v1/cases/{case['reference']}"
    assert case["customer"]["email"] == "ann@customer.example"
    assert case["sop"] == "inquiry-response" and case["sop_version"] == 1
    assert case["channel"] == "api" and case["status"] in {"new", "open"}
    steps = {step["step_id"]: step for step in case["steps"]}
    assert steps["answer"]["title"] == "Answer the inquiry"
    assert steps["answer"]["due_at"] is not None and steps["answer"]["status"] != "done"
    assert any(clock["target"] == "metric:first_response" for clock in case["clocks"])
    assert case["messages"][0]["kind"] == "inbound"
    assert "case.opened" in [e["kind"] for e in case["events"]]
    fetched = client.get(f"/api/v1/cases/{case['reference'].lower()}", headers=agent).json()
    assert fetched["id"] == case["id"] and fetched["steps"] == case["steps"]


def test_invalid_cases_are_422_problems(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    body = problem(client.post("/api/v1/cases", json={"subject": "x"}, headers=agent), 422)
    assert {"#/customer"} <= {e.get("pointer") for e in body["errors"]}
    bad = NEW_CASE | {"channel": "pigeon"}
    assert (
        "unknown channel"
        in problem(client.post("/api/v1/cases", json=bad, headers=agent), 422)["detail"]
    )
    nul = NEW_CASE | {"subject": "a\x00b"}
    problem(client.post("/api/v1/cases", json=nul, headers=agent), 422, "invalid_input")
    problem(client.get("/api/v1/cases/SD-999999", headers=agent), 404, "not_found")
    problem(client.get("/api/v1/cases/not-a-ref", headers=agent), 422, "invalid_input")


def test_unauthenticated_calls_are_401_problem_json(client: TestClient) -> None:
    for response in (
        client.post("/api/v1/cases", json=NEW_CASE),
        client.get("/api/v1/cases"),
        client.get("/api/v1/sops"),
    ):
        problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_reply_note_steps_status_and_assign(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    ref = _open(client, agent)["reference"]
    base = f"/api/v1/cases/{ref}"
    note = client.post(f"{base}/notes", json={"text": "Checked the shop hours."}, headers=agent)
    assert note.status_code == 201 and note.json()["kind"] == "note"
    problem(client.post(f"{base}/notes", json={"text": ""}, headers=agent), 422)
    typed = client.post(f"{base}/replies", json={"text": "We open at 10."}, headers=agent)
    assert typed.status_code == 201, typed.text
    assert typed.json()["kind"] == "outbound" and typed.json()["author"] == "agent@example.com"
    templated = client.post(
        f"{base}/replies", json={"template_id": "inquiry-answer"}, headers=agent
    )
    assert templated.status_code == 201, templated.text
    assert "Ann" in templated.json()["text"]
    problem(client.post(f"{base}/replies", json={"template_id": "nope"}, headers=agent), 404)
    problem(client.post(f"{base}/replies", json={}, headers=agent), 422)

    done = client.post(f"{base}/steps/triage/complete", headers=agent)
    assert done.status_code == 200, done.text
    triage = next(s for s in done.json()["steps"] if s["step_id"] == "triage")
    assert triage["status"] == "done" and triage["actor"] == "agent@example.com"
    problem(client.post(f"{base}/steps/hand-over/skip", json={}, headers=agent), 422)
    skipped = client.post(f"{base}/steps/hand-over/skip", json={"reason": "simple"}, headers=agent)
    assert skipped.status_code == 200, skipped.text
    hand_over = next(s for s in skipped.json()["steps"] if s["step_id"] == "hand-over")
    assert hand_over["status"] == "skipped" and hand_over["reason"] == "simple"
    problem(client.post(f"{base}/steps/no-such-step/complete", headers=agent), 404)

    assigned = client.post(f"{base}/assign", json={"assignee": "bob"}, headers=agent).json()
    assert assigned["assignee"] == "bob"
    assert "case.assigned" in [e["kind"] for e in assigned["events"]]
    pending = client.post(f"{base}/status", json={"status": "pending"}, headers=agent)
    assert pending.status_code == 200 and pending.json()["status"] == "pending"
    problem(client.post(f"{base}/status", json={"status": "lost"}, headers=agent), 422)


def test_override_and_resolve_through_the_gate(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    ref = _open(client, agent)["reference"]
    base = f"/api/v1/cases/{ref}"
    blocked = client.post(f"{base}/status", json={"status": "resolved"}, headers=agent)
    assert problem(blocked, 409)["code"]
    problem(client.post(f"{base}/steps/triage/override", json={"reason": ""}, headers=agent), 422)
    overridden = client.post(
        f"{base}/steps/triage/override", json={"reason": "answered by phone"}, headers=agent
    )
    assert overridden.status_code == 200, overridden.text
    triage = next(s for s in overridden.json()["steps"] if s["step_id"] == "triage")
    assert triage["reason"] == "answered by phone"


def test_record_an_sop_event(client: TestClient, library: Session, agent: dict[str, str]) -> None:
    ref = _open(client, agent, sop="returns-and-refunds", subject="Return my boots")["reference"]
    recorded = client.post(f"/api/v1/cases/{ref}/events/item_received", headers=agent)
    assert recorded.status_code == 200, recorded.text
    assert "event.recorded" in [e["kind"] for e in recorded.json()["events"]]
    at = {"at": "2026-03-02T10:00:00"}  # no offset: refused
    problem(client.post(f"/api/v1/cases/{ref}/events/item_received", json=at, headers=agent), 422)


def test_list_filters(client: TestClient, library: Session, agent: dict[str, str]) -> None:
    first = _open(client, agent)
    second = _open(
        client,
        agent,
        customer={"email": "bo@customer.example", "name": "Bo"},
        subject="Boots arrived broken",
        channel="email",
        sop="returns-and-refunds",
    )
    triage = _open(client, agent, subject="zzz", body="", sop=None, case_type=None)
    client.post(
        f"/api/v1/cases/{second['reference']}/assign", json={"assignee": "kim"}, headers=agent
    )

    def refs(**params: object) -> list[str]:
        response = client.get("/api/v1/cases", params=params, headers=agent)
        assert response.status_code == 200, response.text
        return [case["reference"] for case in response.json()["items"]]

    everything = refs()
    assert set(everything) == {first["reference"], second["reference"], triage["reference"]}
    assert refs(channel="email") == [second["reference"]]
    assert refs(assignee="kim") == [second["reference"]]
    assert refs(sop="inquiry-response") == [first["reference"]]
    assert refs(q="BOOTS") == [second["reference"]]
    assert refs(q=first["reference"]) == [first["reference"]]
    assert refs(q="bo@customer") == [second["reference"]]
    assert set(refs(status=["new", "open"])) <= set(everything)
    assert refs(status="closed") == []
    assert refs(breached=True) == []
    assert refs(q="50%_off") == []
    old = do_open_case(
        library,
        customer_email="late@customer.example",
        subject="An old question",
        sop_id="inquiry-response",
        now=datetime(2020, 3, 2, 10, 0, tzinfo=UTC),
    )
    assert refs(breached=True) == [old.reference]
    assert old.reference not in refs(breached=False)
    due = {c["reference"] for c in (first, second, triage) if c["next_due_at"]} | {old.reference}
    assert first["reference"] in due and second["reference"] in due
    assert set(refs(due_before="2100-01-01T00:00:00+00:00")) == due
    assert refs(due_before="2000-01-01T00:00:00+00:00") == []
    assert set(refs(breached=False)) == set(everything)  # the three opened just now
    problem(client.get("/api/v1/cases", params={"limit": 0}, headers=agent), 422)
    problem(client.get("/api/v1/cases", params={"cursor": "garbage!"}, headers=agent), 422)
    huge = "WyIyMDI2LTAzLTAyVDEwOjAwOjAwKzAwOjAwIiwgOTk5OTk5OTk5OTk5OTk5XQ"  # id 999999999999999
    problem(client.get("/api/v1/cases", params={"cursor": huge}, headers=agent), 422)
    problem(
        client.get("/api/v1/cases", params={"due_before": "2026-01-01T00:00"}, headers=agent), 422
    )


def test_cursor_pagination_is_stable(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    opened = [
        _open(client, agent, customer={"email": f"c{i}@x.example", "name": ""})["reference"]
        for i in range(7)
    ]
    seen: list[str] = []
    url: str | None = "/api/v1/cases?limit=3"
    pages = 0
    while url:
        response = client.get(url, headers=agent)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [case["reference"] for case in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            url = None
        else:
            link = response.headers["link"]
            assert link.endswith('>; rel="next"') and "limit=3" in link
            url = link[1 : link.index(">")]
            assert f"cursor={body['next_cursor']}" in url
            if pages == 1:  # a case that changes while paging neither repeats nor vanishes
                client.post(f"/api/v1/cases/{seen[0]}/notes", json={"text": "x"}, headers=agent)
                _open(client, agent, customer={"email": "late@x.example", "name": ""})
    assert pages == 3
    assert len(seen) == len(set(seen))
    assert set(opened) <= set(seen)
    again = client.get("/api/v1/cases?limit=3", headers=agent).json()
    assert [c["reference"] for c in again["items"]] == seen[:3]


def test_a_second_case_about_the_same_thing_is_merged(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    first = _open(client, agent)
    second = _open(client, agent, subject="Opening hours again", body="Are you open Sunday?")
    merged = client.post(
        f"/api/v1/cases/{first['reference']}/merge",
        json={"case": str(second["reference"]).lower()},
        headers=agent,
    )
    assert merged.status_code == 200, merged.text
    kept = merged.json()
    assert kept["id"] == first["id"] and kept["merged_into"] is None
    texts = [message["text"] for message in kept["messages"]]
    assert "Are you open Sunday?" in texts
    assert texts[-1].startswith(f"{second['reference']} (Opening hours again) was merged into")
    assert "case.merged" in [event["kind"] for event in kept["events"]]
    gone = client.get(f"/api/v1/cases/{second['reference']}", headers=agent).json()
    assert gone["status"] == "closed" and gone["merged_into"] == first["reference"]
    assert gone["messages"] == [] and gone["next_due_at"] is None
    again = client.post(
        f"/api/v1/cases/{first['reference']}/merge",
        json={"case": second["reference"]},
        headers=agent,
    )
    assert "merged into another case already" in problem(again, 409)["detail"]
    itself = client.post(
        f"/api/v1/cases/{first['reference']}/merge",
        json={"case": str(first["id"])},
        headers=agent,
    )
    problem(itself, 422)
    problem(client.post(f"/api/v1/cases/{first['reference']}/merge", json={"case": "SD-x"},
                        headers=agent), 422)  # fmt: skip
    problem(client.post(f"/api/v1/cases/{first['reference']}/merge", json={"case": "SD-99999"},
                        headers=agent), 404)  # fmt: skip
    someone = _open(client, agent, customer={"email": "bo@customer.example"})
    other = client.post(
        f"/api/v1/cases/{first['reference']}/merge",
        json={"case": someone["reference"]},
        headers=agent,
    )
    assert "merge the customers first" in problem(other, 409)["hint"]


def test_an_outbound_message_says_whether_it_was_delivered(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    case = _open(client, agent)
    ref = str(case["reference"])
    queued = client.post(f"/api/v1/cases/{ref}/replies", json={"text": "Hi"}, headers=agent)
    assert queued.status_code == 201, queued.text
    reply = queued.json()
    assert (reply["sent_at"], reply["delivery_failed_at"], reply["delivery_error"]) == (None,) * 3
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert record_delivery_failure(
        library, reply["id"], "not sent: 550 no such user", at, via="relay"
    )
    library.commit()
    messages = client.get(f"/api/v1/cases/{ref}", headers=agent).json()["messages"]
    [out] = [m for m in messages if m["id"] == reply["id"]]
    assert (out["sent_at"], out["delivery_error"]) == (None, "not sent: 550 no such user")
    assert datetime.fromisoformat(out["delivery_failed_at"]) == at
    assert "message.delivery_failed" in [e["kind"] for e in case_events(client, ref, agent)]
    others = [m for m in messages if m["id"] != reply["id"]]
    assert others and all(m["delivery_failed_at"] is None for m in others)


def case_events(client: TestClient, ref: str, headers: dict[str, str]) -> list[dict[str, object]]:
    return client.get(f"/api/v1/cases/{ref}", headers=headers).json()["events"]


def test_a_case_in_triage_is_given_an_sop(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    case = _open(client, agent, subject="Hello", body="Call me back please.")
    ref = str(case["reference"])
    assert case["sop"] is None and case["steps"] == []

    def in_triage() -> list[str]:
        listed = client.get("/api/v1/cases", params={"triage": "true"}, headers=agent).json()
        return [item["reference"] for item in listed["items"]]

    assert in_triage() == [ref]
    started = client.post(f"/api/v1/cases/{ref}/sop", json={"sop": "inquiry-response"},
                          headers=agent)  # fmt: skip
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["sop"] == "inquiry-response" and body["sop_version"] == 1
    assert {step["step_id"] for step in body["steps"]} >= {"triage", "answer"}
    assert body["route"]["source"] == "manual"
    assert "case.triaged" in [e["kind"] for e in body["events"]]
    assert in_triage() == []
    running = client.get("/api/v1/cases", params={"triage": "false"}, headers=agent).json()
    assert ref in [item["reference"] for item in running["items"]]
    again = client.post(f"/api/v1/cases/{ref}/sop", json={"sop": "returns-and-refunds"},
                        headers=agent)  # fmt: skip
    assert "already runs inquiry-response" in problem(again, 409)["detail"]
    other = _open(client, agent, subject="Hi there", body="Ring me.")
    other_ref = str(other["reference"])
    unknown = client.post(f"/api/v1/cases/{other_ref}/sop", json={"sop": "no-such-sop"},
                          headers=agent)  # fmt: skip
    problem(unknown, 404)
    bad = client.post(f"/api/v1/cases/{other_ref}/sop", json={"sop": "Not An Id"}, headers=agent)
    problem(bad, 422)
