"""/api/v1: authentication, permissions, and RFC 9457 problem+json for every error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sopdesk.actions import users
from sopdesk.auth.csrf import csrf_token
from sopdesk.auth.permissions import Principal
from sopdesk.settings import Settings
from sopdesk.web.api.deps import require
from sopdesk.web.app import create_app
from sopdesk.web.security import SESSION_COOKIE
from tests.auth.conftest import add_user, sign_in

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance"}


class Order(BaseModel):
    email: str
    items: list[int] = Field(min_length=1)


def _probe_app(settings: Settings) -> FastAPI:
    """The real app plus three routes that exist only to provoke each kind of error."""
    app = create_app(settings)

    @app.get("/api/v1/_probe/publish")
    def publish(who: Annotated[Principal, Depends(require("sop.publish"))]) -> dict[str, str]:
        return {"ok": who.email}

    @app.post("/api/v1/_probe/orders")
    def order(
        body: Order, limit: int, who: Annotated[Principal, Depends(require("case.write"))]
    ) -> dict[str, int]:
        return {"items": len(body.items), "limit": limit}

    @app.get("/api/v1/_probe/boom")
    def boom() -> None:
        raise RuntimeError("secret detail: /etc/passwd line 12")

    @app.get("/_probe/page-boom")
    def page_boom() -> None:
        raise RuntimeError("secret detail on a page")

    return app


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(_probe_app(settings), raise_server_exceptions=False) as client:
        yield client


def _token(session: Session, email: str, role: str, *scopes: str) -> dict[str, str]:
    add_user(session, email, role)
    token = users.do_create_token(session, email, scopes=scopes).token
    return {"Authorization": f"Bearer {token}"}


def _problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:sopdesk:problem:{code}"
    assert "Traceback" not in response.text
    return body


def test_unauthenticated_calls_get_401_problem_json(api: TestClient) -> None:
    body = _problem(api.get("/api/v1/me"), 401, "unauthenticated")
    assert body == {
        "type": "urn:sopdesk:problem:unauthenticated",
        "title": "Unauthorized",
        "status": 401,
        "detail": "this call needs authentication",
        "code": "unauthenticated",
        "instance": "/api/v1/me",
        "hint": "send 'Authorization: Bearer <token>'; create one with 'sopdesk tokens create'",
    }
    response = api.get("/api/v1/me")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "header",
    ["Bearer sd_00000000_" + "a" * 43, "Bearer nonsense", "Basic YTpi", "Bearer", "Token x"],
)
def test_a_bad_authorization_header_is_401_and_never_falls_back_to_the_cookie(
    api: TestClient, session: Session, header: str
) -> None:
    add_user(session, "ann@example.com")
    assert sign_in(api, "ann@example.com") == 303
    response = api.get("/api/v1/me", headers={"Authorization": header})
    assert response.json()["code"] in {"unauthenticated", "invalid_token"}
    assert response.status_code == 401


def test_me_with_a_token(api: TestClient, session: Session) -> None:
    headers = _token(session, "ann@example.com", "agent", "cases:read")
    users.do_add_to_group(session, "ann@example.com", "tier-1")
    me = api.get("/api/v1/me", headers=headers).json()
    assert me["email"] == "ann@example.com" and me["role"] == "agent" and me["via"] == "token"
    assert me["scopes"] == ["cases:read"] and me["groups"] == ["tier-1"]
    assert me["permissions"] == ["profile.read", "case.read", "customer.read"]


def test_a_revoked_token_stops_working_at_once(api: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com", "owner")
    created = users.do_create_token(session, "ann@example.com")
    headers = {"Authorization": f"Bearer {created.token}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    users.do_revoke_token(session, created.row.id)
    _problem(api.get("/api/v1/me", headers=headers), 401, "invalid_token")


def test_403_for_a_role_and_for_a_scope(api: TestClient, session: Session) -> None:
    agent = _token(session, "agent@example.com", "agent")
    body = _problem(api.get("/api/v1/_probe/publish", headers=agent), 403, "forbidden")
    assert body["detail"] == "an agent may not do this (sop.publish)"
    cases_only = _token(session, "owner@example.com", "owner", "cases")
    body = _problem(api.get("/api/v1/_probe/publish", headers=cases_only), 403, "forbidden")
    assert "scopes do not cover sop.publish" in body["detail"]
    sops = _token(session, "boss@example.com", "owner", "sops")
    assert api.get("/api/v1/_probe/publish", headers=sops).json() == {"ok": "boss@example.com"}


def test_404_and_405(api: TestClient) -> None:
    body = _problem(api.get("/api/v1/no/such/thing"), 404, "not_found")
    assert body["detail"] == "there is nothing at /api/v1/no/such/thing"
    response = api.delete("/api/v1/me")
    _problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_422_lists_every_field_error(api: TestClient, session: Session) -> None:
    headers = _token(session, "ann@example.com", "agent", "cases")
    response = api.post("/api/v1/_probe/orders?limit=many", json={"items": []}, headers=headers)
    body = _problem(response, 422, "invalid_input")
    assert body["title"] == "Unprocessable Content"
    errors = sorted(body["errors"], key=lambda e: e.get("pointer") or e.get("parameter"))
    assert [(e["location"], e.get("pointer"), e.get("parameter")) for e in errors] == [
        ("body", "#/email", None),
        ("body", "#/items", None),
        ("query", None, "limit"),
    ]
    assert all(set(e) <= {"detail", "type", "location", "pointer", "parameter"} for e in errors)
    assert body["detail"].startswith("the request is not valid: ")
    ok = api.post(
        "/api/v1/_probe/orders?limit=3", json={"email": "x", "items": [1]}, headers=headers
    )
    assert ok.json() == {"items": 1, "limit": 3}


def test_authentication_comes_before_validation(api: TestClient) -> None:
    response = api.post("/api/v1/_probe/orders?limit=3", json={"email": "x", "items": [1]})
    _problem(response, 401, "unauthenticated")


def test_a_cookie_call_that_writes_needs_the_csrf_header(api: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com")
    assert sign_in(api, "ann@example.com") == 303
    order = {"email": "x", "items": [1]}
    body = _problem(api.post("/api/v1/_probe/orders?limit=1", json=order), 403, "csrf_failed")
    assert "X-CSRF-Token" in body["detail"]
    token = csrf_token("test-secret", api.cookies[SESSION_COOKIE])
    response = api.post(
        "/api/v1/_probe/orders?limit=1", json=order, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200


def test_500_is_logged_and_never_leaks(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="sopdesk.web.api"):
        response = api.get("/api/v1/_probe/boom")
    body = _problem(response, 500, "internal_error")
    assert body["detail"] == "something went wrong on our side; it has been logged"
    assert "secret detail" not in response.text
    assert "RuntimeError" in caplog.text and caplog.records[0].exc_info is not None
    page = api.get("/_probe/page-boom")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "secret detail" not in page.text and "Something went wrong" in page.text


def test_pages_keep_their_html_errors(api: TestClient) -> None:
    response = api.get("/no/such/page")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


def test_the_openapi_schema_documents_auth_and_problems(api: TestClient) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert schema["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sd_<prefix>_<secret>",
        "description": "An API token from `sopdesk tokens create EMAIL --scope ...`.",
    }
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    me = schema["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerToken": []}] and me["x-permission"] == "profile.read"
    for status in ("401", "403", "500"):
        content = me["responses"][status]["content"]
        assert content == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    docs = api.get("/api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/me" in docs.text and "profile.read" in docs.text
