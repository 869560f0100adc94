"""Every /api/v1 route × role × token scope: allowed exactly when the permission model says.

The routes come from the app itself, so a new route without a `require(...)` check (or
whose check disagrees with its documented `x-permission`) fails here.
"""

from __future__ import annotations

import re
from itertools import product
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import users
from sopdesk.auth.permissions import SCOPES, Principal, Role, allowed
from sopdesk.web.api.errors import API_PREFIX
from tests.api.conftest import PASSWORD

SAMPLE_PATH_VALUES = {
    "ref": "SD-1",
    "step_id": "x",
    "name": "x",
    "customer": "1",
    "sop_id": "nope",
    "version": "1",
    "token_id": "999999",
    "webhook_id": "999999",
    "email": "nobody@example.com",
    "address": "nobody@example.com",
    "attachment_id": "1",
}
TOKEN_SCOPES = [*SCOPES, "cases,sops"]


def _api_routes(client: TestClient) -> list[Any]:
    """Every API route of the app, as FastAPI sees it after including the routers."""
    routes = [
        route
        for route in iter_route_contexts(client.app.routes)
        if isinstance(route.original_route, APIRoute)
        and route.path.startswith(API_PREFIX + "/")
        and route.include_in_schema
    ]
    assert len(routes) >= 30
    return routes


def _required_actions(dependant: Dependant) -> list[str]:
    """The actions of every `require(action)` dependency in the route's dependency tree."""
    found = []
    for sub in dependant.dependencies:
        name = getattr(sub.call, "__name__", "")
        if name.startswith("require_"):
            found.append(name.removeprefix("require_").replace("_", ".", 1))
        found += _required_actions(sub)
    return found


def _operations(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, concrete path, action) for every operation under /api/v1."""
    operations = []
    for route in _api_routes(client):
        actions = set(_required_actions(route.dependant))
        declared = (route.openapi_extra or {}).get("x-permission")
        assert len(actions) == 1, f"{route.path} must check exactly one action, has {actions}"
        assert actions == {declared}, f"{route.path}: checks {actions}, documents {declared}"
        path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH_VALUES[m.group(1)], route.path)
        operations += [(method, path, declared) for method in sorted(route.methods or ())]
    return operations


def test_every_route_checks_the_permission_it_documents(client: TestClient) -> None:
    operations = _operations(client)
    assert {action for _, _, action in operations} >= {
        "case.read",
        "case.write",
        "customer.read",
        "sop.read",
        "sop.edit",
        "sop.publish",
        "sop.acknowledge",
        "settings.read",
        "settings.write",
    }


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_permission_matrix(client: TestClient, session: Session) -> None:
    operations = _operations(client)
    checked = refused = 0
    for role, scopes in product(Role, TOKEN_SCOPES):
        email = f"{role.value}-{scopes.replace(',', '-').replace(':', '-')}@example.com"
        user = users.do_create_user(session, email, role=role.value, password=PASSWORD)
        scope_set = frozenset(scopes.split(","))
        token = users.do_create_token(session, email, scopes=scope_set).token
        headers = {"Authorization": f"Bearer {token}"}
        principal = Principal(user.id, email, "", role, scope_set, token_id=0)
        for method, path, action in operations:
            response = client.request(method, path, json={}, headers=headers)
            where = f"{role.value} with {scopes} on {method} {path}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if allowed(principal, action):
                assert response.status_code not in {401, 403}, f"{where}: {response.text}"
            else:
                assert response.status_code == 403, f"{where}: {response.status_code}"
                assert response.json()["code"] == "forbidden"
                refused += 1
            checked += 1
    assert refused > checked // 4  # the matrix really refuses a lot


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_needs_authentication(client: TestClient) -> None:
    for method, path, _ in _operations(client):
        response = client.request(method, path, json={})
        assert response.status_code == 401, f"{method} {path}"
        assert response.headers["content-type"] == "application/problem+json"
