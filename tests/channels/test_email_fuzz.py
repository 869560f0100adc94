"""Fuzzing parse_inbound: arbitrary bytes, mutated real shapes, generated MIME trees.

Whatever comes in, parse_inbound returns a ParsedEmail or a Quarantined holding the
exact raw bytes; every header-derived value is single-line, bounded and storable; the
follow-on functions (quote stripping, auto-reply, loop and thread detection) accept
whatever parse_inbound produced.
"""

from __future__ import annotations

import base64
import hashlib
import os
import quopri
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopdesk.channels.email_in import (
    ParsedEmail,
    Quarantined,
    detect_auto_reply,
    find_case_token,
    is_mail_loop,
    sanitise_html,
    strip_quoted,
    thread_keys,
)
from sopdesk.channels.email_in.model import (
    MAX_ADDRESS_CHARS,
    MAX_FILENAME_CHARS,
    MAX_HEADER_CHARS,
    MAX_MESSAGE_ID_CHARS,
    MAX_NAME_CHARS,
)

from .mail import FIXTURES, crlf, parse

# Raise for a long hunt, e.g. SOPDESK_FUZZ_SCALE=50; the default keeps the suite fast.
SCALE = int(os.environ.get("SOPDESK_FUZZ_SCALE", "1"))
FUZZ = settings(
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
UNSAFE_IN_LINE = re.compile("[\r\n\x00\u2028\u2029\x85\ud800-\udfff]")
UNSAFE_IN_TEXT = re.compile("[\x00\ud800-\udfff]")
CORPUS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]


def _line(value: str, limit: int) -> None:
    assert not UNSAFE_IN_LINE.search(value), repr(value)
    assert len(value) <= limit


def _addresses(email: ParsedEmail) -> None:
    for address in (email.from_, *email.to, *email.cc, *email.reply_to):
        _line(address.name, MAX_NAME_CHARS)
        _line(address.address, MAX_ADDRESS_CHARS)
        assert "@" in address.address


def _attachments(email: ParsedEmail) -> None:
    for attachment in email.attachments:
        assert attachment.size == len(attachment.data)
        assert attachment.sha256 == hashlib.sha256(attachment.data).hexdigest()
        _line(attachment.content_type, 127)
        if attachment.filename is not None:
            _line(attachment.filename, MAX_FILENAME_CHARS)
            assert "/" not in attachment.filename and "\\" not in attachment.filename
        if attachment.content_id is not None:
            _line(attachment.content_id, MAX_MESSAGE_ID_CHARS)


def check(raw: bytes) -> ParsedEmail | Quarantined:
    """Parse `raw` and assert every invariant of the contract."""
    result = parse(raw)
    assert isinstance(result, ParsedEmail | Quarantined)
    assert result.raw == raw
    if isinstance(result, Quarantined):
        _line(result.detail, 300)
        return result
    for value in (result.message_id, *result.in_reply_to, *result.references):
        _line(value, MAX_MESSAGE_ID_CHARS)
    for name, value in result.headers:
        _line(name, 100)
        _line(value, MAX_HEADER_CHARS)
    _line(result.subject, MAX_HEADER_CHARS)
    _addresses(result)
    _attachments(result)
    assert not UNSAFE_IN_TEXT.search(result.text)
    assert result.html is None or not UNSAFE_IN_TEXT.search(result.html)
    reply, _ = strip_quoted(result.text)
    assert bool(reply.strip()) == bool(result.text.strip())
    keys = thread_keys(result)
    assert detect_auto_reply(result) is keys.auto_reply
    is_mail_loop(result, ["support@shop.example"], "shop.example")
    return result


@settings(FUZZ, max_examples=600 * SCALE)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(raw):
    check(raw)


@settings(FUZZ, max_examples=400 * SCALE)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_after_a_valid_header(tail):
    result = check(b"From: a@example.com\r\n" + tail)
    assert isinstance(result, ParsedEmail)  # a sender was given: never quarantined


def _mutate(data: bytes, op: str, pos: float, size: int, junk: bytes) -> bytes:
    at = int(pos * len(data))
    if op == "delete":
        return data[:at] + data[at + size :]
    if op == "insert":
        return data[:at] + junk + data[at:]
    if op == "duplicate":
        return data[:at] + data[at : at + size] * 3 + data[at:]
    if op == "truncate":
        return data[:at]
    if op == "flip":
        return data[:at] + bytes(b ^ 0xFF for b in data[at : at + size]) + data[at + size :]
    if op == "bare_lf":
        return data.replace(b"\r\n", b"\n")
    if op == "bare_cr":
        return data.replace(b"\r\n", b"\r")
    return data[:at] + b"\r\n" + junk + b"\r\n" + data[at:]  # "header": inject a line


MUTATIONS = st.tuples(
    st.sampled_from(
        ["delete", "insert", "duplicate", "truncate", "flip", "bare_lf", "bare_cr", "header"]
    ),
    st.floats(min_value=0, max_value=1),
    st.integers(min_value=1, max_value=400),
    st.binary(max_size=80),
)


@settings(FUZZ, max_examples=600 * SCALE)
@given(st.sampled_from(CORPUS), st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutated_corpus(raw, mutations):
    for op, pos, size, junk in mutations:
        raw = _mutate(raw, op, pos, size, junk)
    check(raw)


@settings(FUZZ, max_examples=150 * SCALE)
@given(st.sampled_from(CORPUS), st.sampled_from(CORPUS), st.floats(0, 1), st.floats(0, 1))
def test_spliced_corpus(first, second, cut_a, cut_b):
    check(first[: int(cut_a * len(first))] + second[int(cut_b * len(second)) :])


NASTY_TEXT = st.text(
    alphabet=st.sampled_from(list("aZ09 <>@\"'(),;:=?_-.\\\t\r\n\x00\x7fé€\u2028😀")),
    max_size=120,
)
ENCODED_WORD = st.builds(
    lambda cs, enc, text: f"=?{cs}?{enc}?{text}?=",
    st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "x-unknown", "utf8mb4", "", "zlib"]),
    st.sampled_from(["q", "B", "x"]),
    st.text(alphabet=st.sampled_from(list("aZ09=_+/?\r\n ")), max_size=30),
)
HEADER_VALUE = st.lists(st.one_of(NASTY_TEXT, ENCODED_WORD), max_size=4).map(" ".join)
HEADER_NAME = st.sampled_from(
    [
        "From", "To", "Cc", "Reply-To", "Sender", "Subject", "Message-ID", "In-Reply-To",
        "References", "Date", "Content-Type", "Content-Transfer-Encoding",
        "Content-Disposition", "Auto-Submitted", "List-Id", "X-Custom",
    ]
)  # fmt: skip


@settings(FUZZ, max_examples=400 * SCALE)
@given(st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=12), NASTY_TEXT)
def test_hostile_headers(headers, body):
    lines = [f"{name}: {value}" for name, value in headers]
    raw = "\r\n".join(["From: Jane <jane@example.com>", *lines, "", body]).encode(
        "utf-8", "surrogatepass"
    )
    result = check(raw)
    assert isinstance(result, ParsedEmail)


CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "x-unknown", "utf8mb4", "shift_jis", ""])
LEAF_TYPES = st.sampled_from(
    ["text/plain", "text/html", "image/png", "application/pdf", "message/rfc822", "bogus"]
)
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uue", ""])


def _encode(body: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(body)
    if encoding == "quoted-printable":
        return quopri.encodestring(body)
    return body


@st.composite
def mime_tree(draw, depth: int = 0) -> bytes:
    if depth < 4 and draw(st.booleans()):
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "bogus"]))
        boundary = f"b{depth}x{draw(st.integers(0, 99))}"
        children = draw(st.lists(mime_tree(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + c + b"\r\n" for c in children)
        closing = b"--" + boundary.encode() + b"--\r\n" if draw(st.booleans()) else b""
        head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'
        return head.encode() + body + closing
    ctype, charset, encoding = draw(LEAF_TYPES), draw(CHARSETS), draw(ENCODINGS)
    content = draw(st.one_of(st.binary(max_size=200), NASTY_TEXT.map(str.encode)))
    filename = draw(st.one_of(st.none(), NASTY_TEXT))
    head = f"Content-Type: {ctype}; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n"
    if filename is not None:
        head += f'Content-Disposition: attachment; filename="{filename}"\r\n'
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + _encode(content, encoding)


@settings(FUZZ, max_examples=300 * SCALE)
@given(mime_tree())
def test_generated_mime_trees(tree):
    result = check(crlf("From: a@example.com\nSubject: tree\nMIME-Version: 1.0\n") + tree)
    assert isinstance(result, ParsedEmail)
    if result.html is not None:
        sanitise_html(result.html)


def test_deeply_nested_multiparts_are_bounded():
    depth = 300
    parts = b"".join(
        b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (i, i + 1)
        for i in range(depth)
    )
    raw = crlf('From: a@example.com\nContent-Type: multipart/mixed; boundary="n0"\n\n')
    result = check(raw + parts + b"--n%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n" % depth)
    assert isinstance(result, ParsedEmail | Quarantined)


QUOTY_TEXT = st.lists(
    st.one_of(
        NASTY_TEXT,
        st.sampled_from(
            ["> quoted", "-- ", "On Mon, Jan 5 Shop <s@x> wrote:", "From: a", "Sent: b",
             "To: c", "-----Original Message-----", "Sent from my iPhone", ""]
        ),
    ),
    max_size=15,
).map("\n".join)  # fmt: skip


@settings(FUZZ, max_examples=400 * SCALE)
@given(QUOTY_TEXT)
def test_strip_quoted_partitions_the_lines(text):
    reply, quoted = strip_quoted(text)
    lines = {line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    assert bool(reply.strip()) == bool(text.strip())
    assert {line.rstrip() for line in reply.split("\n")} <= lines | {""}
    assert {line.rstrip() for line in quoted.split("\n")} <= lines | {""}
    find_case_token(text)
