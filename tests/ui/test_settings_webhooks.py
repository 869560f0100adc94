"""Settings → webhooks: register (secret shown once), pause, resume, delete, deliveries."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.orm import Session

from sopdesk.actions import webhooks
from sopdesk.actions.base import utcnow
from sopdesk.store.tables import OutboxRow
from tests.ui.conftest import Browser, ClientFor, World

HOOK = {"url": "https://hooks.example.com/sopdesk", "description": "pager"}


def register(client: Browser, **extra: str) -> httpx.Response:
    """Post the registration form (two events ticked) as `client`."""
    form = {"csrf_token": client.csrf, **HOOK, "events": ["sla.breached", "case.created"]}
    return client.post("/settings/webhooks", data=form | extra)


def deliveries(session: Session, webhook_id: int, count: int, *, kind: str = "webhook") -> None:
    now = utcnow()
    for n in range(count):
        session.add(
            OutboxRow(
                key=f"webhook:{webhook_id}:case.created:SD-{n}:{kind}",
                kind=kind,
                payload={"webhook_id": webhook_id, "event": "case.created", "n": n},
                status="dead" if n == count - 1 else "sent",
                attempts=1,
                next_attempt_at=now,
                created_at=now + timedelta(seconds=n),
                last_error="HTTP 500" if n == count - 1 else None,
            )
        )
    session.commit()


def test_register_shows_the_secret_once(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    made = register(manager)
    assert made.status_code == 200
    secret = made.text.split('id="new-secret">', 1)[1].split("<", 1)[0]
    [row] = webhooks.list_webhooks(world.session)
    assert secret == row.secret and secret.startswith("whsec_")
    assert (
        row.events == ["case.created", "sla.breached"] and row.created_by == "manager@example.com"
    )
    listing = manager.get("/settings/webhooks").text
    assert secret not in listing
    assert HOOK["url"] in listing and "manager@example.com" in listing and "pager" in listing
    assert "Nothing delivered yet." in listing


def test_invalid_endpoints_are_refused(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    bad = register(manager, url="ftp://example.com/x")
    assert bad.status_code == 422 and "is not a webhook URL" in bad.text
    assert 'value="ftp://example.com/x"' in bad.text
    none = manager.post_form("/settings/webhooks", {"url": HOOK["url"]})
    assert none.status_code == 422 and "at least one event" in none.text
    assert webhooks.list_webhooks(world.session) == []


def test_pause_resume_and_delete(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    register(manager)
    [row] = webhooks.list_webhooks(world.session)
    hook = str(row.id)
    assert (
        manager.post_form("/settings/webhooks/active", {"webhook": hook, "active": "0"}).status_code
        == 303
    )
    world.session.expire_all()
    assert webhooks.get_webhook(world.session, row.id).active is False
    assert "paused" in manager.get("/settings/webhooks").text
    manager.post_form("/settings/webhooks/active", {"webhook": hook, "active": "1"})
    world.session.expire_all()
    assert webhooks.get_webhook(world.session, row.id).active is True
    assert manager.post_form("/settings/webhooks/delete", {"webhook": hook}).status_code == 303
    assert webhooks.list_webhooks(world.session) == []
    assert manager.post_form("/settings/webhooks/delete", {"webhook": hook}).status_code == 404
    assert manager.post_form("/settings/webhooks/delete", {"webhook": "x"}).status_code == 404


def test_the_last_20_deliveries_per_endpoint(world: World, client_for: ClientFor) -> None:
    manager = client_for("manager")
    first = webhooks.do_create_webhook(world.session, HOOK["url"], ["case.created"], created_by="m")
    other = webhooks.do_create_webhook(
        world.session, "https://other.example.com/in", ["case.created"], created_by="m"
    )
    deliveries(world.session, first.row.id, 25)
    deliveries(world.session, other.row.id, 2)
    deliveries(world.session, first.row.id, 1, kind="email")  # same prefix, not a webhook
    page = manager.get("/settings/webhooks").text
    mine = page.split(f'id="hook-{first.row.id}-title"', 1)[1].split("</section>", 1)[0]
    theirs = page.split(f'id="hook-{other.row.id}-title"', 1)[1].split("</section>", 1)[0]
    assert "The last 20 deliveries" in mine and mine.count("<tr>") == 21  # head + 20
    assert "HTTP 500" in mine and "badge-bad" in mine  # the newest, dead, is shown
    assert "The last 2 deliveries" in theirs and theirs.count("<tr>") == 3


def test_permissions(world: World, client_for: ClientFor) -> None:
    assert client_for("agent").get("/settings/webhooks").status_code == 403
    assert register(client_for("agent")).status_code == 403
    owner_page = client_for("owner").get("/settings/webhooks").text
    assert "Register an endpoint" in owner_page and "<legend>" in owner_page


def test_webhooks_page_on_both_backends(any_world: World, any_client_for: ClientFor) -> None:
    owner = any_client_for("owner")
    assert register(owner).status_code == 200
    [row] = webhooks.list_webhooks(any_world.session)
    deliveries(any_world.session, row.id, 3)
    page = owner.get("/settings/webhooks").text
    assert "The last 3 deliveries" in page
    assert 'href="/settings/webhooks" aria-current="page"' in page
