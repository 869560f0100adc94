"""Outbound webhook requests: the exact body and headers, and checking a signature.

Pure: no clock, no network. The worker passes the timestamp it signs with; receivers
(and the tests) call `verify_signature` with their own clock reading.

The signature is Stripe-style, so receivers can reuse what they know::

    Sopdesk-Signature: t=1772443800,v1=<hex HMAC-SHA256(secret, "1772443800." + body)>

The timestamp is part of the signed text, so a captured request cannot be replayed
later than `tolerance` seconds with another timestamp; the receiver de-duplicates
replays within the window on `Sopdesk-Delivery` (the event id, the same on every retry).
A header may carry several `v1=` values (e.g. while a secret is rotated); any one
that matches is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sopdesk import __version__

SIGNATURE_HEADER = "Sopdesk-Signature"
EVENT_HEADER = "Sopdesk-Event"
DELIVERY_HEADER = "Sopdesk-Delivery"
USER_AGENT = f"sopdesk/{__version__}"
DEFAULT_TOLERANCE = 300.0  # seconds either side of the receiver's clock


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON with sorted keys, so a retry of the same
    payload sends the same bytes (and so the same signature for the same timestamp)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """Hex HMAC-SHA256 of `f"{timestamp}.{body}"` keyed with the endpoint's secret."""
    signed = str(timestamp).encode("ascii") + b"." + _as_bytes(body)
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes | str) -> str:
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def request_headers(
    secret: str, body: bytes, *, event: str, delivery_id: str, timestamp: int
) -> dict[str, str]:
    """Every header of one delivery attempt (the timestamp is the attempt's own)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
    }


def parse_signature_header(header: str) -> tuple[int | None, list[str]]:
    """`(timestamp, [v1 signatures])` from a header; unknown parts are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value.strip().lower())
    return timestamp, signatures


def verify_signature(
    secret: str,
    header: str,
    body: bytes | str,
    now: datetime | float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """True when `header` (the `Sopdesk-Signature` value) signs exactly `body` with
    `secret` and its timestamp is within `tolerance` seconds of `now` (a datetime or
    Unix seconds). Compare the raw body as received: re-encoded JSON differs."""
    timestamp, signatures = parse_signature_header(header or "")
    if timestamp is None or not signatures:
        return False
    seconds = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(seconds - timestamp) > tolerance:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
