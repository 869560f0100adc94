"""Every UI route × every role: allowed roles get the page, others a 403 page, and
visitors who are not signed in go to /signin. The routes come from the app itself, so
a new page without an entry in `EXPECTED` fails here. Every POST refuses a missing or
wrong CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from sopdesk.auth.permissions import Principal, Role, allowed
from sopdesk.web.app import create_app
from tests.ui.conftest import ClientFor, World

EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/"): "sop.read",
    ("GET", "/sops/{sop_id}"): "sop.read",
    ("GET", "/inbox"): "case.read",
    ("GET", "/inbox/counts"): "case.read",
    ("GET", "/cases/new"): "case.write",
    ("POST", "/cases/new"): "case.write",
    ("GET", "/cases/{ref}"): "case.read",
    ("GET", "/cases/{ref}/attachments/{attachment_id}"): "case.read",
    ("POST", "/cases/{ref}/reply"): "case.write",
    ("POST", "/cases/{ref}/preview"): "case.write",
    ("POST", "/cases/{ref}/note"): "case.write",
    ("POST", "/cases/{ref}/steps/{step_id}/{verb}"): "case.write",
    ("POST", "/cases/{ref}/status"): "case.write",
    ("POST", "/cases/{ref}/resolve"): "case.write",
    ("POST", "/cases/{ref}/assign"): "case.write",
    ("POST", "/cases/{ref}/merge"): "case.write",
    ("POST", "/cases/{ref}/sop"): "case.write",
    ("GET", "/customers"): "customer.read",
    ("GET", "/customers/new"): "customer.write",
    ("POST", "/customers/new"): "customer.write",
    ("GET", "/customers/{customer_id}"): "customer.read",
    ("POST", "/customers/{customer_id}"): "customer.write",
    ("POST", "/customers/{customer_id}/purchases"): "customer.write",
    ("POST", "/customers/{customer_id}/addresses"): "customer.write",
    ("POST", "/customers/{customer_id}/addresses/remove"): "customer.write",
    ("POST", "/customers/{customer_id}/merge"): "customer.write",
    ("POST", "/customers/{customer_id}/bounce/clear"): "customer.write",
    ("GET", "/sops/new"): "sop.edit",
    ("POST", "/sops/new"): "sop.edit",
    ("GET", "/sops/{sop_id}/edit"): "sop.edit",
    ("POST", "/sops/{sop_id}/edit"): "sop.edit",
    ("POST", "/sops/{sop_id}/lint"): "sop.edit",
    ("GET", "/sops/{sop_id}/versions"): "sop.read",
    ("POST", "/sops/{sop_id}/submit"): "sop.edit",
    ("POST", "/sops/{sop_id}/publish"): "sop.publish",
    ("POST", "/sops/{sop_id}/acknowledge"): "sop.acknowledge",
    ("GET", "/sops/{sop_id}/diff"): "sop.read",
    ("GET", "/settings"): "settings.read",
    ("GET", "/settings/calendars/{name}"): "settings.read",
    ("POST", "/settings/calendars"): "settings.write",
    ("GET", "/settings/users"): "users.read",
    ("POST", "/settings/users"): "users.manage",
    ("POST", "/settings/users/edit"): "users.manage",
    ("POST", "/settings/users/active"): "users.manage",
    ("GET", "/settings/tokens"): "tokens.manage",
    ("POST", "/settings/tokens"): "tokens.manage",
    ("POST", "/settings/tokens/{token_id}/revoke"): "tokens.manage",
    ("GET", "/settings/groups"): "users.read",
    ("POST", "/settings/groups"): "users.manage",
    ("POST", "/settings/groups/{name}"): "users.manage",
    ("POST", "/settings/groups/{name}/delete"): "users.manage",
    ("POST", "/settings/groups/{name}/members"): "users.manage",
    ("POST", "/settings/groups/{name}/members/remove"): "users.manage",
    ("GET", "/settings/webhooks"): "settings.read",
    ("POST", "/settings/webhooks"): "settings.write",
    ("POST", "/settings/webhooks/active"): "settings.write",
    ("POST", "/settings/webhooks/delete"): "settings.write",
    ("GET", "/settings/email"): "settings.read",
    ("POST", "/settings/email/test"): "settings.write",
    ("GET", "/reports"): "report.read",
}
"""The action each UI route needs, written down independently of the code."""

NOT_UI = (
    "/api/",
    "/healthz",
    "/metrics",  # Prometheus, for a reports:read token: tests/web/test_metrics.py
    "/signin",
    "/signout",
    "/setup",
    "/static",
    "/favicon.ico",
    "/l/",
    "/support",  # the public support form: tests/web/test_support_form.py
)


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through included routers at any depth."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI's lazily included router
            inner = prefix + getattr(route.include_context, "prefix", "")
            yield from _walk(route.original_router.routes, inner)


def ui_routes(world: World) -> list[tuple[str, str]]:
    """(method, path) of every HTML route the app serves, from its route table."""
    app = create_app(world.settings)
    found = []
    for path, route in _walk(app.routes):
        if not path.startswith(NOT_UI):
            found += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return found


def concrete(path: str, world: World) -> str:
    values = {
        "sop_id": "refunds",
        "ref": world.case_ref,
        "step_id": "acknowledge",
        "verb": "complete",
        "name": "default",
        "token_id": "999",
    }
    if "{customer_id}" in path:
        values["customer_id"] = str(world.case(world.case_ref).customer_id)
    if "{attachment_id}" in path:
        values["attachment_id"] = str(an_attachment(world))
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def an_attachment(world: World) -> int:
    """The id of a file on the first message of `world.case_ref` (added once)."""
    from sqlalchemy import select

    from sopdesk.actions.case_reads import case_timeline
    from sopdesk.store.tables import AttachmentRow

    message = case_timeline(world.session, world.case_ref).messages[0]
    found = world.session.scalar(
        select(AttachmentRow.id).where(AttachmentRow.message_id == message.id)
    )
    if found is None:
        row = AttachmentRow(
            message_id=message.id, filename="receipt.txt", content_type="text/plain",
            size=2, sha256="0" * 64, content=b"ok",
        )  # fmt: skip
        world.session.add(row)
        world.session.commit()
        found = row.id
    return found


def principal(role: str) -> Principal:
    return Principal(user_id=1, email=f"{role}@example.com", name=role, role=Role(role))


def test_every_ui_route_has_an_expected_permission(world: World) -> None:
    assert sorted(ui_routes(world)) == sorted(EXPECTED)


@pytest.fixture
def calendar(world: World) -> None:
    from sopdesk.actions.calendars import do_save_calendar

    do_save_calendar(world.session, "default", {"timezone": "UTC", "hours": "Mon-Fri 09:00-17:00"})


@pytest.mark.parametrize("role", ["owner", "manager", "agent"])
def test_permission_matrix(role: str, world: World, client_for: ClientFor, calendar: None) -> None:
    client = client_for(role)
    who = principal(role)
    for method, path in ui_routes(world):
        url = concrete(path, world)
        may = allowed(who, EXPECTED[(method, path)])
        if method == "GET":
            response = client.get(url)
            expected = 200 if may else 403
            assert response.status_code == expected, (role, method, url, response.text[:300])
            if not may:
                assert "your role does not allow this page" in response.text
        else:
            response = client.post_form(url, {})
            status = response.status_code
            if may:
                assert status != 403, (role, method, url)
            else:
                assert status == 403, (role, method, url, status)


def test_visitors_are_sent_to_sign_in(world: World, client_for: ClientFor) -> None:
    visitor = client_for(None)
    for method, path in ui_routes(world):
        url = concrete(path, world)
        if method == "GET":
            response = visitor.get(url)
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/signin?next="), url
        else:
            response = visitor.post(url, data={})
            assert response.status_code in (303, 403), url
            if response.status_code == 303:
                assert response.headers["location"].startswith("/signin")


def test_every_post_needs_the_csrf_token(world: World, client_for: ClientFor) -> None:
    owner = client_for("owner")
    posts = [path for method, path in ui_routes(world) if method == "POST"]
    assert len(posts) >= 15
    for path in posts:
        url = concrete(path, world)
        missing = owner.post(url, data={"text": "x"})
        assert missing.status_code == 403, url
        assert "did not come from this site" in missing.text
        wrong = owner.post(url, data={"csrf_token": "0" * 64, "text": "x"})
        assert wrong.status_code == 403, url
    # nothing happened: the case still has only the customer's message and the auto-reply
    from sopdesk.actions.case_reads import case_timeline

    timeline = case_timeline(world.session, world.case_ref)
    assert [m.kind for m in timeline.messages if m.kind == "note"] == []
    assert world.case(world.case_ref).status != "resolved"


def test_agents_see_no_publish_or_settings_links(world: World, client_for: ClientFor) -> None:
    from sopdesk.actions import sops

    sops.do_submit_for_review(world.session, "refunds", actor="cy")
    agent, manager = client_for("agent"), client_for("manager")
    page = agent.get("/sops/refunds/versions").text
    assert "publish-button" not in page and 'href="/settings"' not in page
    assert 'href="/sops/refunds/edit"' not in agent.get("/").text
    assert "publish-button" in manager.get("/sops/refunds/versions").text
    assert 'href="/settings"' in manager.get("/inbox").text


def test_only_signed_in_pages_allow_our_scripts(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    inbox = agent.get("/inbox")
    assert "script-src 'self'" in inbox.headers["content-security-policy"]
    assert (
        "'unsafe-inline'"
        not in inbox.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    )
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in inbox.text
    for url in ("/signin", "/sops/refunds"):
        csp = (
            client_for(None if url == "/signin" else "agent")
            .get(url)
            .headers["content-security-policy"]
        )
        assert "script-src" not in csp and "default-src 'none'" in csp
    assert agent.get("/static/sopdesk.js").status_code == 200
