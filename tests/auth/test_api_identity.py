"""/api/v1 users and the caller's own tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import users
from tests.auth.conftest import PASSWORD, add_user


def _bearer(session: Session, email: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {users.do_create_token(session, email, scopes=scopes).token}"}


def test_owners_add_users_and_managers_list_them(client: TestClient, session: Session) -> None:
    add_user(session, "olive@example.com", "owner")
    add_user(session, "max@example.com", "manager")
    owner, manager = _bearer(session, "olive@example.com"), _bearer(session, "max@example.com")
    body = {"email": "Ann@Example.com", "role": "agent", "name": "Ann", "password": PASSWORD}
    created = client.post("/api/v1/users", json=body, headers=owner)
    assert created.status_code == 201
    assert created.json()["email"] == "ann@example.com" and created.json()["role"] == "agent"
    assert "password" not in created.text and "hash" not in created.text
    assert client.post("/api/v1/users", json=body, headers=owner).json()["code"] == "conflict"
    refused = client.post("/api/v1/users", json=body | {"email": "b@example.com"}, headers=manager)
    assert refused.status_code == 403 and refused.json()["detail"].startswith("a manager may not")
    listed = client.get("/api/v1/users", headers=manager).json()
    assert [u["email"] for u in listed] == [
        "ann@example.com",
        "max@example.com",
        "olive@example.com",
    ]
    weak = client.post(
        "/api/v1/users", json=body | {"email": "c@example.com", "password": "x"}, headers=owner
    )
    assert weak.status_code == 422 and "at least 10" in weak.json()["detail"]
    bad_role = client.post("/api/v1/users", json=body | {"role": "root"}, headers=owner)
    assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["pointer"] == "#/role"


def test_agents_cannot_list_users(client: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com", "agent")
    response = client.get("/api/v1/users", headers=_bearer(session, "ann@example.com"))
    assert response.status_code == 403


def test_my_tokens_create_list_revoke(client: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com", "agent")
    add_user(session, "bob@example.com", "agent")
    ann = _bearer(session, "ann@example.com", "admin")
    made = client.post(
        "/api/v1/me/tokens", json={"name": "ci", "scopes": ["cases:read"]}, headers=ann
    )
    assert made.status_code == 201
    token = made.json()["token"]
    assert made.json()["display"] == token[:12] + "…" and made.json()["scopes"] == ["cases:read"]
    new = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=new).json()["scopes"] == ["cases:read"]
    listed = client.get("/api/v1/me/tokens", headers=ann)
    assert len(listed.json()) == 2 and token not in listed.text
    # a narrow token cannot mint tokens (that needs the admin scope)
    assert client.post("/api/v1/me/tokens", json={}, headers=new).status_code == 403
    # nobody revokes another user's token
    bob = _bearer(session, "bob@example.com")
    token_id = made.json()["id"]
    assert client.delete(f"/api/v1/me/tokens/{token_id}", headers=bob).status_code == 404
    assert client.delete(f"/api/v1/me/tokens/{token_id}", headers=ann).status_code == 204
    assert client.get("/api/v1/me", headers=new).status_code == 401
    bad = client.post("/api/v1/me/tokens", json={"scopes": ["everything"]}, headers=ann)
    assert bad.status_code == 422 and "unknown token scope" in bad.json()["detail"]


def test_a_token_id_beyond_the_column_is_a_422_not_a_500(
    client: TestClient, session: Session
) -> None:
    """Found by schemathesis: an id that overflows INTEGER crashed the database call."""
    add_user(session, "ann@example.com", "agent")
    ann = _bearer(session, "ann@example.com", "admin")
    huge = client.delete("/api/v1/me/tokens/227967353470953147619868672", headers=ann)
    assert huge.status_code == 422
    assert huge.headers["content-type"].startswith("application/problem+json")


def test_every_api_operation_declares_its_permission(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len(operations) >= 6
    for operation in operations:
        # state it with openapi_extra={"x-permission": ...}: see docs/api.md
        assert operation.get("x-permission"), operation["operationId"]
        assert operation["security"] == [{"bearerToken": []}]
        assert "401" in operation["responses"] and "403" in operation["responses"]


def test_every_api_operation_refuses_a_stranger(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in item:
            response = client.request(method.upper(), url, json={})
            assert response.status_code == 401, (method, path)
            assert response.headers["content-type"] == "application/problem+json"
