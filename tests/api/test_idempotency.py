"""`Idempotency-Key` on POST: a retry replays the first answer; a reused key is a 422."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions import idempotency, users
from sopdesk.store.tables import CaseRow
from tests.api.conftest import bearer, problem
from tests.conftest import NOW

NEW_CASE = {"customer": {"email": "ann@customer.example", "name": "Ann"}, "subject": "Hello"}


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(CaseRow)) or 0)


def test_a_retry_gets_the_first_answer_and_no_second_case(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    headers = agent | {"Idempotency-Key": "8c0f7d6e-retry-1"}
    first = client.post("/api/v1/cases", json=NEW_CASE, headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    retry = client.post("/api/v1/cases", json=NEW_CASE, headers=headers)
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["content-type"] == "application/json"
    assert _count(library) == 1
    other = client.post("/api/v1/cases", json=NEW_CASE, headers=agent | {"Idempotency-Key": "k2"})
    assert other.json()["id"] != first.json()["id"] and _count(library) == 2
    plain = client.post("/api/v1/cases", json=NEW_CASE, headers=agent)
    assert plain.status_code == 201 and _count(library) == 3


def test_the_same_key_for_another_request_is_a_422(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    headers = agent | {"Idempotency-Key": "key-1"}
    assert client.post("/api/v1/cases", json=NEW_CASE, headers=headers).status_code == 201
    changed = NEW_CASE | {"subject": "Something else"}
    body = problem(client.post("/api/v1/cases", json=changed, headers=headers), 422)
    assert body["code"] == "idempotency_key_reused" and "different request" in body["detail"]
    ref = client.get("/api/v1/cases", headers=agent).json()["items"][0]["reference"]
    note = client.post(f"/api/v1/cases/{ref}/notes", json={"text": "x"}, headers=headers)
    problem(note, 422, "idempotency_key_reused")
    assert _count(library) == 1
    # keys belong to their user: another user's same key is a new request
    bob = bearer(library, "bob@example.com", "agent") | {"Idempotency-Key": "key-1"}
    assert client.post("/api/v1/cases", json=changed, headers=bob).status_code == 201
    assert _count(library) == 2


def test_errors_are_not_stored_and_bad_keys_are_refused(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    headers = agent | {"Idempotency-Key": "try-again"}
    problem(client.post("/api/v1/cases", json={"subject": "x"}, headers=headers), 422)
    assert client.post("/api/v1/cases", json=NEW_CASE, headers=headers).status_code == 201
    problem(
        client.post("/api/v1/cases", json=NEW_CASE, headers=agent | {"Idempotency-Key": ""}), 422
    )
    too_long = agent | {"Idempotency-Key": "k" * 201}
    problem(client.post("/api/v1/cases", json=NEW_CASE, headers=too_long), 422)
    unauthenticated = client.post("/api/v1/cases", json=NEW_CASE, headers={"Idempotency-Key": "a"})
    problem(unauthenticated, 401, "unauthenticated")


def test_a_stored_answer_is_not_replayed_to_a_token_that_may_no_longer_post(
    client: TestClient, library: Session, agent: dict[str, str]
) -> None:
    headers = agent | {"Idempotency-Key": "scoped"}
    assert client.post("/api/v1/cases", json=NEW_CASE, headers=headers).status_code == 201
    read_only = bearer(library, "agent@example.com", "agent", "cases:read")
    refused = client.post(
        "/api/v1/cases", json=NEW_CASE, headers=read_only | {"Idempotency-Key": "scoped"}
    )
    problem(refused, 403, "forbidden")


def test_stored_answers_expire(library: Session, agent: dict[str, str]) -> None:
    user = users.find_user(library, "agent@example.com")
    assert user is not None
    user_id = user.id
    where = {"method": "POST", "path": "/api/v1/cases", "body_hash": "h" * 64}
    answer = idempotency.StoredResponse(201, "{}", "application/json")
    assert idempotency.do_store_response(library, user_id, "k", **where, response=answer, now=NOW)
    assert idempotency.find_response(library, user_id, "k", **where, now=NOW) == answer
    assert not idempotency.do_store_response(
        library, user_id, "k", **where, response=answer, now=NOW
    )
    later = NOW + idempotency.KEEP + timedelta(seconds=1)
    assert idempotency.find_response(library, user_id, "k", **where, now=later) is None
    assert idempotency.do_store_response(library, user_id, "k", **where, response=answer, now=later)
