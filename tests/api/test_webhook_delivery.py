"""Webhooks end to end through the API: register, open a case, one worker round delivers
a signed case.created to a real receiver; the deliveries list, paging and ping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from sopdesk.actions import webhook_events
from sopdesk.actions.base import utcnow
from sopdesk.channels.webhook_out import verify_signature
from sopdesk.store import session_factory
from sopdesk.store.tables import WebhookRow
from sopdesk.worker.runner import Worker
from tests.api.conftest import problem
from tests.worker.support import config
from tests.worker.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    webhook_events.invalidate_subscriptions()
    with running_receiver() as found:
        yield found
    webhook_events.invalidate_subscriptions()


def run_worker(engine: Engine) -> None:
    worker = Worker(session_factory(engine), config("api-test"), deliver=None)
    worker.run_once()


def register(client: TestClient, headers: dict[str, str], url: str, *events: str) -> dict[str, Any]:
    made = client.post(
        "/api/v1/webhooks", json={"url": url, "events": list(events)}, headers=headers
    )
    assert made.status_code == 201, made.text
    return made.json()


def test_a_case_opened_through_the_api_is_delivered_and_listed(
    client: TestClient,
    library: Session,
    engine: Engine,
    manager: dict[str, str],
    receiver: Receiver,
) -> None:
    hook = register(client, manager, receiver.url, "case.created")
    ignored = register(client, manager, receiver.url, "sop.published")
    opened = client.post(
        "/api/v1/cases",
        json={"customer": {"email": "ann@customer.example"}, "subject": "Where is my refund?"},
        headers=manager,
    )
    assert opened.status_code == 201, opened.text
    run_worker(engine)

    [(headers, body)] = receiver.requests
    assert verify_signature(hook["secret"], headers["Sopdesk-Signature"], body, now=utcnow())
    payload = json.loads(body)
    assert payload["event"] == "case.created" and payload["webhook_id"] == hook["id"]
    assert payload["data"]["case"]["reference"] == opened.json()["reference"]

    listed = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=manager)
    assert listed.status_code == 200, listed.text
    [delivery] = listed.json()["items"]
    assert delivery["event"] == "case.created" and delivery["event_id"] == payload["id"]
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == ("sent", 1, None)
    assert delivery["sent_at"] is not None and listed.json()["next_cursor"] is None
    other = client.get(f"/api/v1/webhooks/{ignored['id']}/deliveries", headers=manager)
    assert other.json() == {"items": [], "next_cursor": None}


def test_ping_queues_a_delivery_and_the_list_pages_newest_first(
    client: TestClient,
    session: Session,
    engine: Engine,
    manager: dict[str, str],
    agent: dict[str, str],
    receiver: Receiver,
) -> None:
    hook = register(client, manager, receiver.url, "case.created")
    base = f"/api/v1/webhooks/{hook['id']}"
    pinged = [client.post(f"{base}/ping", headers=manager) for _ in range(3)]
    assert [p.status_code for p in pinged] == [202] * 3
    ids = [p.json()["event_id"] for p in pinged]
    assert all(p.json()["event"] == "ping" for p in pinged) and len(set(ids)) == 3

    first = client.get(f"{base}/deliveries?limit=2", headers=manager).json()
    assert [d["event_id"] for d in first["items"]] == ids[:0:-1]  # newest first
    assert all(d["status"] == "pending" and d["next_attempt_at"] for d in first["items"])
    rest = client.get(
        f"{base}/deliveries", params={"limit": 2, "cursor": first["next_cursor"]}, headers=manager
    ).json()
    assert [d["event_id"] for d in rest["items"]] == ids[:1] and rest["next_cursor"] is None

    run_worker(engine)
    assert receiver.events() == ["ping"] * 3
    assert {h["Sopdesk-Delivery"] for h, _ in receiver.requests} == set(ids)

    problem(client.get(f"{base}/deliveries", headers=agent), 403, "forbidden")
    problem(client.post(f"{base}/ping", headers=agent), 403, "forbidden")
    problem(client.get(f"{base}/deliveries?cursor=abc", headers=manager), 422, "invalid_input")
    problem(client.get(f"{base}/deliveries?limit=0", headers=manager), 422, "invalid_input")
    problem(client.get("/api/v1/webhooks/999/deliveries", headers=manager), 404, "not_found")
    problem(client.post("/api/v1/webhooks/999/ping", headers=manager), 404, "not_found")
    session.execute(update(WebhookRow).values(active=False))
    session.commit()
    problem(client.post(f"{base}/ping", headers=manager), 409, "conflict")


def test_the_new_operations_are_in_the_schema(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    deliveries = paths["/api/v1/webhooks/{webhook_id}/deliveries"]["get"]
    ping = paths["/api/v1/webhooks/{webhook_id}/ping"]["post"]
    assert deliveries["x-permission"] == "settings.read"
    assert ping["x-permission"] == "settings.write"
    ok = deliveries["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/DeliveryPage")
    assert ping["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PingOut"
    )
