"""Header decoding, charset fallbacks, addresses, Message-IDs and dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sopdesk.channels.email_in import decode_bytes, normalise_address, normalise_message_id
from sopdesk.channels.email_in.headers import (
    decode_words,
    header_text,
    parse_addresses,
    parse_date,
    parse_message_ids,
)
from sopdesk.channels.email_in.model import MAX_REFERENCES
from sopdesk.channels.email_in.text import codec_for, lenient_b64decode, single_line


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("grüß".encode(), "utf8mb4", "grüß"),
        ("grüß".encode(), "x-unknown", "grüß"),
        ("café €".encode("cp1252"), "iso-8859-1", "café €"),
        ("café".encode("cp1252"), None, "café"),
        (b"\x81\x8d", "us-ascii", "\x81\x8d"),  # not cp1252 either: Latin-1 never fails
        ("日本".encode("cp932"), "shift_jis", "日本"),
        ("한국".encode("cp949"), "ks_c_5601-1987", "한국"),
        ("汉字".encode("gb18030"), "gb2312", "汉字"),
        (b"plain", "base64", "plain"),  # a bytes codec is not a charset
        (b"a\\u0041", "unicode_escape", "a\\u0041"),
        (b"\xef\xbb\xbfbom", "utf-8", "bom"),
        (b"nul\x00byte", "utf-8", "nulbyte"),
        ("ok ä".encode() + b"\xff", "utf-8", "ok ä\ufffd"),  # damaged UTF-8 keeps good chars
    ],
)
def test_decode_bytes_fallbacks(data, charset, expected):
    assert decode_bytes(data, charset) == expected


@pytest.mark.parametrize("name", ["", None, "\x00", "x" * 500, "'utf-8'", "zlib", "rot13"])
def test_codec_for_never_raises(name):
    codec = codec_for(name)
    assert codec is None or codec == "utf-8"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?iso-8859-1?q?J=F6rg?=", "Jörg"),
        ("=?utf-8?b?SsO2cmc?=", "Jörg"),  # missing padding
        ("=?utf-8?b?SsO2c!!mc=?=", "Jörg"),  # junk inside base64
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between words is dropped
        ("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"),
        ("=?utf-8*en?q?hello?=", "hello"),  # RFC 2231 language suffix
        ("=?UTF-8?Q?=F0=9F?= =?utf-8?Q?=98=80?=", "\U0001f600"),  # split code point
        ("plain =?bogus", "plain =?bogus"),
        ("=?utf-8?b?!!!?= x", "=?utf-8?b?!!!?= x"),  # undecodable word kept as written
    ],
)
def test_decode_words(raw, expected):
    assert decode_words(raw) == expected


def test_header_text_is_single_line_and_bounded():
    text = header_text("=?utf-8?q?a=0D=0Ab?=\r\n\tc\u2028d\x85e\x07f", 8)
    assert text == "a b c d"
    assert header_text("x" * 5000) == "x" * 998


def test_single_line_collapses_blanks():
    assert single_line("  a \t\t b\r\n c  ", 100) == "a b c"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("User@Example.COM", "User@example.com"),
        ("<a@b.example>", "a@b.example"),
        ("mailto:a@b.example", "a@b.example"),
        ("a@xn--mller-kva.example", "a@müller.example"),
        ("a@MÜLLER.example", "a@müller.example"),
        ("a@[192.0.2.1]", "a@[192.0.2.1]"),
        ("a@b.example.", "a@b.example"),
        ("no-at-sign", None),
        ("a@", None),
        ("@b.example", None),
        ("a b@c.example", None),
        ("a@b..example", None),
        ("a@exa mple.com", None),
        ("a@" + "x" * 300 + ".com", None),
    ],
)
def test_normalise_address(raw, expected):
    assert normalise_address(raw) == expected


def test_parse_addresses_decodes_names_and_dedupes():
    found = parse_addresses(
        [
            '"Doe, Jane" <jane@example.com>, =?utf-8?q?Fran=C3=A7ois?= <f@example.fr>',
            "JANE@example.com",
        ]
    )
    assert [(a.name, a.address) for a in found] == [
        ("Doe, Jane", "jane@example.com"),
        ("François", "f@example.fr"),
    ]


def test_parse_addresses_survives_pathological_input():
    assert parse_addresses(["(" * 5000 + "a@b.example"])[0].address == "a@b.example"
    assert parse_addresses(["a@b.example, " * 1000])[0].address == "a@b.example"
    assert len(parse_addresses([", ".join(f"u{i}@x.example" for i in range(500))])) == 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<a@b>", ("a@b",)),
        (" <a@b>  <c@d>\r\n <e@f>", ("a@b", "c@d", "e@f")),
        ("<a@b> (Jane's message of Monday)", ("a@b",)),
        ("a@b", ("a@b",)),  # brackets missing
        ("<a@b> <a@b>", ("a@b",)),
        ("garbage", ()),
        ("<>", ()),
        ("< a @ b >", ("a@b",)),
    ],
)
def test_parse_message_ids(raw, expected):
    assert parse_message_ids([raw]) == expected


def test_long_references_keep_root_and_newest():
    ids = parse_message_ids([" ".join(f"<m{i}@x>" for i in range(200))])
    assert len(ids) == MAX_REFERENCES
    assert ids[0] == "m0@x" and ids[-1] == "m199@x"


def test_normalise_message_id():
    assert normalise_message_id(" <abc@example.com>\r\n") == "abc@example.com"
    assert normalise_message_id("<>") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mon, 5 Jan 2026 10:00:00 +0100", datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
        ("5 Jan 2026 10:00:00 -0000", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)),
        ("2026-01-05T10:00:00", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)),
        ("Mon, 5 Jan 2026 10:00:00 GMT", datetime(2026, 1, 5, 10, 0, tzinfo=UTC)),
        ("yesterday", None),
        ("Mon, 99 Foo 2026 99:99:99", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(raw, expected):
    assert parse_date(raw) == expected


def test_lenient_base64():
    assert lenient_b64decode(b"aGVsbG8") == b"hello"
    assert lenient_b64decode(b"aGVs\r\n*bG8=") == b"hello"
    assert lenient_b64decode(b"!!!") == b""
