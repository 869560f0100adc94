"""Idempotency keys for POST: the first answer is stored and replayed for a retry.

A client that sends `Idempotency-Key: K` with a POST may send the same request again
(after a timeout, say) and get the first answer back instead of a second case. A key
belongs to the user who sent it; reusing it for another method, path or body is a
mistake the API refuses (422). Keys are kept for `KEEP` and may then be reused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now
from sopdesk.errors import InvalidInput
from sopdesk.store.tables import IdempotencyKeyRow

MAX_KEY_CHARS = 200
KEEP = timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    content_type: str


def request_hash(method: str, path: str, body: bytes) -> str:
    """SHA-256 over the method, the path with its query, and the exact body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    text = key.strip()
    if not text or len(text) > MAX_KEY_CHARS or not text.isprintable():
        raise InvalidInput(
            f"an Idempotency-Key has 1 to {MAX_KEY_CHARS} printable characters",
            hint="use a fresh UUID for each new request",
        )
    return text


def find_response(
    session: Session,
    user_id: int,
    key: str,
    *,
    method: str,
    path: str,
    body_hash: str,
    now: datetime | None = None,
) -> StoredResponse | None:
    """The stored answer for this user's key, or None; 422 if the key was used differently."""
    moment = resolve_now(now)
    row = session.scalar(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.user_id == user_id, IdempotencyKeyRow.key == check_key(key)
        )
    )
    if row is None or row.created_at <= moment - KEEP:
        return None
    if row.method != method.upper() or row.path != path[:500] or row.request_hash != body_hash:
        raise InvalidInput(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
            hint="send a new key with each new request; reuse a key only to retry",
        )
    return StoredResponse(row.status, row.body, row.content_type)


def do_store_response(
    session: Session,
    user_id: int,
    key: str,
    *,
    method: str,
    path: str,
    body_hash: str,
    response: StoredResponse,
    now: datetime | None = None,
) -> bool:
    """Keep `response` for the key; False when a concurrent request stored one first.

    An expired row with the same key is replaced.
    """
    moment = resolve_now(now)
    key = check_key(key)
    session.expire_all()
    try:
        session.execute(
            delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.user_id == user_id,
                IdempotencyKeyRow.key == key,
                IdempotencyKeyRow.created_at <= moment - KEEP,
            )
        )
        session.add(
            IdempotencyKeyRow(
                user_id=user_id,
                key=key,
                method=method.upper(),
                path=path[:500],
                request_hash=body_hash,
                status=response.status,
                body=response.body,
                content_type=response.content_type[:100],
                created_at=moment,
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    except BaseException:
        session.rollback()
        raise
    return True
