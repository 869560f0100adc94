"""Settings → webhooks: register endpoints (the signing secret is shown once), pause,
resume or delete them, and see each one's last deliveries from the outbox.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sopdesk.actions import webhooks
from sopdesk.auth.permissions import Principal
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.web.ui import CSRF, DbSession, back_to, person, ui_page

RECENT = 20  # deliveries shown per endpoint

router = APIRouter()
SettingsReader = person("settings.read")
SettingsWriter = person("settings.write")
FormText = Annotated[str, Form()]


def webhook_id(value: str) -> int:
    """The endpoint id a form sends; anything else names no endpoint (404)."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 9:
        raise NotFound(f"no webhook with id {text[:20]!r}")
    return int(text)


def _page(
    request: Request,
    session: Session,
    me: Principal,
    *,
    created: webhooks.CreatedWebhook | None = None,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    rows = webhooks.list_webhooks(session)
    context = {
        "webhooks": rows,
        "deliveries": {
            row.id: webhooks.recent_deliveries(session, row.id, limit=RECENT) for row in rows
        },
        "recent": RECENT,
        "events": webhooks.EVENTS,
        "created": created,
        "error": error,
        "values": values or {},
        "active": "settings",
        "section": "webhooks",
    }
    return ui_page(request, "ui/settings_webhooks.html", me, context, 422 if error else 200)


@router.get("/settings/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, session: DbSession, me: SettingsReader) -> HTMLResponse:
    return _page(request, session, me)


@router.post("/settings/webhooks", dependencies=CSRF)
def create_webhook(
    request: Request,
    session: DbSession,
    me: SettingsWriter,
    url: FormText = "",
    events: Annotated[list[str] | None, Form()] = None,
    description: FormText = "",
) -> Response:
    """Register an endpoint; the answer is the only page that shows its secret."""
    try:
        created = webhooks.do_create_webhook(
            session, url, events or (), created_by=me.email, description=description
        )
    except InvalidInput as exc:
        session.rollback()
        values = {"url": url, "events": events or [], "description": description}
        return _page(request, session, me, error=exc.message, values=values)
    return _page(request, session, me, created=created)


@router.post("/settings/webhooks/active", dependencies=CSRF)
def set_active(
    request: Request,
    session: DbSession,
    me: SettingsWriter,
    webhook: FormText = "",
    active: FormText = "",
) -> Response:
    """Pause (`active=0`) or resume (`active=1`) an endpoint."""
    webhooks.do_set_webhook_active(session, webhook_id(webhook), active == "1")
    return back_to("/settings/webhooks")


@router.post("/settings/webhooks/delete", dependencies=CSRF)
def delete_webhook(
    request: Request, session: DbSession, me: SettingsWriter, webhook: FormText = ""
) -> Response:
    webhooks.do_delete_webhook(session, webhook_id(webhook))
    return back_to("/settings/webhooks")
