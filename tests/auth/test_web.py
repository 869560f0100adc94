"""The browser side: first-run setup, sign-in and sign-out, cookies, CSRF, rate limits."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.auth.csrf import csrf_token
from sopdesk.auth.permissions import Principal
from sopdesk.settings import Settings
from sopdesk.web.app import create_app
from sopdesk.web.security import PRE_SESSION_COOKIE, SESSION_COOKIE, require_page, safe_next
from tests.auth.conftest import PASSWORD, add_user, csrf_from, sign_in

FORM_ROUTES = ["/signin", "/signout", "/setup"]


def _setup(client: TestClient, **fields: str) -> object:
    token = csrf_from(client.get("/setup").text)
    data = {
        "name": "Olive Owner",
        "email": "olive@example.com",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "csrf_token": token,
        **fields,
    }
    return client.post("/setup", data=data, follow_redirects=False)


def test_first_run_setup_creates_the_owner_once(client: TestClient) -> None:
    assert client.get("/signin", follow_redirects=False).headers["location"] == "/setup"
    page = client.get("/setup")
    assert page.status_code == 200 and "Create the owner account" in page.text
    assert page.headers["cache-control"] == "no-store"
    response = _setup(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = client.get("/api/v1/me").json()
    assert (me["email"], me["role"], me["name"], me["via"]) == (
        "olive@example.com",
        "owner",
        "Olive Owner",
        "session",
    )
    # closed from now on, for this browser and any other
    assert client.get("/setup", follow_redirects=False).headers["location"] == "/signin"
    other = TestClient(client.app)
    other.get("/signin")  # a pre-session cookie, so the CSRF token below is valid
    token = csrf_token("test-secret", other.cookies[PRE_SESSION_COOKIE])
    again = other.post(
        "/setup",
        data={"email": "eve@example.com", "password": PASSWORD, "password_again": PASSWORD}
        | {"csrf_token": token},
    )
    assert again.status_code == 403 and "already set up" in again.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password_again": "something else entirely"}, "two passwords are not the same"),
        ({"password": "short", "password_again": "short"}, "at least 10 characters"),
        ({"email": "not-an-email"}, "is not an email address"),
    ],
)
def test_setup_explains_what_to_fix(
    client: TestClient, fields: dict[str, str], message: str
) -> None:
    response = _setup(client, **fields)
    assert response.status_code == 422 and message in response.text
    assert 'value="Olive Owner"' in response.text  # what was typed is kept...
    assert PASSWORD not in response.text  # ...except the password


def test_sign_in_sets_a_hardened_cookie_and_rotates_the_session(
    client: TestClient, session: Session
) -> None:
    add_user(session, "ann@example.com", "manager")
    page = client.get("/signin?next=/sops/x")
    assert 'name="next" value="/sops/x"' in page.text
    token = csrf_from(page.text)
    data = {
        "email": "Ann@example.com",
        "password": PASSWORD,
        "csrf_token": token,
        "next": "/sops/x",
    }
    response = client.post("/signin", data=data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sops/x"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in this test; see the https test
    first = client.cookies[SESSION_COOKIE]
    assert client.get("/api/v1/me").json()["role"] == "manager"
    # signing in again (another tab) replaces the session: the old id is dead
    again = {"email": "ann@example.com", "password": PASSWORD, "next": "/"}
    again["csrf_token"] = csrf_token("test-secret", first)
    assert client.post("/signin", data=again, follow_redirects=False).status_code == 303
    assert client.cookies[SESSION_COOKIE] != first
    stale = TestClient(client.app, cookies={SESSION_COOKIE: first})
    assert stale.get("/api/v1/me").status_code == 401


def test_a_signed_in_visitor_skips_the_sign_in_page(client: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com")
    assert sign_in(client, "ann@example.com") == 303
    response = client.get("/signin?next=/sops/a", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/sops/a"


def test_cookies_are_secure_over_https(settings: Settings, session: Session) -> None:
    add_user(session, "ann@example.com")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        page = client.get("/signin")
        assert "Secure" in page.headers["set-cookie"]
        assert sign_in(client, "ann@example.com") == 303
        assert client.get("/api/v1/me").status_code == 200
    forced = settings.model_copy(update={"cookie_secure": True})
    with TestClient(create_app(forced)) as client:
        assert "Secure" in client.get("/signin").headers["set-cookie"]


def test_a_wrong_password_and_an_unknown_email_read_the_same(
    client: TestClient, session: Session
) -> None:
    add_user(session, "ann@example.com")
    answers = []
    for email, password in (("ann@example.com", "wrong password!"), ("zed@example.com", PASSWORD)):
        token = csrf_from(client.get("/signin").text)
        data = {"email": email, "password": password, "csrf_token": token}
        response = client.post("/signin", data=data)
        assert response.status_code == 401 and SESSION_COOKIE not in client.cookies
        answers.append(response.text.replace(email, "EMAIL"))
    assert answers[0] == answers[1].replace(csrf_from(answers[1]), csrf_from(answers[0]))
    assert "the email or the password is not right" in answers[0]


def test_the_sixth_wrong_password_gets_429_with_retry_after(
    client: TestClient, session: Session
) -> None:
    add_user(session, "ann@example.com")
    for email in ("ann@example.com", "ghost@example.com"):
        token = csrf_from(client.get("/signin").text)
        data = {"email": email, "password": "wrong password!", "csrf_token": token}
        codes = [client.post("/signin", data=data).status_code for _ in range(5)]
        assert codes == [401] * 5
        sixth = client.post("/signin", data=data | {"password": PASSWORD})
        assert sixth.status_code == 429
        assert 800 < int(sixth.headers["retry-after"]) <= 900
        assert "too many sign-in attempts" in sixth.text
        assert SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize("path", FORM_ROUTES)
def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    client: TestClient, session: Session, path: str
) -> None:
    add_user(session, "ann@example.com")
    assert sign_in(client, "ann@example.com") == 303
    good = csrf_token("test-secret", client.cookies[SESSION_COOKIE])
    foreign = csrf_token("test-secret", "another browser's session")
    data = {"email": "ann@example.com", "password": PASSWORD}
    for token in (None, "", "0" * 64, foreign, good.upper()):
        form = data if token is None else data | {"csrf_token": token}
        response = client.post(path, data=form, follow_redirects=False)
        assert response.status_code == 403, (path, token)
        assert "did not come from this site" in response.text
    assert client.get("/api/v1/me").status_code == 200  # nothing happened: still signed in


def test_a_visitor_without_cookies_cannot_post_a_form(client: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com")
    token = csrf_from(client.get("/signin").text)
    bare = TestClient(client.app)
    data = {"email": "ann@example.com", "password": PASSWORD, "csrf_token": token}
    assert bare.post("/signin", data=data).status_code == 403


def test_the_csrf_header_works_for_scripts(client: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com")
    assert sign_in(client, "ann@example.com") == 303
    token = csrf_token("test-secret", client.cookies[SESSION_COOKIE])
    response = client.post("/signout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"


def test_sign_out_ends_the_session(client: TestClient, session: Session) -> None:
    add_user(session, "ann@example.com")
    assert sign_in(client, "ann@example.com") == 303
    session_id = client.cookies[SESSION_COOKIE]
    token = csrf_token("test-secret", session_id)
    response = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert SESSION_COOKIE not in client.cookies
    replay = TestClient(client.app, cookies={SESSION_COOKIE: session_id})
    assert replay.get("/api/v1/me").status_code == 401  # the row is gone, not just the cookie


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/cases/1?tab=2", "/cases/1?tab=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_is_always_a_local_path(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_auth_pages_keep_the_strict_csp(client: TestClient) -> None:
    for path in ("/setup", "/api/v1/docs"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert "<script" not in response.text
        assert response.text.count("<h1") == 1 and '<html lang="en">' in response.text


def test_require_page_redirects_strangers_and_refuses_other_roles(
    settings: Settings, session: Session
) -> None:
    app = create_app(settings)

    @app.get("/_probe/settings")
    def settings_page(who: Annotated[Principal, Depends(require_page("settings.read"))]) -> str:
        return who.email

    add_user(session, "agent@example.com", "agent")
    add_user(session, "boss@example.com", "manager")
    with TestClient(app) as client:
        response = client.get("/_probe/settings?tab=hours", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=/_probe/settings%3Ftab%3Dhours"
        assert sign_in(client, "agent@example.com") == 303
        refused = client.get("/_probe/settings")
        assert refused.status_code == 403 and "your role does not allow this page" in refused.text
    with TestClient(app) as client:
        assert sign_in(client, "boss@example.com") == 303
        assert client.get("/_probe/settings").json() == "boss@example.com"
