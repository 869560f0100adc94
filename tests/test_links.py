"""Signed customer links: valid, expired, tampered, wrong purpose, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopdesk.errors import InvalidInput
from sopdesk.links import (
    LinkError,
    LinkExpired,
    LinkTampered,
    LinkWrongPurpose,
    link_url,
    sign_link,
    verify_link,
)

SECRET = "a-long-test-secret"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


@given(payloads, st.integers(min_value=1, max_value=90 * 86400))
def test_a_fresh_link_gives_its_payload_back(payload: dict[str, Any], ttl_s: int) -> None:
    token = sign_link(SECRET, "survey", payload, NOW, timedelta(seconds=ttl_s))
    assert verify_link(SECRET, "survey", token, NOW) == payload
    last_valid = NOW + timedelta(seconds=ttl_s - 1)
    assert verify_link(SECRET, "survey", token, last_valid) == payload


@given(payloads, st.integers(min_value=1, max_value=90 * 86400), st.integers(0, 10**6))
def test_a_link_expires_at_its_ttl(payload: dict[str, Any], ttl_s: int, late_s: int) -> None:
    token = sign_link(SECRET, "review", payload, NOW, timedelta(seconds=ttl_s))
    with pytest.raises(LinkExpired) as caught:
        verify_link(SECRET, "review", token, NOW + timedelta(seconds=ttl_s + late_s))
    assert caught.value.status == 410


@given(payloads, st.data())
def test_any_changed_character_is_tampering(payload: dict[str, Any], data: st.DataObject) -> None:
    token = sign_link(SECRET, "case", payload, NOW, DAY)
    index = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[index]))
    forged = token[:index] + replacement + token[index + 1 :]
    try:
        result = verify_link(SECRET, "case", forged, NOW)
    except LinkTampered:
        return
    # base64 has slack bits: a change that decodes to the same bytes is the same token
    assert result == payload


@given(payloads)
def test_wrong_purpose_is_told_apart(payload: dict[str, Any]) -> None:
    token = sign_link(SECRET, "survey", payload, NOW, DAY)
    with pytest.raises(LinkWrongPurpose):
        verify_link(SECRET, "case", token, NOW)


def test_wrong_purpose_wins_over_expiry() -> None:
    token = sign_link(SECRET, "survey", {"case": 1}, NOW, DAY)
    with pytest.raises(LinkWrongPurpose):
        verify_link(SECRET, "review", token, NOW + 30 * DAY)


def test_another_secret_is_tampering() -> None:
    token = sign_link(SECRET, "survey", {"case": 1}, NOW, DAY)
    with pytest.raises(LinkTampered):
        verify_link("another-secret", "survey", token, NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "x" * 5000, "eyJ1IjoxfQ.bad", "é"])
def test_garbage_is_tampering(garbage: str) -> None:
    with pytest.raises(LinkTampered):
        verify_link(SECRET, "survey", garbage, NOW)


def test_a_payload_swapped_between_tokens_is_tampering() -> None:
    one = sign_link(SECRET, "survey", {"case": 1}, NOW, DAY)
    two = sign_link(SECRET, "survey", {"case": 2}, NOW, DAY)
    forged = two.split(".")[0] + "." + one.split(".")[1]
    with pytest.raises(LinkTampered):
        verify_link(SECRET, "survey", forged, NOW)


def test_key_rotation_keeps_old_links_working() -> None:
    old = sign_link("old-secret", "survey", {"case": 1}, NOW, DAY)
    rotated = ["old-secret", "new-secret"]
    assert verify_link(rotated, "survey", old, NOW) == {"case": 1}
    new = sign_link(rotated, "survey", {"case": 2}, NOW, DAY)
    assert verify_link("new-secret", "survey", new, NOW) == {"case": 2}
    with pytest.raises(LinkTampered):
        verify_link("old-secret", "survey", new, NOW)


def test_errors_are_sopdesk_errors() -> None:
    for cls in (LinkExpired, LinkTampered, LinkWrongPurpose):
        assert issubclass(cls, LinkError)
    assert {LinkExpired.code, LinkTampered.code, LinkWrongPurpose.code} == {
        "link_expired",
        "link_invalid",
        "link_wrong_purpose",
    }


@pytest.mark.parametrize(
    "call",
    [
        lambda: sign_link(SECRET, "survey", {"a": 1}, NOW, timedelta(0)),
        lambda: sign_link(SECRET, "survey", {"a": 1}, NOW, timedelta(days=5000)),
        lambda: sign_link(SECRET, "survey", {"a": {1, 2}}, NOW, DAY),
        lambda: sign_link(SECRET, "survey", {1: "a"}, NOW, DAY),
        lambda: sign_link(SECRET, "Survey Link", {"a": 1}, NOW, DAY),
        lambda: sign_link("", "survey", {"a": 1}, NOW, DAY),
        lambda: sign_link(SECRET, "survey", {"a": 1}, datetime(2026, 1, 1), DAY),
        lambda: verify_link(SECRET, "survey", "x", datetime(2026, 1, 1)),
    ],
)
def test_bad_arguments_are_refused(call: Any) -> None:
    with pytest.raises(InvalidInput):
        call()


def test_link_url() -> None:
    token = sign_link(SECRET, "survey", {"case": 1042}, NOW, DAY)
    url = link_url("https://help.shop.example/", "survey", token)
    assert url == f"https://help.shop.example/l/survey/{token}"
    assert link_url("http://localhost:8000/desk", "case", "abc.def") == (
        "http://localhost:8000/desk/l/case/abc.def"
    )


@pytest.mark.parametrize(
    ("base", "token"),
    [
        ("ftp://x.example", "abc"),
        ("help.shop.example", "abc"),
        ("https://x.example?a=1", "abc"),
        ("https://x.example", "a/b"),
        ("https://x.example", "a b"),
    ],
)
def test_link_url_refuses_bad_parts(base: str, token: str) -> None:
    with pytest.raises(InvalidInput):
        link_url(base, "survey", token)
