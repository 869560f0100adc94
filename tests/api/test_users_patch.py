"""GET and PATCH /api/v1/users/{email}: rename, change roles, deactivate and reactivate,
on SQLite and PostgreSQL, with the permission, 404, 409 (last owner) and 422 answers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import signin, users
from sopdesk.web.security import SESSION_COOKIE
from tests.api.conftest import bearer, problem


def test_owner_renames_and_changes_a_role(client: TestClient, session: Session) -> None:
    owner = bearer(session, "olive@example.com", "owner")
    ann = bearer(session, "ann@example.com", "agent")
    assert client.get("/api/v1/reports/kpis", headers=ann).status_code == 403
    patched = client.patch(
        "/api/v1/users/ANN@example.com",
        json={"name": "Ann Lee", "role": "manager"},
        headers=owner,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["email"], body["name"], body["role"], body["active"]) == (
        "ann@example.com",
        "Ann Lee",
        "manager",
        True,
    )
    # her existing token acts with the new role on its very next call
    me = client.get("/api/v1/me", headers=ann).json()
    assert me["role"] == "manager" and "report.read" in me["permissions"]
    got = client.get("/api/v1/users/ann@example.com", headers=owner)
    assert got.status_code == 200 and got.json() == body
    # nothing sent, or only nulls: nothing changes
    same = client.patch("/api/v1/users/ann@example.com", json={"role": None}, headers=owner)
    assert same.status_code == 200 and same.json() == body


def test_deactivate_and_reactivate(client: TestClient, session: Session) -> None:
    owner = bearer(session, "olive@example.com", "owner")
    ann = bearer(session, "ann@example.com", "agent")
    browser = signin.do_start_session(session, users.get_user(session, "ann@example.com"))
    off = client.patch("/api/v1/users/ann@example.com", json={"active": False}, headers=owner)
    assert off.status_code == 200 and off.json()["active"] is False
    problem(client.get("/api/v1/me", headers=ann), 401, "invalid_token")
    cookie_client = TestClient(client.app)
    cookie_client.cookies.set(SESSION_COOKIE, browser.session_id)
    problem(cookie_client.get("/api/v1/me"), 401, "unauthenticated")
    on = client.patch("/api/v1/users/ann@example.com", json={"active": True}, headers=owner)
    assert on.status_code == 200 and on.json()["active"] is True
    assert client.get("/api/v1/me", headers=ann).status_code == 200
    problem(cookie_client.get("/api/v1/me"), 401)  # the session ended for good


def test_the_last_owner_is_refused_with_409(client: TestClient, session: Session) -> None:
    owner = bearer(session, "olive@example.com", "owner")
    for change in ({"role": "agent"}, {"active": False}, {"role": "manager", "name": "O"}):
        body = problem(
            client.patch("/api/v1/users/olive@example.com", json=change, headers=owner),
            409,
            "last_owner",
        )
        assert "last owner" in str(body["detail"])
        assert body["hint"] == "make someone else owner first"
    assert users.get_user(session, "olive@example.com").name == "olive"  # nothing changed
    # with a second owner, the first may step down (and then may not manage users)
    bearer(session, "otto@example.com", "owner")
    down = client.patch("/api/v1/users/olive@example.com", json={"role": "agent"}, headers=owner)
    assert down.status_code == 200 and down.json()["role"] == "agent"
    problem(client.get("/api/v1/users/otto@example.com", headers=owner), 403, "forbidden")


def test_unknown_users_roles_and_bad_bodies(client: TestClient, session: Session) -> None:
    owner = bearer(session, "olive@example.com", "owner")
    bearer(session, "ann@example.com", "agent")
    problem(client.get("/api/v1/users/nobody@example.com", headers=owner), 404, "not_found")
    problem(client.get("/api/v1/users/not-an-email", headers=owner), 404, "not_found")
    missing = client.patch(
        "/api/v1/users/nobody@example.com", json={"role": "agent"}, headers=owner
    )
    problem(missing, 404, "not_found")
    bad_role = client.patch("/api/v1/users/ann@example.com", json={"role": "root"}, headers=owner)
    body = problem(bad_role, 422, "invalid_input")
    assert body["errors"][0]["pointer"] == "#/role"
    for bad in ({"name": ""}, {"name": "x" * 121}, {"name": "a\x00b"}, {"active": "maybe"}):
        problem(client.patch("/api/v1/users/ann@example.com", json=bad, headers=owner), 422)
    blank = client.patch("/api/v1/users/ann@example.com", json={"name": "   "}, headers=owner)
    assert "name cannot be empty" in str(problem(blank, 422)["detail"])
    assert users.get_user(session, "ann@example.com").role == "agent"


def test_managers_read_but_do_not_change(client: TestClient, session: Session) -> None:
    bearer(session, "olive@example.com", "owner")
    manager = bearer(session, "max@example.com", "manager")
    agent = bearer(session, "ann@example.com", "agent")
    reader = bearer(session, "olive@example.com", "owner", "users:read")
    assert client.get("/api/v1/users/ann@example.com", headers=manager).status_code == 200
    body = problem(
        client.patch("/api/v1/users/ann@example.com", json={"role": "owner"}, headers=manager),
        403,
        "forbidden",
    )
    assert "users.manage" in str(body["detail"])
    problem(client.get("/api/v1/users/ann@example.com", headers=agent), 403, "forbidden")
    # an owner's token without a scope covering users.manage may read only
    assert client.get("/api/v1/users/ann@example.com", headers=reader).status_code == 200
    problem(
        client.patch("/api/v1/users/ann@example.com", json={"active": False}, headers=reader),
        403,
    )
    assert users.get_user(session, "ann@example.com").active is True


def test_the_schema_documents_the_operations(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    operations = paths["/api/v1/users/{email}"]
    assert operations["get"]["x-permission"] == "users.read"
    patch = operations["patch"]
    assert patch["x-permission"] == "users.manage" and patch["summary"]
    assert {"200", "403", "404", "409", "422"} <= set(patch["responses"])
    assert "last_owner" in patch["responses"]["409"]["description"]
