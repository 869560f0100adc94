"""Sign-in rate limits: a sliding window over recent failed attempts, decided purely.

Two windows apply to every attempt: per email and client address (5 failures in 15
minutes), and per client address alone (50 in 15 minutes, against one address trying
many emails). Unknown emails count like known ones, so a refusal says nothing about
whether an account exists. The store (the `sign_in_attempts` table, shared by every
process on PostgreSQL) lives in `sopdesk.actions.signin`; this module only decides.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Policy:
    limit: int
    window: timedelta


PER_ACCOUNT = Policy(limit=5, window=timedelta(minutes=15))
PER_ADDRESS = Policy(limit=50, window=timedelta(minutes=15))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0
    """Seconds until the next attempt may be made (0 when allowed)."""


def decide(failures: Sequence[datetime], now: datetime, policy: Policy) -> Decision:
    """May another attempt be made at `now`, given the times of earlier failures?

    Allowed while fewer than `policy.limit` failures fall in the window ending at `now`;
    when refused, `retry_after` is when the oldest counted failure leaves the window.
    """
    start = now - policy.window
    recent = sorted(at for at in failures if start < at <= now)
    if len(recent) < policy.limit:
        return Decision(allowed=True)
    frees_at = recent[-policy.limit] + policy.window
    return Decision(allowed=False, retry_after=max(1, math.ceil((frees_at - now).total_seconds())))


def combine(*decisions: Decision) -> Decision:
    """Refused if any is refused, with the longest wait."""
    refused = [d for d in decisions if not d.allowed]
    if not refused:
        return Decision(allowed=True)
    return Decision(allowed=False, retry_after=max(d.retry_after for d in refused))


def attempt_key(email: str, address: str) -> str:
    """The stored key for an email and client address (a hash: emails are not kept)."""
    return hashlib.sha256(f"{email.strip().lower()}|{address}".encode()).hexdigest()
