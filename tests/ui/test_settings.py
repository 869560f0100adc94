"""Settings: calendars, users, API tokens and the read-only e-mail configuration."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sopdesk.actions import users
from sopdesk.actions.calendars import find_calendar
from sopdesk.settings import Settings
from sopdesk.web.app import create_app
from sopdesk.web.ui.settings import masked_url
from tests.ui.conftest import ClientFor, World

CALENDAR = 'timezone: Europe/London\nhours: "Mon-Fri 09:00-17:30"\nholidays: [GB-ENG]\n'


def test_calendar_create_view_and_validation(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    saved = manager.post_form("/settings/calendars", {"name": "uk-office", "config": CALENDAR})
    assert saved.status_code == 303
    calendar = find_calendar(world.session, "uk-office")
    assert calendar is not None and calendar.tz == "Europe/London"
    page = manager.get("/settings/calendars/uk-office").text
    assert "Mon" in page and "09:00" in page and "17:30" in page
    assert "Next holidays and special days" in page and "None ahead." not in page
    assert 'href="/settings/calendars/uk-office"' in manager.get("/settings").text
    bad = manager.post_form(
        "/settings/calendars", {"name": "uk-office", "config": "hours: [nonsense"}
    )
    assert bad.status_code == 422 and "not valid YAML" in bad.text
    wrong = manager.post_form(
        "/settings/calendars", {"name": "uk-office", "config": "timezone: Mars/Base"}
    )
    assert wrong.status_code == 422
    assert find_calendar(world.session, "uk-office").tz == "Europe/London"


def test_owner_adds_a_user(world: World, client_for: ClientFor) -> None:
    owner = client_for("owner")
    data = {"email": "new@example.com", "name": "Newt", "role": "manager", "password": ""}
    answer = owner.post_form("/settings/users", data)
    assert answer.status_code == 303
    user = users.get_user(world.session, "new@example.com")
    assert (user.role, user.password_hash) == ("manager", None)
    assert "new@example.com" in owner.get("/settings/users").text
    duplicate = owner.post_form("/settings/users", data)
    assert duplicate.status_code == 422 and "already a user" in duplicate.text
    manager_page = client_for("manager").get("/settings/users").text
    assert "Add a user" not in manager_page  # managers may list, not add


def test_token_shown_once_then_revoked(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    created = agent.post_form("/settings/tokens", {"name": "CRM", "scopes": "cases:read"})
    assert created.status_code == 200
    html = created.text
    token = html.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("sd_")
    me = agent.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["scopes"] == ["cases:read"]
    listing = agent.get("/settings/tokens").text
    assert token not in listing and "CRM" in listing and "cases:read" in listing
    row = users.list_tokens(world.session, users.get_user(world.session, "agent@example.com"))[0]
    other = client_for("manager").post_form(f"/settings/tokens/{row.id}/revoke")
    assert other.status_code == 404  # not their token
    assert agent.post_form(f"/settings/tokens/{row.id}/revoke").status_code == 303
    assert agent.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_email_settings_are_read_only_and_masked(world: World, tmp_path: Path) -> None:
    assert (
        masked_url("smtp://me:hunter2@mail.example.com:587")
        == "smtp://me:••••••@mail.example.com:587"
    )
    assert masked_url(None) == "not set"
    settings = Settings(
        database_url=world.settings.database_url,
        data_dir=tmp_path,
        secret_key=world.settings.secret_key,
        smtp_url="smtp://me:hunter2@mail.example.com:587",
    )
    from sopdesk.actions import signin

    user = users.get_user(world.session, "owner@example.com")
    started = signin.do_start_session(world.session, user)
    with TestClient(create_app(settings)) as client:
        client.cookies.set("sopdesk_session", started.session_id)
        page = client.get("/settings").text
    assert "mail.example.com" in page and "hunter2" not in page and "••••••" in page
    assert "<form" not in page.split("E-mail in and out", 1)[1].split("</section>", 1)[0]
