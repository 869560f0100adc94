"""/api/v1/webhooks: the endpoints that receive events, their deliveries, a ping.

Deliveries are signed POSTs sent by the worker (docs/api.md, "Webhooks"); this router
only registers, pauses and resumes endpoints, lists what was delivered to one, and
queues a test `ping`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from sopdesk.actions import webhooks
from sopdesk.auth.permissions import Principal
from sopdesk.errors import InvalidInput
from sopdesk.store.tables import OutboxRow, WebhookRow
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.api.idempotent import IdempotentRoute, idempotency_key
from sopdesk.web.security import DbSession

router = APIRouter(
    prefix="/webhooks", tags=["webhooks"], responses=m.ERROR_RESPONSES, route_class=IdempotentRoute
)

SettingsReader = Annotated[Principal, Depends(require("settings.read"))]
SettingsWriter = Annotated[Principal, Depends(require("settings.write"))]
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class WebhookIn(BaseModel):
    url: m.Text = Field(max_length=webhooks.MAX_URL, examples=["https://hooks.example.com/sopdesk"])
    events: list[m.Text] = Field(
        min_length=1,
        max_length=len(webhooks.EVENTS),
        description=f"Any of {', '.join(webhooks.EVENTS)}",
    )
    description: m.Text = Field("", max_length=200)


class WebhookPatch(BaseModel):
    active: bool = Field(
        description="false pauses the endpoint; true resumes it, e.g. after a 410 Gone "
        "answer deactivated it"
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_by: str
    created_at: datetime


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown this once")


class DeliveryOut(BaseModel):
    id: int = Field(description="The delivery's row id (also the cursor's position)")
    event: str = Field(examples=["case.created"])
    event_id: str = Field(description="Sent as `Sopdesk-Delivery`; the same on every retry")
    status: str = Field(
        description="pending, sending, sent, failed (will retry), dead or cancelled (not sent)"
    )
    attempts: int
    last_error: str | None = None
    created_at: datetime
    next_attempt_at: datetime | None = Field(None, description="When waiting: the next try")
    sent_at: datetime | None = None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for older deliveries")


class PingOut(BaseModel):
    event: str = Field(examples=["ping"])
    event_id: str


def _delivery(row: OutboxRow) -> dict[str, object]:
    waiting = row.status in {"pending", "failed"}
    return {
        "id": row.id,
        "event": str(row.payload.get("event", "")),
        "event_id": str(row.payload.get("id", "")),
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if waiting else None,
        "sent_at": row.sent_at,
    }


def _out(row: WebhookRow) -> dict[str, object]:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events),
        "description": row.description,
        "active": row.active,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


@router.get(
    "",
    response_model=list[WebhookOut],
    summary="List webhook endpoints",
    openapi_extra={"x-permission": "settings.read"},
)
def list_webhooks(who: SettingsReader, session: DbSession) -> list[dict[str, object]]:
    """Every registered endpoint with its events; never the secrets."""
    return [_out(row) for row in webhooks.list_webhooks(session)]


@router.post(
    "",
    response_model=CreatedWebhookOut,
    status_code=201,
    summary="Register a webhook endpoint",
    dependencies=[Depends(idempotency_key)],
    openapi_extra={"x-permission": "settings.write"},
)
def create_webhook(body: WebhookIn, who: SettingsWriter, session: DbSession) -> dict[str, object]:
    """Register an http(s) URL for some events; the answer's `secret` (for checking the
    HMAC signature of deliveries) is shown only here."""
    created = webhooks.do_create_webhook(
        session, body.url, body.events, created_by=who.email, description=body.description
    )
    return {**_out(created.row), "secret": created.secret}


@router.get(
    "/{webhook_id}",
    response_model=WebhookOut,
    summary="Get a webhook endpoint",
    openapi_extra={"x-permission": "settings.read"},
)
def get_webhook(
    webhook_id: WebhookId, who: SettingsReader, session: DbSession
) -> dict[str, object]:
    """One endpoint, without its secret."""
    return _out(webhooks.get_webhook(session, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    summary="Pause or resume a webhook endpoint",
    openapi_extra={"x-permission": "settings.write"},
)
def patch_webhook(
    webhook_id: WebhookId, body: WebhookPatch, who: SettingsWriter, session: DbSession
) -> dict[str, object]:
    """A paused endpoint gets no new deliveries, and those already waiting are cancelled
    when the worker reaches them; resuming it (`{"active": true}`) queues deliveries for
    events from then on. An endpoint that answered 410 Gone was paused this way."""
    return _out(webhooks.do_set_webhook_active(session, webhook_id, body.active))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Remove a webhook endpoint",
    openapi_extra={"x-permission": "settings.write"},
)
def delete_webhook(webhook_id: WebhookId, who: SettingsWriter, session: DbSession) -> Response:
    """Remove the endpoint for good."""
    webhooks.do_delete_webhook(session, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    summary="List an endpoint's deliveries",
    openapi_extra={"x-permission": "settings.read"},
)
def list_deliveries(
    webhook_id: WebhookId,
    who: SettingsReader,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=webhooks.MAX_DELIVERIES)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, object]:
    """The endpoint's deliveries, newest first: event, status, attempts, last error."""
    before = _cursor(cursor)
    rows = webhooks.list_deliveries(session, webhook_id, limit=limit + 1, before=before)
    page, more = rows[:limit], len(rows) > limit
    return {
        "items": [_delivery(row) for row in page],
        "next_cursor": str(page[-1].id) if more and page else None,
    }


@router.post(
    "/{webhook_id}/ping",
    response_model=PingOut,
    status_code=202,
    summary="Queue a test delivery",
    dependencies=[Depends(idempotency_key)],
    openapi_extra={"x-permission": "settings.write"},
)
def ping_webhook(webhook_id: WebhookId, who: SettingsWriter, session: DbSession) -> dict[str, str]:
    """Queue a `ping` event for this endpoint; the worker delivers it like any event."""
    return {"event": "ping", "event_id": webhooks.do_ping_webhook(session, webhook_id)}


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or not 0 < int(cursor) < 2**63:
        raise InvalidInput(
            "this page cursor is not valid", hint="use the next_cursor of an earlier page"
        )
    return int(cursor)
