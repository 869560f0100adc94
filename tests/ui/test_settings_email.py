"""Settings → e-mail: the configuration (secrets masked), outbox health, a test e-mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions import signin, users
from sopdesk.actions.base import utcnow
from sopdesk.actions.delivery import mark_address_bounced
from sopdesk.actions.mail_check import KEY_PREFIX
from sopdesk.auth import csrf
from sopdesk.settings import Settings
from sopdesk.store.tables import CustomerRow, OutboxRow
from sopdesk.web.app import create_app
from sopdesk.web.security import SESSION_COOKIE
from sopdesk.web.ui.settings_email import reopen_window
from sopdesk.worker.outbox import build_message
from tests.ui.conftest import SECRET, Browser, ClientFor, World

SMTP = "smtp://relay-user:hunter2@mail.example.com:587?starttls=true"


@pytest.fixture
def configured(world: World, tmp_path: Path) -> Iterator[Browser]:
    """The owner's browser on an app whose environment sets a relay and role addresses."""
    settings = Settings(
        database_url=world.settings.database_url,
        data_dir=tmp_path,
        secret_key=SECRET,
        smtp_url=SMTP,
        company_name="Shop Example",
        support_address="help@shop.example",
        role_addresses={"support-lead": "lead@shop.example"},
    )
    user = users.get_user(world.session, "owner@example.com")
    started = signin.do_start_session(world.session, user)
    with Browser(create_app(settings), follow_redirects=False) as client:
        client.cookies.set(SESSION_COOKIE, started.session_id)
        client.csrf = csrf.csrf_token(SECRET, started.session_id)
        yield client


def outbox_row(session: Session, key: str, status: str, minutes_ago: int) -> None:
    moment = utcnow() - timedelta(minutes=minutes_ago)
    session.add(
        OutboxRow(
            key=key,
            kind="email",
            payload={},
            status=status,
            attempts=0,
            next_attempt_at=moment,
            created_at=moment,
        )
    )
    session.commit()


def test_configuration_is_shown_with_the_password_masked(configured: Browser) -> None:
    page = configured.get("/settings/email").text
    assert "hunter2" not in page and "••••••" in page
    for fact in ("mail.example.com", ">587<", "STARTTLS required", "relay-user"):
        assert fact in page, fact
    assert "Shop Example &lt;help@shop.example&gt;" in page
    assert "replies go to the From address" in page
    assert "support-lead: lead@shop.example" in page
    assert "sopdesk mail serve" in page and "sopdesk mail poll" in page


def test_without_a_relay_the_page_says_so(world: World, client_for: ClientFor) -> None:
    page = client_for("manager").get("/settings/email").text
    assert "no SMTP server is configured" in page


def test_outbox_health(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    before = manager.get("/settings/email").text
    assert "Oldest e-mail waiting to be sent: <strong>none</strong>" in before
    outbox_row(world.session, "dead-1", "dead", 30)
    outbox_row(world.session, "old-1", "pending", 200)
    page = manager.get("/settings/email").text
    assert "<strong>1</strong> <span>dead (gave up)</span>" in page
    assert "<strong>3 h 20 min</strong>" in page  # the oldest waiting e-mail
    assert "<strong>1</strong> <span>pending</span>" in page


def test_a_test_email_goes_through_the_outbox(world: World, configured: Browser) -> None:
    answer = configured.post_form("/settings/email/test", {"to": "Me@Example.com"})
    assert answer.status_code == 303
    row = world.session.scalar(select(OutboxRow).where(OutboxRow.key.startswith(KEY_PREFIX)))
    assert row is not None and row.kind == "email" and row.status == "pending"
    assert row.case_id is None and answer.headers["location"] == f"/settings/email?queued={row.id}"
    message = build_message(row.key, row.payload, created_at=row.created_at, secret=SECRET)
    assert message["To"] == "me@example.com" and "help@shop.example" in message["From"]
    assert "owner@example.com asked for it" in message.get_body(("plain",)).get_content()
    page = configured.get(answer.headers["location"]).text
    assert "A test e-mail to me@example.com is queued (state: pending)" in page


def test_a_bad_address_is_refused(world: World, configured: Browser) -> None:
    bad = configured.post_form("/settings/email/test", {"to": "not an address"})
    assert bad.status_code == 422 and "is not an email address" in bad.text
    assert 'value="not an address"' in bad.text
    assert (
        world.session.scalar(select(OutboxRow.id).where(OutboxRow.key.startswith(KEY_PREFIX)))
        is None
    )


def test_permissions(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    assert agent.get("/settings/email").status_code == 403
    assert agent.post_form("/settings/email/test", {"to": "a@example.com"}).status_code == 403
    assert "Send a test e-mail" in client_for("manager").get("/settings/email").text


def test_email_page_on_both_backends(any_world: World, any_client_for: ClientFor) -> None:
    owner = any_client_for("owner")
    assert owner.post_form("/settings/email/test", {"to": "ops@example.com"}).status_code == 303
    page = owner.get("/settings/email").text
    assert 'href="/settings/email" aria-current="page"' in page
    assert "<span>pending</span>" in page


def test_the_page_says_where_the_support_form_is_and_what_it_offers(
    world: World, client_for: ClientFor
) -> None:
    # the UI world publishes test SOPs without case types: the menu has nothing to offer
    page = client_for("manager").get("/settings/email").text
    assert "on at http://127.0.0.1:8000/support" in page
    assert "no types; then Something else" in page
    assert "Not offered: no published SOP starts web cases of" in page
    assert "return, complaint, inquiry" in page
    from sopdesk.actions.sop_files import do_load_library

    do_load_library(world.session)
    page = client_for("manager").get("/settings/email").text
    assert "A return or a refund (return); A complaint (complaint); A question (inquiry)" in page
    assert "Not offered" not in page
    assert "none: list your website&#39;s address to show the form on it" in page


def test_the_page_gives_the_line_a_website_pastes_to_show_the_form(
    world: World, client_for: ClientFor
) -> None:
    world.settings = world.settings.model_copy(
        update={"support_embed_origins": ["https://shop.example", "https://*.shop.example"]}
    )
    page = client_for("manager").get("/settings/email").text
    assert "https://shop.example, https://*.shop.example" in page
    snippet = "&lt;script src=&#34;http://127.0.0.1:8000/support/embed.js&#34; async&gt;"
    assert snippet in page  # shown as text, to copy


def test_a_switched_off_support_form_is_shown_off(world: World) -> None:
    from sopdesk.web.ui.settings_email import web_form_facts

    facts = web_form_facts(world.session, world.settings.model_copy(update={"support_form": False}))
    assert facts == [("Support form (SOPDESK_SUPPORT_FORM)", "off: /support answers 404")]


def test_the_page_says_what_a_late_reply_does_and_who_bounces(
    world: World, client_for: ClientFor
) -> None:
    manager = client_for("manager")
    page = manager.get("/settings/email").text
    assert "reopen it for 14 days; after that the case closes" in page
    assert "No customer's address bounces." in page
    dana = world.session.scalars(select(CustomerRow).where(CustomerRow.email == "dana@example.com"))
    mark_address_bounced(world.session, dana.one().id, ["dana@example.com"], "5.1.1", world.now)
    world.session.commit()
    page = manager.get("/settings/email").text
    assert '<a href="/customers?bounced=true">1 customer</a> has an address that bounces' in page


def test_the_reopen_window_in_words() -> None:
    assert reopen_window(Settings(close_resolved_after_days=1)).startswith("reopen it for 1 day;")
    never = reopen_window(Settings(close_resolved_after_days=0))
    assert never.startswith("reopen it, however long ago")
