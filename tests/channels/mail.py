"""Helpers for the inbound-email tests: the fixture corpus and parse shortcuts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sopdesk.channels.email_in import ParsedEmail, Quarantined, parse_inbound

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED_AT = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)


def parse(raw: bytes) -> ParsedEmail | Quarantined:
    return parse_inbound(raw, received_at=RECEIVED_AT)


def parsed(raw: bytes) -> ParsedEmail:
    result = parse(raw)
    assert isinstance(result, ParsedEmail), result
    return result


def fixture(name: str) -> ParsedEmail:
    return parsed((FIXTURES / name).read_bytes())


def crlf(text: str) -> bytes:
    """A message written with \\n line ends, as the CRLF bytes a mail server hands over."""
    return text.replace("\n", "\r\n").encode("utf-8")
