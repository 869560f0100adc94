"""Retry, back-off and dead-letter decisions: pure functions of the error and the count.

Nothing here reads the clock, the database or a random source: callers pass `now` and
a `jitter` value in [0, 1). The worker shell turns a `Retry` or `Dead` into a row update.

How an error is classified (`classify`)::

    BaseException
     ├── TransientDeliveryError (email_out.is_retryable)   → transient: back off, retry
     ├── SopdeskError (any other: invalid message, permanent SMTP reply, not found)
     │                                                      → permanent: dead-letter now
     └── anything else (a bug, a database hiccup)           → transient: retry, then dead

A row is dead-lettered when the error is permanent or when it has used `max_attempts`
attempts. Attempts are counted at claim time, so a worker that crashes on the same row
again and again (a "poison pill") also ends in the dead letters instead of looping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sopdesk.channels.email_out import is_retryable
from sopdesk.errors import SopdeskError

MAX_ERROR_CHARS = 2000


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: `base * 2**(attempt-1)`, capped, with "equal jitter".

    The delay after attempt n lies in [d/2, d) with d = min(cap, base * 2**(n-1)),
    so retries of many rows that failed together spread out but never fire early.
    """

    base: timedelta = timedelta(seconds=60)
    cap: timedelta = timedelta(hours=4)
    max_attempts: int = 12

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("need 0 < base <= cap")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True)
class Retry:
    """Try again, not before `at`."""

    at: datetime
    error: str


@dataclass(frozen=True)
class Dead:
    """Stop: the row goes to the dead letters with `error` as its reason."""

    error: str


Decision = Retry | Dead


def backoff_delay(attempt: int, policy: RetryPolicy, jitter: float) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based); `jitter` in [0, 1)."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    grown = policy.base.total_seconds() * 2.0 ** min(attempt - 1, 1000)
    full = min(policy.cap.total_seconds(), grown)
    return timedelta(seconds=full / 2 + (full / 2) * jitter)


def classify(error: BaseException) -> ErrorKind:
    """Transient (retry) or permanent (dead-letter), from the exception's class alone."""
    if is_retryable(error):
        return ErrorKind.TRANSIENT
    if isinstance(error, SopdeskError):
        return ErrorKind.PERMANENT
    return ErrorKind.TRANSIENT


def describe(error: BaseException) -> str:
    """A one-line, bounded description for `last_error`."""
    text = str(error).replace("\r", " ").replace("\n", " ").strip()
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line[:MAX_ERROR_CHARS]


def decide(
    kind: ErrorKind,
    error: str,
    *,
    attempts: int,
    policy: RetryPolicy,
    now: datetime,
    jitter: float,
) -> Decision:
    """What to do after attempt `attempts` failed with an error of `kind`."""
    if kind is ErrorKind.PERMANENT:
        return Dead(error)
    if attempts >= policy.max_attempts:
        return Dead(f"gave up after {attempts} attempts; last error: {error}"[:MAX_ERROR_CHARS])
    return Retry(now + backoff_delay(attempts, policy, jitter), error)


def decide_for(
    error: BaseException, *, attempts: int, policy: RetryPolicy, now: datetime, jitter: float
) -> Decision:
    """`decide` for an exception: classify it, describe it, decide."""
    return decide(
        classify(error),
        describe(error),
        attempts=attempts,
        policy=policy,
        now=now,
        jitter=jitter,
    )


def lease_expired_decision(
    attempts: int, holder: str | None, *, policy: RetryPolicy
) -> Dead | None:
    """A claimed row whose worker vanished: None to make it claimable again, or Dead
    when the row has used all its attempts (it may be what crashes the workers)."""
    if attempts >= policy.max_attempts:
        who = holder or "a worker"
        return Dead(
            f"{who} stopped while handling this row {attempts} times; "
            "it may crash the worker (see docs/worker.md)"
        )
    return None
