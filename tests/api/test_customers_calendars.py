"""/api/v1/customers and /api/v1/calendars."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.store.tables import CaseEventRow, CustomerRow, OutboxRow
from tests.api.conftest import bearer, problem


def test_customers_list_and_history(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    for index, email in enumerate(["a@x.example", "b@x.example", "a@x.example"]):
        body = {"customer": {"email": email, "name": f"N{index}"}, "subject": f"Question {index}"}
        assert client.post("/api/v1/cases", json=body, headers=agent).status_code == 201
    first = client.get("/api/v1/customers?limit=1", headers=agent)
    assert first.status_code == 200
    assert [c["email"] for c in first.json()["items"]] == ["a@x.example"]
    assert first.json()["next_cursor"] and 'rel="next"' in first.headers["link"]
    second = client.get(
        "/api/v1/customers",
        params={"limit": 1, "cursor": first.json()["next_cursor"]},
        headers=agent,
    ).json()
    assert [c["email"] for c in second["items"]] == ["b@x.example"] and second[
        "next_cursor"
    ] is None
    assert [
        c["email"] for c in client.get("/api/v1/customers?q=B@X", headers=agent).json()["items"]
    ] == ["b@x.example"]
    by_email = client.get("/api/v1/customers/A@x.example", headers=agent).json()
    assert by_email["name"] == "N0" and len(by_email["cases"]) == 2
    assert "case.opened" in [e["kind"] for e in by_email["events"]]
    by_id = client.get(f"/api/v1/customers/{by_email['id']}", headers=agent).json()
    assert by_id["cases"] == by_email["cases"]
    problem(client.get("/api/v1/customers/99999999999999", headers=agent), 404)
    problem(client.get("/api/v1/customers/nobody@x.example", headers=agent), 404)


def test_calendars_put_get_list_and_validation(
    client: TestClient, session: Session, manager: dict[str, str], agent: dict[str, str]
) -> None:
    config = {"timezone": "Europe/London", "hours": "mon-fri 09:00-17:30", "holidays": ["GB"]}
    saved = client.put("/api/v1/calendars/uk-office", json=config, headers=manager)
    assert saved.status_code == 200, saved.text
    assert saved.json()["config"]["timezone"] == "Europe/London"
    assert client.get("/api/v1/calendars/uk-office", headers=manager).json() == saved.json()
    assert [c["name"] for c in client.get("/api/v1/calendars", headers=manager).json()] == [
        "uk-office"
    ]
    bad = client.put("/api/v1/calendars/uk-office", json={"timezone": "Mars/Base"}, headers=manager)
    assert "IANA timezone" in problem(bad, 422, "invalid_calendar")["detail"]
    problem(client.put("/api/v1/calendars/UK Office", json=config, headers=manager), 422)
    problem(client.get("/api/v1/calendars/nope", headers=manager), 404)
    problem(client.get("/api/v1/calendars", headers=agent), 403)


def test_adding_a_customer_starts_onboarding_once(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    body = {"email": "New@Customer.example", "name": "Nia Obi", "tier": "gold", "tags": ["vip"]}
    added = client.post("/api/v1/customers", json=body, headers=agent)
    assert added.status_code == 201, added.text
    customer = added.json()
    assert (customer["email"], customer["tier"], customer["tags"]) == (
        "new@customer.example",
        "gold",
        ["vip"],
    )
    assert added.headers["location"] == f"/api/v1/customers/{customer['id']}"
    again = client.post("/api/v1/customers", json=body | {"tier": "silver"}, headers=agent)
    assert again.status_code == 200 and again.json() == customer  # as they were
    history = client.get(f"/api/v1/customers/{customer['id']}", headers=agent).json()
    assert [case["sop"] for case in history["cases"]] == ["customer-onboarding"]
    problem(client.post("/api/v1/customers", json={"name": "x"}, headers=agent), 422)


def test_the_third_purchase_opens_a_loyalty_case_and_a_replay_counts_nothing(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    email = "loyal@customer.example"
    assert client.post("/api/v1/customers", json={"email": email}, headers=agent).is_success
    answers = [
        client.post(
            f"/api/v1/customers/{email}/purchases", json={"purchase_id": f"o-{n}"}, headers=agent
        )
        for n in (1, 2, 3, 3)
    ]
    assert [a.status_code for a in answers] == [201] * 4
    assert [(a.json()["counted"], a.json()["started"]) for a in answers] == [
        (True, 0),
        (True, 0),
        (True, 1),
        (False, 0),
    ]
    assert answers[-1].json()["customer"]["purchases"] == 3
    history = client.get(f"/api/v1/customers/{email}", headers=agent).json()
    assert "loyalty-recognition" in [case["sop"] for case in history["cases"]]
    future = {"purchase_id": "o-9", "at": "2999-01-01T00:00:00Z"}
    problem(client.post(f"/api/v1/customers/{email}/purchases", json=future, headers=agent), 422)
    naive = {"purchase_id": "o-9", "at": "2026-01-01T00:00:00"}
    problem(client.post(f"/api/v1/customers/{email}/purchases", json=naive, headers=agent), 422)
    missing = {"purchase_id": "o-1"}
    problem(
        client.post("/api/v1/customers/nobody@x.example/purchases", json=missing, headers=agent),
        404,
    )
    problem(client.post("/api/v1/customers/99999/purchases", json=missing, headers=agent), 404)


def test_a_customer_s_tier_and_tags_change_and_route_their_next_case(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    email = "corp@customer.example"
    first = {"customer": {"email": email}, "subject": "Question about invoices"}
    assert client.post("/api/v1/cases", json=first, headers=agent).json()["sop"] != "customer-sla"
    changed = client.patch(
        f"/api/v1/customers/{email}",
        json={"tier": "gold", "tags": [" sla ", "sla", "emea"], "phone": "+44 1"},
        headers=agent,
    )
    assert changed.status_code == 200, changed.text
    customer = changed.json()
    assert (customer["tier"], customer["tags"], customer["phone"]) == (
        "gold",
        ["sla", "emea"],
        "+44 1",
    )
    assert customer["email"] == email
    later = client.post("/api/v1/cases", json=first, headers=agent).json()
    assert later["sop"] == "customer-sla"  # its applies_to: customer_tags [sla, contract]
    cleared = client.patch(f"/api/v1/customers/{email}", json={"phone": ""}, headers=agent)
    assert cleared.json()["phone"] is None and cleared.json()["tags"] == ["sla", "emea"]
    history = client.get(f"/api/v1/customers/{email}", headers=agent).json()
    [update, clearing] = [e for e in history["events"] if e["kind"] == "customer.updated"]
    assert update["actor"] == "agent@example.com"
    assert update["data"]["changes"]["tier"] == ["standard", "gold"]
    assert clearing["data"]["changes"] == {"phone": ["+44 1", None]}
    problem(client.patch(f"/api/v1/customers/{email}", json={"tier": ""}, headers=agent), 422)
    long_phone = {"phone": "1" * 41}
    problem(client.patch(f"/api/v1/customers/{email}", json=long_phone, headers=agent), 422)
    problem(client.patch("/api/v1/customers/nobody@x.example", json={}, headers=agent), 404)


def test_a_customer_s_address_changes_and_keeps_their_cases(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    """A typo fixed: same customer, same cases; the next e-mail goes to the new address."""
    old, new = "ann.lee@customer.exmaple", "ann.lee@customer.example"
    opened = {"customer": {"email": old, "name": "Ann Lee"}, "subject": "Question about invoices"}
    case = client.post("/api/v1/cases", json=opened, headers=agent).json()
    changed = client.patch(f"/api/v1/customers/{old}", json={"email": " Ann.Lee@Customer.Example "},
                           headers=agent)  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == new
    problem(client.get(f"/api/v1/customers/{old}", headers=agent), 404)
    history = client.get(f"/api/v1/customers/{new}", headers=agent).json()
    assert history["id"] == changed.json()["id"]
    assert [c["reference"] for c in history["cases"]] == [case["reference"]]
    [update] = [e for e in history["events"] if e["kind"] == "customer.updated"]
    assert update["data"]["changes"] == {"email": [old, new]}

    reply = client.post(f"/api/v1/cases/{case['reference']}/replies",
                        json={"text": "Here is the invoice."}, headers=agent)  # fmt: skip
    assert reply.status_code == 201, reply.text
    assert reply.json()["to_addresses"] == [new]
    payloads = library.scalars(select(OutboxRow.payload).where(OutboxRow.case_id == case["id"]))
    [queued] = [p for p in payloads if p["message_row_id"] == reply.json()["id"]]
    assert [to["address"] for to in queued["to"]] == [new]

    again = client.post("/api/v1/cases", json={**opened, "customer": {"email": new}}, headers=agent)
    assert again.json()["customer"]["id"] == changed.json()["id"]  # no second customer


def test_an_address_belongs_to_one_customer(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    for email in ("bo@customer.example", "cy@customer.example"):
        client.post("/api/v1/customers", json={"email": email}, headers=agent)
    taken = client.patch("/api/v1/customers/bo@customer.example",
                         json={"email": "CY@customer.example"}, headers=agent)  # fmt: skip
    assert "cy@customer.example" in problem(taken, 409)["detail"]
    not_an_address = {"email": "bo at customer.example"}
    problem(client.patch("/api/v1/customers/bo@customer.example", json=not_an_address,
                         headers=agent), 422)  # fmt: skip
    same = client.patch("/api/v1/customers/bo@customer.example",
                        json={"email": "bo@customer.example"}, headers=agent)  # fmt: skip
    assert same.status_code == 200
    events = library.scalars(select(CaseEventRow).where(CaseEventRow.kind == "customer.updated"))
    assert list(events) == []  # nothing changed, nothing logged


def test_two_customers_who_are_one_person_are_merged(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    cases = {}
    for email, subject in (("ann@work.example", "Invoice question"), ("ann@home.example", "Hi")):
        body = {"customer": {"email": email, "name": "Ann Lee"}, "subject": subject}
        cases[email] = client.post("/api/v1/cases", json=body, headers=agent).json()
    work = cases["ann@work.example"]["customer"]["id"]
    home = cases["ann@home.example"]["customer"]["id"]
    merged = client.post(f"/api/v1/customers/{work}/merge",
                         json={"customer": "ANN@home.example"}, headers=agent)  # fmt: skip
    assert merged.status_code == 200, merged.text
    answer = merged.json()
    assert answer["customer"]["id"] == work
    assert answer["merged"] == {"id": home, "email": "ann@home.example", "name": "Ann Lee"}
    assert answer["cases"] == 1 and answer["addresses"] == ["ann@home.example"]
    problem(client.get(f"/api/v1/customers/{home}", headers=agent), 404)
    history = client.get("/api/v1/customers/ann@home.example", headers=agent).json()
    assert history["id"] == work and history["addresses"] == ["ann@home.example"]
    assert {c["reference"] for c in history["cases"]} == {
        cases[email]["reference"] for email in cases
    }
    [event] = [e for e in history["events"] if e["kind"] == "customer.merged"]
    assert event["actor"] == "agent@example.com" and event["data"]["cases"] == 1
    again = {"customer": {"email": "ann@home.example"}, "subject": "One more thing"}
    assert client.post("/api/v1/cases", json=again, headers=agent).json()["customer"]["id"] == work
    problem(client.post(f"/api/v1/customers/{work}/merge", json={"customer": str(home)},
                        headers=agent), 404)  # fmt: skip
    itself = client.post(f"/api/v1/customers/{work}/merge",
                         json={"customer": "ann@home.example"}, headers=agent)  # fmt: skip
    assert "cannot be merged into themselves" in problem(itself, 422)["detail"]


def test_a_customer_s_other_addresses_are_added_and_removed(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    for email in ("bo@customer.example", "cy@customer.example"):
        client.post("/api/v1/customers", json={"email": email}, headers=agent)
    added = client.post("/api/v1/customers/bo@customer.example/addresses",
                        json={"address": "Bo@Home.example"}, headers=agent)  # fmt: skip
    assert added.status_code == 201, added.text
    assert added.json()["email"] == "bo@customer.example"
    assert added.json()["addresses"] == ["bo@home.example"]
    found = client.get("/api/v1/customers?q=HOME.example", headers=agent).json()["items"]
    assert [c["email"] for c in found] == ["bo@customer.example"]  # found by either address
    opened = {"customer": {"email": "bo@home.example"}, "subject": "From home"}
    case = client.post("/api/v1/cases", json=opened, headers=agent).json()
    assert case["customer"]["email"] == "bo@customer.example"  # replies go to their own
    taken = client.post("/api/v1/customers/cy@customer.example/addresses",
                        json={"address": "bo@home.example"}, headers=agent)  # fmt: skip
    body = problem(taken, 409)
    assert "merge customer" in body["hint"]
    problem(client.post("/api/v1/customers/cy@customer.example/addresses",
                        json={"address": "no address"}, headers=agent), 422)  # fmt: skip
    own = client.delete("/api/v1/customers/bo@customer.example/addresses/bo@customer.example",
                        headers=agent)  # fmt: skip
    assert "own address" in problem(own, 422)["detail"]
    problem(client.delete("/api/v1/customers/cy@customer.example/addresses/bo@home.example",
                          headers=agent), 404)  # fmt: skip
    removed = client.delete("/api/v1/customers/bo@customer.example/addresses/bo@home.example",
                            headers=agent)  # fmt: skip
    assert removed.status_code == 200 and removed.json()["addresses"] == []
    problem(client.get("/api/v1/customers/bo@home.example", headers=agent), 404)


def test_the_mark_that_an_address_bounces_is_shown_and_lifted(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    viewer = bearer(library, "agent@example.com", "agent", "cases:read")
    created = client.post("/api/v1/customers", json={"email": "di@customer.example"}, headers=agent)
    customer = created.json()
    assert (customer["email_bounced_at"], customer["email_bounce"]) == (None, None)
    row = library.get(CustomerRow, customer["id"])
    assert row is not None
    row.email_bounced_at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    row.email_bounce = "bounced: di@customer.example: 5.1.1 550 no such user"
    library.commit()
    shown = client.get("/api/v1/customers/di@customer.example", headers=agent).json()
    assert shown["email_bounce"] == row.email_bounce
    assert datetime.fromisoformat(shown["email_bounced_at"]) == row.email_bounced_at

    def bouncing() -> list[str]:
        listed = client.get("/api/v1/customers", params={"bounced": "true"}, headers=agent)
        return [c["email"] for c in listed.json()["items"]]

    assert bouncing() == ["di@customer.example"]
    problem(client.delete("/api/v1/customers/di@customer.example/bounce", headers=viewer), 403)
    lifted = client.delete("/api/v1/customers/di@customer.example/bounce", headers=agent)
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["email_bounced_at"], lifted.json()["email_bounce"]) == (None, None)
    assert bouncing() == []
    again = client.delete(f"/api/v1/customers/{customer['id']}/bounce", headers=agent)
    assert again.status_code == 200  # nothing to lift: answered as they are
    problem(client.delete("/api/v1/customers/nobody@customer.example/bounce", headers=agent), 404)
    kinds = library.scalars(
        select(CaseEventRow.kind).where(CaseEventRow.customer_id == customer["id"])
    ).all()
    assert kinds.count("customer.bounce_cleared") == 1
