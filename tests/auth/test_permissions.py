"""The permission model, pinned: every action × role × token scope, table-driven."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sopdesk.auth.permissions import (
    ACTIONS,
    ROLE_ACTIONS,
    SCOPES,
    Principal,
    Role,
    allowed,
    allowed_actions,
    markdown_table,
    normalise_scopes,
    parse_role,
    require,
)
from sopdesk.errors import InvalidInput, PermissionDenied
from sopdesk.store.tables import USER_ROLES

OW, M, A = "owner", "manager", "agent"

# The policy, restated independently of the module: action -> roles that may take it.
ROLES_FOR = {
    "profile.read": {OW, M, A},
    "sop.read": {OW, M, A},
    "sop.acknowledge": {OW, M, A},
    "sop.edit": {OW, M},
    "sop.publish": {OW, M},
    "case.read": {OW, M, A},
    "case.write": {OW, M, A},
    "customer.read": {OW, M, A},
    "customer.write": {OW, M, A},
    "report.read": {OW, M},
    "settings.read": {OW, M},
    "settings.write": {OW, M},
    "users.read": {OW, M},
    "users.manage": {OW},
    "tokens.manage": {OW, M, A},
}

# scope -> the actions it covers (profile.read is open to every token).
COVERS = {
    "cases:read": {"case.read", "customer.read"},
    "cases": {"case.read", "case.write", "customer.read", "customer.write"},
    "sops:read": {"sop.read"},
    "sops": {"sop.read", "sop.acknowledge", "sop.edit", "sop.publish"},
    "reports:read": {"report.read"},
    "settings:read": {"settings.read"},
    "settings": {"settings.read", "settings.write"},
    "users:read": {"users.read"},
    "admin": set(ROLES_FOR),
}


def _who(role: str, scopes: frozenset[str] | None = None) -> Principal:
    return Principal(user_id=1, email="x@example.com", name="X", role=Role(role), scopes=scopes)


def test_the_tables_name_the_same_actions_scopes_and_roles() -> None:
    assert set(ACTIONS) == set(ROLES_FOR)
    assert set(SCOPES) == set(COVERS)
    assert {role.value for role in Role} == set(USER_ROLES)
    assert set(ROLE_ACTIONS) == set(Role)


@pytest.mark.parametrize(("action", "role"), list(itertools.product(ROLES_FOR, (OW, M, A))))
def test_a_session_is_allowed_exactly_what_its_role_is(action: str, role: str) -> None:
    assert allowed(_who(role), action) is (role in ROLES_FOR[action])


@pytest.mark.parametrize(
    ("action", "role", "scope"), list(itertools.product(ROLES_FOR, (OW, M, A), COVERS))
)
def test_a_token_needs_its_role_and_one_of_its_scopes(action: str, role: str, scope: str) -> None:
    expected = role in ROLES_FOR[action] and (action in COVERS[scope] or action == "profile.read")
    assert allowed(_who(role, frozenset({scope})), action) is expected


def test_scopes_add_up() -> None:
    token = _who(M, frozenset({"cases:read", "sops"}))
    assert allowed(token, "case.read") and allowed(token, "sop.publish")
    assert not allowed(token, "case.write") and not allowed(token, "settings.read")


def test_an_agent_cannot_publish_an_sop_or_read_settings() -> None:
    agent = _who(A)
    assert not allowed(agent, "sop.publish")
    assert not allowed(agent, "settings.read")
    with pytest.raises(PermissionDenied, match=r"^an agent may not do this \(sop\.publish\)$"):
        require(agent, "sop.publish")


def test_a_token_scoped_to_cases_cannot_touch_sops() -> None:
    token = _who(OW, frozenset({"cases"}))
    assert allowed(token, "case.write")
    for action in ("sop.read", "sop.edit", "sop.publish", "sop.acknowledge"):
        assert not allowed(token, action)
    with pytest.raises(PermissionDenied, match=r"scopes do not cover sop\.read"):
        require(token, "sop.read")


def test_admin_scope_never_lifts_a_role() -> None:
    agent_admin = _who(A, frozenset({"admin"}))
    assert not allowed(agent_admin, "users.manage")
    assert allowed_actions(agent_admin) == [a for a in ACTIONS if A in ROLES_FOR[a]]


def test_an_unknown_scope_grants_nothing_and_an_unknown_action_raises() -> None:
    token = _who(OW, frozenset({"everything"}))
    assert allowed_actions(token) == ["profile.read"]
    with pytest.raises(KeyError):
        allowed(_who(OW), "sop.pubish")


def test_scopes_are_checked_and_normalised() -> None:
    assert normalise_scopes(["SOPS:read", "cases", " cases "]) == ("cases", "sops:read")
    assert normalise_scopes([]) == ("admin",)
    with pytest.raises(InvalidInput, match="unknown token scope 'sop'"):
        normalise_scopes(["sop"])


def test_roles_are_parsed() -> None:
    assert parse_role(" Manager ") is Role.MANAGER
    with pytest.raises(InvalidInput, match="not a role"):
        parse_role("admin")


def test_docs_api_md_holds_the_current_table() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "api.md"
    assert markdown_table() in docs.read_text(encoding="utf-8")
