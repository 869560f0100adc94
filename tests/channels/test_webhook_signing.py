"""Signing webhook requests (channels/webhook_out.py): the documented header, a round
trip for any secret, body and time, and the rejections receivers rely on."""

from __future__ import annotations

import hashlib
import hmac
import json

from hypothesis import given
from hypothesis import strategies as st

from sopdesk import __version__
from sopdesk.channels.webhook_out import (
    encode_body,
    parse_signature_header,
    request_headers,
    signature_header,
    verify_signature,
)

SECRET = "whsec_test"
T = 1_772_443_800  # 2026-03-02 09:30:00 UTC


def test_the_header_is_the_documented_hmac() -> None:
    body = b'{"event":"ping"}'
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature_header(SECRET, T, body) == f"t={T},v1={expected}"


def test_request_headers() -> None:
    body = encode_body({"id": "evt_1", "event": "case.created"})
    headers = request_headers(SECRET, body, event="case.created", delivery_id="evt_1", timestamp=T)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"sopdesk/{__version__}"
    assert headers["Sopdesk-Event"] == "case.created"
    assert headers["Sopdesk-Delivery"] == "evt_1"
    assert verify_signature(SECRET, headers["Sopdesk-Signature"], body, now=T + 1)


def test_the_body_is_stable_compact_utf8_json() -> None:
    payload = {"b": 1, "a": "Zoë"}
    assert encode_body(payload) == '{"a":"Zoë","b":1}'.encode()
    assert json.loads(encode_body(payload)) == payload


def test_tampering_a_wrong_secret_and_old_or_future_timestamps_are_rejected() -> None:
    body = b'{"amount":10}'
    header = signature_header(SECRET, T, body)
    assert verify_signature(SECRET, header, body, now=T + 300)
    assert not verify_signature(SECRET, header, b'{"amount":1000}', now=T)
    assert not verify_signature("whsec_other", header, body, now=T)
    assert not verify_signature(SECRET, header, body, now=T + 301)  # too old: a replay
    assert not verify_signature(SECRET, header, body, now=T - 301)  # from the future
    assert verify_signature(SECRET, header, body, now=T + 1000, tolerance=1000)
    forged = signature_header(SECRET, T, body).replace(f"t={T}", f"t={T + 60}")
    assert not verify_signature(SECRET, forged, body, now=T + 60)  # the time is signed too


def test_malformed_headers_are_rejected() -> None:
    body = b"{}"
    good = signature_header(SECRET, T, body)
    for header in ("", "garbage", f"t={T}", good.split(",")[1], "t=abc,v1=00", "v1=,t="):
        assert not verify_signature(SECRET, header, body, now=T), header


def test_any_of_several_v1_signatures_may_match() -> None:
    body = b"{}"
    good = signature_header(SECRET, T, body)
    header = f"t={T},v1={'0' * 64},{good.split(',')[1]}"
    assert parse_signature_header(header) == (T, ["0" * 64, good.split("=")[-1]])
    assert verify_signature(SECRET, header, body, now=T)


@given(
    secret=st.text(min_size=1, max_size=60),
    body=st.binary(max_size=500),
    timestamp=st.integers(min_value=0, max_value=4_000_000_000),
    skew=st.integers(min_value=-300, max_value=300),
)
def test_round_trip(secret: str, body: bytes, timestamp: int, skew: int) -> None:
    header = signature_header(secret, timestamp, body)
    assert verify_signature(secret, header, body, now=timestamp + skew)
    assert not verify_signature(secret, header, body + b"x", now=timestamp)
    assert not verify_signature(secret + "x", header, body, now=timestamp)
