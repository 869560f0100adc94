"""Settings → users: owners rename, change roles, deactivate and reactivate people;
managers see the list read-only; the last owner is refused with a clear message."""

from __future__ import annotations

import re

from sopdesk.actions import users
from tests.ui.conftest import ClientFor, World


def _forms(html: str, action: str) -> list[str]:
    return re.findall(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)


def test_owner_changes_a_role_which_applies_on_the_next_request(
    any_world: World, any_client_for: ClientFor
) -> None:
    owner, agent = any_client_for("owner"), any_client_for("agent")
    assert agent.get("/settings/users").status_code == 403
    saved = owner.post_form(
        "/settings/users/edit",
        {"email": "Agent@Example.com", "name": "Agnes Agent", "role": "manager"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/settings/users?done=saved&email=agent%40example.com"
    page = owner.get(saved.headers["location"]).text
    assert "agent@example.com is saved" in page and "Agnes Agent" in page
    any_world.session.expire_all()
    user = users.get_user(any_world.session, "agent@example.com")
    assert (user.name, user.role) == ("Agnes Agent", "manager")
    # the same browser session, not signed in again: the new role holds at once
    assert agent.get("/settings/users").status_code == 200


def test_deactivate_signs_out_and_reactivate_lets_them_back(
    any_world: World, any_client_for: ClientFor
) -> None:
    owner, agent = any_client_for("owner"), any_client_for("agent")
    token = users.do_create_token(any_world.session, "agent@example.com").token
    api = {"Authorization": f"Bearer {token}"}
    assert agent.get("/inbox").status_code == 200
    off = owner.post_form("/settings/users/active", {"email": "agent@example.com", "active": "0"})
    assert off.status_code == 303
    page = owner.get(off.headers["location"]).text
    assert "agent@example.com is deactivated" in page and "their sessions have ended" in page
    assert 'aria-label="Reactivate agent@example.com"' in page and "deactivated</span>" in page
    signed_out = agent.get("/inbox")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/signin")
    assert owner.get("/api/v1/me", headers=api).status_code == 401
    on = owner.post_form("/settings/users/active", {"email": "agent@example.com", "active": "1"})
    assert on.status_code == 303 and "done=activated" in on.headers["location"]
    assert owner.get("/api/v1/me", headers=api).status_code == 200
    assert any_client_for("agent").get("/inbox").status_code == 200  # may sign in again
    assert agent.get("/inbox").status_code == 303  # the old session stays ended


def test_the_last_owner_is_refused_with_a_clear_message(
    world: World, client_for: ClientFor
) -> None:
    owner = client_for("owner")
    demote = owner.post_form(
        "/settings/users/edit", {"email": "owner@example.com", "name": "Owner", "role": "agent"}
    )
    assert demote.status_code == 409
    alert = demote.text.split('role="alert"', 1)[1].split("</div>", 1)[0]
    assert "the last owner cannot become an agent" in alert
    assert "Make someone else owner first." in alert
    leave = owner.post_form("/settings/users/active", {"email": "owner@example.com", "active": "0"})
    assert leave.status_code == 409 and "the last owner cannot be disabled" in leave.text
    world.session.expire_all()
    me = users.get_user(world.session, "owner@example.com")
    assert (me.role, me.active) == ("owner", True)
    # once the manager is made owner too, the first owner may step down
    assert (
        owner.post_form(
            "/settings/users/edit", {"email": "manager@example.com", "role": "owner"}
        ).status_code
        == 303
    )
    down = owner.post_form("/settings/users/edit", {"email": "owner@example.com", "role": "agent"})
    assert down.status_code == 303
    assert owner.get("/settings/users").status_code == 403  # an agent now


def test_bad_input_is_shown_on_the_page(world: World, client_for: ClientFor) -> None:
    owner = client_for("owner")
    missing = owner.post_form("/settings/users/edit", {"email": "nobody@example.com"})
    assert missing.status_code == 404 and "no user with email" in missing.text
    role = owner.post_form("/settings/users/edit", {"email": "agent@example.com", "role": "boss"})
    assert role.status_code == 422 and "&#39;boss&#39; is not a role" in role.text
    state = owner.post_form("/settings/users/active", {"email": "agent@example.com"})
    assert state.status_code == 422 and "active must be 0 or 1" in state.text
    world.session.expire_all()
    assert users.get_user(world.session, "agent@example.com").role == "agent"
    # a crafted link cannot make the page announce anything about a stranger
    forged = owner.get("/settings/users?done=deactivated&email=ceo@example.com").text
    assert "ceo@example.com" not in forged


def test_owners_get_labelled_forms_with_csrf_and_managers_none(
    world: World, client_for: ClientFor
) -> None:
    owner, manager = client_for("owner"), client_for("manager")
    page = owner.get("/settings/users").text
    edits, toggles = _forms(page, "/settings/users/edit"), _forms(page, "/settings/users/active")
    assert len(edits) == len(toggles) == 3  # one of each per user
    for form in edits + toggles:
        assert f'name="csrf_token" value="{owner.csrf}"' in form
        for field in re.findall(r'<(?:input|select) id="([^"]+)"', form):
            assert f'<label for="{field}">' in form, field
        assert re.search(r'<button type="submit"[^>]* aria-label="[^"]+@example\.com"', form)
    assert 'data-label="Change"' in page and '<table class="stack">' in page  # phones
    read_only = manager.get("/settings/users").text
    assert "agent@example.com" in read_only
    assert "/settings/users/edit" not in read_only and "Deactivate" not in read_only
    refused = manager.post_form(
        "/settings/users/edit", {"email": "agent@example.com", "role": "owner"}
    )
    assert refused.status_code == 403
    world.session.expire_all()
    assert users.get_user(world.session, "agent@example.com").role == "agent"
