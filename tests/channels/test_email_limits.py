"""Resource limits and the never-raise contract's fallback paths."""

from __future__ import annotations

import time
from email.parser import BytesParser

import pytest

from sopdesk.channels.email_in import ParsedEmail, Quarantined, QuarantineReason, parse_inbound
from sopdesk.channels.email_in import parse as parse_module
from sopdesk.channels.email_in.model import MAX_PARTS
from sopdesk.channels.email_in.policies import (
    BOUNDED_COMPAT32,
    BOUNDED_DEFAULT,
    MAX_OTHER_HEADER_CHARS,
    MAX_STRUCTURAL_HEADER_CHARS,
)

from .mail import RECEIVED_AT, crlf, parse, parsed

SIMPLE = crlf("From: a@example.com\nSubject: hi\n\nbody\n")


def _multipart(count: int) -> bytes:
    head = crlf('From: a@example.com\nContent-Type: multipart/mixed; boundary="p"\n\n')
    return head + b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" * count + b"--p--\r\n"


@pytest.mark.parametrize("policy", [BOUNDED_DEFAULT, BOUNDED_COMPAT32])
def test_policies_cut_header_values_as_they_are_read(policy):
    raw = crlf(
        f"From: a@example.com\nContent-Type: text/plain; {'a=b;' * 5000}\n"
        f"Subject: {'s' * 100_000}\n\nx"
    )
    message = BytesParser(policy=policy).parsebytes(raw)
    values = dict(message.raw_items())
    assert len(values["Content-Type"]) == MAX_STRUCTURAL_HEADER_CHARS
    assert len(values["Subject"]) == MAX_OTHER_HEADER_CHARS


@pytest.mark.parametrize(
    "header",
    [
        "Content-Type: text/plain; " + 'a="\\"' * 20_000,  # quadratic in the stdlib: ~70 s
        "Content-Type: text/plain; " + "a=b;" * 50_000,
        "Content-Disposition: attachment; " + "filename*0=a;" * 20_000,
        "To: " + "(" * 50_000 + "a@example.com",
    ],
)
def test_pathological_headers_parse_quickly(header):
    raw = crlf(f"From: a@example.com\n{header}\n\nbody")
    started = time.perf_counter()
    result = parse(raw)
    assert time.perf_counter() - started < 10
    assert isinstance(result, ParsedEmail)


def test_parts_beyond_the_walk_limit_are_kept_in_raw_and_reported():
    email = parsed(_multipart(MAX_PARTS + 200))
    assert "mime structure truncated" in email.defects
    assert any("parsed with compat32" in d for d in email.defects)
    assert email.raw.count(b"Content-Type: text/plain") == MAX_PARTS + 200


def test_a_part_bomb_is_quarantined():
    result = parse(_multipart(10 * MAX_PARTS + 1))
    assert isinstance(result, Quarantined) and result.reason is QuarantineReason.TOO_COMPLEX


def test_extraction_failure_under_default_policy_falls_back_to_compat32(monkeypatch):
    real = parse_module._extract

    def flaky(message, data, received_at, notes):
        if message.policy is BOUNDED_DEFAULT:
            raise ValueError("boom")
        return real(message, data, received_at, notes)

    monkeypatch.setattr(parse_module, "_extract", flaky)
    email = parsed(SIMPLE)
    assert email.text == "body"
    assert "policy.default failed: ValueError" in email.defects


def test_total_failure_is_quarantined_with_raw_kept(monkeypatch):
    def broken(*args):
        raise RuntimeError("line 1\r\nline 2")

    monkeypatch.setattr(parse_module, "_extract", broken)
    result = parse(SIMPLE)
    assert isinstance(result, Quarantined)
    assert result.reason is QuarantineReason.PARSER_ERROR
    assert result.raw == SIMPLE
    assert result.detail == "RuntimeError: line 1 line 2"


@pytest.mark.parametrize("raw", [bytearray(SIMPLE), memoryview(SIMPLE), SIMPLE.decode()])
def test_bytes_like_and_text_input(raw):
    result = parse_inbound(raw, received_at=RECEIVED_AT)
    assert isinstance(result, ParsedEmail) and result.raw == SIMPLE


def test_text_input_with_lone_surrogates_does_not_raise():
    result = parse_inbound("From: a@example.com\n\n\ud800", received_at=RECEIVED_AT)
    assert isinstance(result, ParsedEmail)
