"""/api/v1/webhooks: registering endpoints (delivery: test_webhook_delivery.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.api.conftest import problem

HOOK = {"url": "https://hooks.example.com/sopdesk", "events": ["sla.breached", "case.created"]}


def test_register_list_get_and_remove(
    client: TestClient, session: Session, manager: dict[str, str], agent: dict[str, str]
) -> None:
    made = client.post("/api/v1/webhooks", json=HOOK | {"description": "pager"}, headers=manager)
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    assert hook["events"] == ["case.created", "sla.breached"]  # the documented order
    assert hook["created_by"] == "manager@example.com" and hook["active"] is True
    listed = client.get("/api/v1/webhooks", headers=manager)
    assert [h["id"] for h in listed.json()] == [hook["id"]]
    assert hook["secret"] not in listed.text
    one = client.get(f"/api/v1/webhooks/{hook['id']}", headers=manager).json()
    assert one == {k: v for k, v in hook.items() if k != "secret"}
    problem(client.get("/api/v1/webhooks", headers=agent), 403, "forbidden")
    problem(client.delete(f"/api/v1/webhooks/{hook['id']}", headers=agent), 403)
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=manager).status_code == 204
    problem(client.get(f"/api/v1/webhooks/{hook['id']}", headers=manager), 404)
    problem(client.delete(f"/api/v1/webhooks/{hook['id']}", headers=manager), 404)


def test_invalid_endpoints_are_refused(
    client: TestClient, session: Session, manager: dict[str, str]
) -> None:
    for bad in (
        HOOK | {"url": "ftp://example.com/x"},
        HOOK | {"url": "https://user:pw@example.com/x"},
        HOOK | {"url": "not a url"},
        HOOK | {"events": ["case.deleted"]},
        HOOK | {"events": []},
    ):
        problem(client.post("/api/v1/webhooks", json=bad, headers=manager), 422, "invalid_input")
    assert client.get("/api/v1/webhooks", headers=manager).json() == []


def test_an_endpoint_is_paused_and_resumed_by_patch(
    client: TestClient, session: Session, manager: dict[str, str], agent: dict[str, str]
) -> None:
    hook = client.post("/api/v1/webhooks", json=HOOK, headers=manager).json()
    url = f"/api/v1/webhooks/{hook['id']}"
    paused = client.patch(url, json={"active": False}, headers=manager)
    assert paused.status_code == 200 and paused.json()["active"] is False
    problem(client.post(f"{url}/ping", headers=manager), 409, "conflict")  # paused: no pings
    resumed = client.patch(url, json={"active": True}, headers=manager)  # e.g. after a 410
    assert resumed.json() == {k: v for k, v in hook.items() if k != "secret"}
    assert client.post(f"{url}/ping", headers=manager).status_code == 202
    problem(client.patch(url, json={"active": True}, headers=agent), 403, "forbidden")
    problem(client.patch(url, json={}, headers=manager), 422, "invalid_input")
    problem(client.patch("/api/v1/webhooks/999", json={"active": True}, headers=manager), 404)
