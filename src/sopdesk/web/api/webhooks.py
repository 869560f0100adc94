"""/api/v1/webhooks: register the endpoints that will receive events (settings).

Registration only: the signed outbound delivery is not built yet, so a registered
endpoint receives nothing for now (docs/api.md says so).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from sopdesk.actions import webhooks
from sopdesk.auth.permissions import Principal
from sopdesk.store.tables import WebhookRow
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
    HMAC signature of deliveries) is shown only here. Delivery is not built yet."""
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
