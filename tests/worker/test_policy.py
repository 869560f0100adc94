"""The pure part: back-off schedule, and retry or dead-letter from the error class."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopdesk.channels.email_out import (
    InvalidMessageError,
    PermanentDeliveryError,
    SmtpConfigurationError,
    TransientDeliveryError,
)
from sopdesk.errors import NotFound
from sopdesk.worker.policy import (
    Dead,
    ErrorKind,
    Retry,
    RetryPolicy,
    backoff_delay,
    classify,
    decide,
    decide_for,
    describe,
    lease_expired_decision,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(seconds=60), cap=timedelta(hours=1), max_attempts=5)


@pytest.mark.parametrize(
    ("attempt", "jitter", "seconds"),
    [
        (1, 0.0, 30),  # [d/2, d) with d = 60
        (1, 0.5, 45),
        (2, 0.0, 60),  # d = 120
        (3, 0.0, 120),  # d = 240
        (6, 0.0, 960),  # d = 60 * 32 = 1920
        (7, 0.0, 1800),  # 60 * 64 = 3840, capped at 3600
        (50, 0.0, 1800),
        (5000, 0.999, 3598.2),
    ],
)
def test_backoff_doubles_then_caps(attempt: int, jitter: float, seconds: float) -> None:
    assert backoff_delay(attempt, POLICY, jitter).total_seconds() == pytest.approx(seconds)


@given(st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_backoff_is_within_half_and_full_delay(attempt: int, jitter: float) -> None:
    full = min(3600.0, 60.0 * 2.0 ** min(attempt - 1, 1000))
    delay = backoff_delay(attempt, POLICY, jitter).total_seconds()
    assert full / 2 <= delay < full + 1e-9
    assert backoff_delay(attempt + 1, POLICY, jitter) >= backoff_delay(attempt, POLICY, jitter)


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.0), (1, 1.0), (1, -0.1)])
def test_backoff_refuses_bad_arguments(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"attempt|jitter"):
        backoff_delay(attempt, POLICY, jitter)


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="base"):
        RetryPolicy(base=timedelta(0))
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TransientDeliveryError("451 greylisted", smtp_code=451), ErrorKind.TRANSIENT),
        (SmtpConfigurationError("535 auth failed", smtp_code=535), ErrorKind.TRANSIENT),
        (PermanentDeliveryError("550 no such user", smtp_code=550), ErrorKind.PERMANENT),
        (InvalidMessageError("no recipient"), ErrorKind.PERMANENT),
        (NotFound("case 4 is gone"), ErrorKind.PERMANENT),
        (RuntimeError("a bug"), ErrorKind.TRANSIENT),
        (OSError("database went away"), ErrorKind.TRANSIENT),
    ],
)
def test_classify_by_exception_class(error: BaseException, kind: ErrorKind) -> None:
    assert classify(error) is kind


def test_transient_error_retries_at_now_plus_backoff() -> None:
    decision = decide(ErrorKind.TRANSIENT, "451", attempts=2, policy=POLICY, now=NOW, jitter=0.0)
    assert decision == Retry(NOW + timedelta(seconds=60), "451")


def test_permanent_error_is_dead_at_the_first_attempt() -> None:
    decision = decide(ErrorKind.PERMANENT, "550", attempts=1, policy=POLICY, now=NOW, jitter=0.0)
    assert decision == Dead("550")


def test_transient_error_is_dead_after_max_attempts() -> None:
    before = decide(ErrorKind.TRANSIENT, "451", attempts=4, policy=POLICY, now=NOW, jitter=0.5)
    last = decide(ErrorKind.TRANSIENT, "451", attempts=5, policy=POLICY, now=NOW, jitter=0.5)
    assert isinstance(before, Retry)
    assert isinstance(last, Dead)
    assert last.error == "gave up after 5 attempts; last error: 451"


def test_decide_for_describes_the_exception_on_one_line() -> None:
    decision = decide_for(
        PermanentDeliveryError("550 no\r\nsuch user"), attempts=1, policy=POLICY, now=NOW, jitter=0
    )
    assert decision == Dead("PermanentDeliveryError: 550 no  such user")
    assert describe(RuntimeError()) == "RuntimeError"
    assert len(describe(RuntimeError("x" * 5000))) == 2000


def test_a_row_that_keeps_killing_workers_ends_dead() -> None:
    assert lease_expired_decision(4, "host:1", policy=POLICY) is None
    dead = lease_expired_decision(5, "host:1", policy=POLICY)
    assert isinstance(dead, Dead)
    assert "host:1 stopped while handling this row 5 times" in dead.error
