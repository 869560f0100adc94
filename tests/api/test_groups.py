"""/api/v1/groups: create, read, edit, rename, delete groups and their members."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import users
from tests.api.conftest import bearer, problem

LEADS = {"name": "support-lead", "description": "Team leads", "tier": 3}


def owner(session: Session) -> dict[str, str]:
    return bearer(session, "owner@example.com", "owner")


def test_create_list_edit_and_delete(
    client: TestClient, session: Session, manager: dict[str, str]
) -> None:
    boss = owner(session)
    made = client.post("/api/v1/groups", json=LEADS, headers=boss)
    assert made.status_code == 201, made.text
    assert made.json() | {"created_at": None} == {
        **LEADS,
        "email": None,
        "members": [],
        "created_at": None,
    }
    problem(client.post("/api/v1/groups", json=LEADS, headers=boss), 409, "conflict")
    assert [g["name"] for g in client.get("/api/v1/groups", headers=manager).json()] == [
        "support-lead"
    ]
    edited = client.patch(
        "/api/v1/groups/support-lead",
        json={"email": "Leads@Shop.example", "name": "tier-3"},
        headers=boss,
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["email"], body["tier"]) == ("tier-3", "leads@shop.example", 3)
    cleared = client.patch("/api/v1/groups/tier-3", json={"tier": None}, headers=boss).json()
    assert cleared["tier"] is None and cleared["email"] == "leads@shop.example"
    problem(client.get("/api/v1/groups/support-lead", headers=manager), 404, "not_found")
    assert client.delete("/api/v1/groups/tier-3", headers=boss).status_code == 204
    assert client.get("/api/v1/groups", headers=manager).json() == []


def test_members_are_added_once_and_removed(
    client: TestClient, session: Session, manager: dict[str, str], agent: dict[str, str]
) -> None:
    boss = owner(session)
    client.post("/api/v1/groups", json=LEADS, headers=boss)
    url = "/api/v1/groups/support-lead/members/agent@example.com"
    for _ in range(2):
        added = client.put(url, headers=boss)
        assert added.status_code == 200, added.text
    members = added.json()["members"]
    assert members == [{"email": "agent@example.com", "name": "agent", "active": True}]
    got = client.get("/api/v1/groups/support-lead", headers=manager).json()
    assert got["members"] == members
    assert users.user_groups(session, users.get_user(session, "agent@example.com").id) == [
        "support-lead"
    ]
    assert client.get("/api/v1/me", headers=agent).json()["groups"] == ["support-lead"]
    problem(client.put("/api/v1/groups/support-lead/members/x@nowhere.example", headers=boss), 404)
    assert client.delete(url, headers=boss).status_code == 204
    problem(client.delete(url, headers=boss), 404, "not_found")


def test_invalid_groups_are_refused(client: TestClient, session: Session) -> None:
    boss = owner(session)
    for bad in (
        {"name": "Support Lead"},
        {"name": "-lead"},
        {"name": "lead", "tier": 0},
        {"name": "lead", "tier": 10},
        {"name": "lead", "email": "not an address"},
        {"name": "x" * 81},
    ):
        problem(client.post("/api/v1/groups", json=bad, headers=boss), 422, "invalid_input")
    assert client.get("/api/v1/groups", headers=boss).json() == []


def test_managers_read_only_owners_change(
    client: TestClient, session: Session, manager: dict[str, str], agent: dict[str, str]
) -> None:
    problem(client.post("/api/v1/groups", json=LEADS, headers=manager), 403, "forbidden")
    problem(client.get("/api/v1/groups", headers=agent), 403, "forbidden")
    assert client.get("/api/v1/groups", headers=manager).status_code == 200


def test_create_is_idempotent(client: TestClient, session: Session) -> None:
    headers = owner(session) | {"Idempotency-Key": "group-1"}
    first = client.post("/api/v1/groups", json=LEADS, headers=headers)
    again = client.post("/api/v1/groups", json=LEADS, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.text == first.text


def test_every_operation_has_a_summary(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    operations = [
        op
        for path, item in paths.items()
        if path.startswith("/api/v1/groups")
        for op in item.values()
    ]
    assert len(operations) == 7
    assert all(op.get("summary") and op.get("x-permission") for op in operations)
