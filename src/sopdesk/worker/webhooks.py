"""Delivering webhooks: claim queued deliveries, POST them signed, record the outcome.

One batch per worker round (`webhook_round`, called from `Worker.run_once`):

1. claim up to `MAX_BATCH` due rows of kind `webhook` (`claim.claim_webhooks`: SKIP
   LOCKED on PostgreSQL, the same lease and `attempts` fence as e-mail);
2. read their endpoints in one query: a row whose endpoint was removed is deleted, one
   whose endpoint is inactive is cancelled (status cancelled), neither is sent;
3. POST the others concurrently (`POOL` threads, `TIMEOUT` seconds each, redirects not
   followed), each signed at the moment it is sent (`channels.webhook_out`);
4. record each outcome, fenced on `attempts`: 2xx → `sent`; 410 Gone → dead, and the
   endpoint is deactivated with its waiting deliveries cancelled; any other status
   or a connection error → retried with back-off (`WEBHOOK_POLICY`), dead after the
   last attempt, exactly like e-mail (`sopdesk worker status`, `retry-dead`).

On a stop request no new POST starts: the rows not yet sent are released (claimable at
once, attempt not counted) and only the POSTs in flight are waited for, at most
`TIMEOUT`. The batch is bounded so that its worst case (every POST timing out) stays well inside
a lease: a dead receiver cannot hold up the timers for long, and rows are not
re-claimed under the worker's feet. Delivery is at least once: a crash after the
receiver's 2xx and before `sent` is committed delivers again, with the same
`Sopdesk-Delivery` id for the receiver to de-duplicate on.

A row with a URL that is not http(s) (never accepted by registration, but the row
is data) is dead at once. Private addresses are allowed (docs/security.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sopdesk.actions.webhooks import do_deactivate_webhook
from sopdesk.channels.webhook_out import encode_body, request_headers
from sopdesk.store.queries import one_of
from sopdesk.store.tables import OutboxRow, OutboxStatus, WebhookRow
from sopdesk.worker.claim import ClaimedEmail, claim_webhooks, release_outbox
from sopdesk.worker.policy import (
    MAX_ERROR_CHARS,
    Dead,
    Decision,
    ErrorKind,
    Retry,
    RetryPolicy,
    decide,
)

if TYPE_CHECKING:
    from sopdesk.worker.runner import RoundStats, WorkerConfig

log = logging.getLogger("sopdesk.worker.webhooks")

TIMEOUT = 10.0  # seconds for one POST (connect, send and wait for the answer)
POOL = 8  # POSTs in flight at once
MAX_BATCH = 32  # worst case: 4 rounds of timeouts = 40 s
WEBHOOK_POLICY = RetryPolicy(base=timedelta(seconds=60), cap=timedelta(hours=4), max_attempts=12)


# --- the pure core ------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str
    active: bool


@dataclass(frozen=True)
class Answer:
    """What one POST got: an HTTP status, or an error before any answer."""

    status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Sent:
    note: str


@dataclass(frozen=True)
class Gone:
    """The receiver answered 410: stop sending to this endpoint."""

    error: str


Outcome = Sent | Gone | Decision


def sendable_url(url: str) -> bool:
    """Only http and https are ever POSTed to (no file:, gopher:, ...)."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def outcome(
    answer: Answer, *, attempts: int, policy: RetryPolicy, now: datetime, jitter: float
) -> Outcome:
    """What to record for a delivery attempt's `answer`."""
    if answer.status is not None and 200 <= answer.status < 300:
        return Sent(f"HTTP {answer.status}")
    if answer.status == 410:
        return Gone("the receiver answered 410 Gone; the webhook was deactivated")
    error = answer.error or f"the receiver answered HTTP {answer.status}"
    return decide(
        ErrorKind.TRANSIENT,
        error[:MAX_ERROR_CHARS],
        attempts=attempts,
        policy=policy,
        now=now,
        jitter=jitter,
    )


def batch_lease(lease: timedelta, rows: int) -> timedelta:
    """A lease that outlasts the batch even if every POST times out."""
    rounds = max(1, math.ceil(rows / POOL))
    return max(lease, timedelta(seconds=rounds * TIMEOUT + 10))


# --- the shell ----------------------------------------------------------------------


class WorkerLike(Protocol):
    """What `webhook_round` needs from `runner.Worker`."""

    config: WorkerConfig
    clock: Callable[[], datetime]
    jitter: Callable[[], float]

    @property
    def stopping(self) -> bool: ...


@dataclass
class WebhookStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    released: int = 0


def webhook_round(session: Session, worker: WorkerLike, stats: RoundStats) -> WebhookStats:
    """One batch of webhook deliveries for `worker`'s round; dead rows count in `stats`."""
    found = WebhookStats()
    if worker.stopping:
        return found
    config = worker.config
    batch = min(config.batch, MAX_BATCH)
    lease = batch_lease(config.lease, batch)
    claimed = claim_webhooks(session, worker.clock(), config.worker_id, batch, lease)
    if claimed:
        deliver_claimed(
            session, claimed, worker.clock, worker.jitter, found, stopping=lambda: worker.stopping
        )
        stats.dead += found.dead
        stats.released += found.released
    return found


def deliver_claimed(
    session: Session,
    claimed: Sequence[ClaimedEmail],
    clock: Callable[[], datetime],
    jitter: Callable[[], float],
    found: WebhookStats,
    *,
    policy: RetryPolicy = WEBHOOK_POLICY,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Send the claimed rows and record every outcome (see the module docstring); once
    `stopping()` is true, rows whose POST has not started are released unsent."""
    endpoints = _endpoints(session, claimed)
    to_send: list[tuple[ClaimedEmail, Endpoint]] = []
    for item in claimed:
        endpoint = endpoints.get(_webhook_id(item))
        if endpoint is None:
            _record(session, item, None)  # the endpoint was removed: so is its row
            found.cancelled += 1
        elif not endpoint.active:
            reason = "cancelled: the webhook is inactive; not sent"
            cancel = {"status": OutboxStatus.CANCELLED.value, "last_error": reason}
            found.cancelled += _record(session, item, cancel)
        elif not sendable_url(endpoint.url):
            error = f"refused to deliver to {endpoint.url[:80]!r}: only http(s) URLs"
            found.dead += _record(session, item, {"status": "dead", "last_error": error})
        else:
            to_send.append((item, endpoint))
    if not to_send:
        return
    with (
        httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client,
        ThreadPoolExecutor(max_workers=min(POOL, len(to_send))) as pool,
    ):
        answers = pool.map(
            lambda pair: None if stopping() else _post(client, clock, *pair), to_send
        )
        unsent = []
        for (item, _), answer in zip(to_send, answers, strict=True):
            if answer is None:
                unsent.append(item)
                continue
            result = outcome(
                answer, attempts=item.attempts, policy=policy, now=clock(), jitter=jitter()
            )
            _apply(session, item, result, clock(), found)
    if unsent:
        found.released += release_outbox(session, unsent, clock())


def _post(
    client: httpx.Client, clock: Callable[[], datetime], item: ClaimedEmail, endpoint: Endpoint
) -> Answer:
    """One signed POST; never raises (the answer says what happened)."""
    try:
        body = encode_body(item.payload)
        headers = request_headers(
            endpoint.secret,
            body,
            event=str(item.payload["event"]),
            delivery_id=str(item.payload["id"]),
            timestamp=int(clock().timestamp()),
        )
        response = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Answer(error=f"{type(exc).__name__}: {exc}".strip())
    except Exception as exc:  # a bug or an unreadable row: retried, then dead
        return Answer(error=f"{type(exc).__name__}: {exc}")
    return Answer(status=response.status_code)


def _apply(
    session: Session, item: ClaimedEmail, result: Outcome, now: datetime, found: WebhookStats
) -> None:
    match result:
        case Sent(note=note):
            values = {"status": "sent", "sent_at": now, "message_id": note, "last_error": None}
            found.sent += _record(session, item, values)
        case Gone(error=error):
            found.dead += _record(session, item, {"status": "dead", "last_error": error})
            webhook_id = _webhook_id(item)
            do_deactivate_webhook(session, webhook_id, reason=f"webhook {webhook_id}: {error}")
            log.warning("webhook %s answered 410 Gone: deactivated", webhook_id)
        case Retry(at=at, error=error):
            values = {"status": "failed", "next_attempt_at": at, "last_error": error}
            found.failed += _record(session, item, values)
            log.info("webhook delivery %s (%s) failed: %s", item.id, item.key, error)
        case Dead(error=error):
            found.dead += _record(session, item, {"status": "dead", "last_error": error})
            log.warning("webhook delivery %s (%s) is dead: %s", item.id, item.key, error)


def _record(session: Session, item: ClaimedEmail, values: Mapping[str, Any] | None) -> int:
    """Write the outcome if the row is still ours (status `sending`, our attempt
    number); `values=None` deletes it. Commits; returns 1 when written."""
    fence = (
        OutboxRow.id == item.id,
        OutboxRow.status == OutboxStatus.SENDING.value,
        OutboxRow.attempts == item.attempts,
    )
    statement: Any = (
        delete(OutboxRow).where(*fence)
        if values is None
        else update(OutboxRow).where(*fence).values(**values)
    )
    changed = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
    session.commit()
    if not changed:
        log.warning("webhook delivery %s: its lease ran out; outcome not recorded", item.id)
    return changed


def _webhook_id(item: ClaimedEmail) -> int:
    value = item.payload.get("webhook_id") if isinstance(item.payload, dict) else None
    if isinstance(value, int):
        return value
    return int(item.key.split(":")[1])


def _endpoints(session: Session, claimed: Sequence[ClaimedEmail]) -> dict[int, Endpoint]:
    ids = {_webhook_id(item) for item in claimed}
    rows = session.execute(
        select(WebhookRow.id, WebhookRow.url, WebhookRow.secret, WebhookRow.active).where(
            one_of(session, WebhookRow.id, ids)
        )
    )
    found = {row.id: Endpoint(row.url, row.secret, bool(row.active)) for row in rows}
    session.rollback()  # a read only: end the transaction before the slow part
    return found
