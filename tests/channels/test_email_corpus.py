"""The fixture corpus of odd real-world shapes, one assertion set per shape."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from sopdesk.channels.email_in import (
    AutoReplyKind,
    ParsedEmail,
    Quarantined,
    QuarantineReason,
    detect_auto_reply,
    parse_inbound,
    strip_quoted,
    thread_keys,
)
from sopdesk.channels.email_in.model import GENERATED_ID_DOMAIN, MAX_HEADER_CHARS

from .mail import FIXTURES, RECEIVED_AT, crlf, fixture, parse, parsed

ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.eml"))


def test_corpus_is_complete():
    assert len(ALL_FIXTURES) >= 23


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_parses_and_keeps_its_raw_bytes(name):
    raw = (FIXTURES / name).read_bytes()
    result = parse(raw)
    assert isinstance(result, ParsedEmail)
    assert result.raw == raw
    assert result.received_at == RECEIVED_AT
    assert "\x00" not in result.text
    for _, value in result.headers:
        assert not re.search(r"[\r\n\x00]", value)
        assert len(value) <= MAX_HEADER_CHARS


def test_no_content_type_is_utf8_plain_text():
    email = fixture("no_content_type.eml")
    assert email.content_type == "text/plain"
    assert email.text == "Hello, my order #4411 has not arrived. Grüße, Anna"
    assert email.from_.name == "Anna Berg"
    assert email.date is not None and email.date.utcoffset().total_seconds() == 3600


def test_unknown_charset_falls_back_to_cp1252():
    assert fixture("unknown_charset.eml").text == "Café order: I paid € 25 and want it back."


def test_utf8mb4_is_utf8():
    assert fixture("utf8mb4_charset.eml").text == "Great service \U0001f600 — merci!"


def test_wrong_declared_charsets_are_repaired():
    text = fixture("wrong_charset.eml").text
    assert "Declared ASCII, really UTF-8: Straße" in text
    assert "Declared UTF-8, really Latin-1: naïve café" in text


def test_broken_rfc2047_words():
    email = fixture("broken_rfc2047.eml")
    assert email.from_.name == "Élise"
    assert email.subject.startswith("Réclamation et remboursement€ 50")
    assert "café" in email.subject  # unknown charset in the word: cp1252 fallback
    assert "ok with spaces" in email.subject
    assert email.subject.endswith("=?utf-8?q?unterminated")  # kept literally, not lost


def test_bad_quoted_printable_and_base64_survive():
    email = fixture("bad_qp_base64.eml")
    assert email.text.startswith("Price: 50€, broken escape =ZZ and soft break")
    (pdf,) = email.attachments
    assert pdf.filename == "invoice.pdf"
    assert pdf.data.startswith(b"%PDF-1.4 fake pdf bytes")
    assert pdf.size == len(pdf.data)
    assert pdf.sha256 == hashlib.sha256(pdf.data).hexdigest()


def test_alternative_inside_related_inside_mixed():
    email = fixture("nested_multipart.eml")
    assert email.text == "The lamp arrived broken, see photo."
    assert email.html is not None and 'src="cid:photo1@example"' in email.html
    image, receipt = email.attachments
    assert (image.content_type, image.content_id, image.inline) == (
        "image/png",
        "photo1@example",
        True,
    )
    assert image.data.startswith(b"\x89PNG")
    assert (receipt.filename, receipt.inline) == ("receipt.pdf", False)
    assert receipt.data == b"%PDF-1.4\n" + bytes(range(256)) * 4


def test_forwarded_message_is_kept_as_an_eml_attachment():
    email = fixture("forwarded_rfc822.eml")
    assert email.text == "See the confirmation below, the amount is wrong."
    (forwarded,) = email.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.filename == "Your order confirmation.eml"
    inner = parsed(forwarded.data)
    assert inner.message_id == "order-77@shop.example"
    assert inner.text == "Order 77: total 99.00 EUR"


def test_header_injection_is_neutralised():
    email = fixture("header_injection.eml")
    assert email.subject == "Hello Bcc: victim@example.com Injected body"
    assert email.from_.address == "eve@example.com"
    assert [a.address for a in email.to] == ["support@shop.example"]
    assert email.reply_to[0].name == "a b"
    assert len(email.header("X-Long")) == MAX_HEADER_CHARS
    assert email.header("X-Nul") == "ab"
    for value in (email.subject, email.from_.name, *email.in_reply_to):
        assert "\r" not in value and "\n" not in value


def test_missing_message_id_is_generated_deterministically():
    raw = (FIXTURES / "missing_message_id.eml").read_bytes()
    first, second = parsed(raw), parsed(raw)
    assert first.message_id_generated
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@" + GENERATED_ID_DOMAIN)
    assert parsed(raw + b"x").message_id != first.message_id


def test_duplicate_headers_first_wins_and_are_reported():
    email = fixture("duplicate_headers.eml")
    assert email.from_.address == "ivan@example.com"
    assert email.subject == "First subject"
    assert email.message_id == "dup-1@example.com"
    assert email.header_values("Subject") == ("First subject", "Second subject")
    assert "duplicate from header" in email.defects
    assert "duplicate message-id header" in email.defects


def test_eight_bit_utf8_headers():
    email = fixture("eight_bit_headers.eml")
    assert email.from_.name == "Jürgen Müller"
    assert email.from_.address == "jürgen@müller.example"
    assert email.subject == "Rückgabe – Bestellung 881"
    assert email.header("X-Legacy") == "café"
    assert email.date is None  # "not a date at all"
    assert email.text == "Ich möchte die Jacke zurücksenden."


def test_outlook_reply_strips_the_original_message_block():
    email = fixture("outlook_reply.eml")
    reply, quoted = strip_quoted(email.text)
    assert reply == "Thanks, I have printed the label and will ship it tomorrow.\n\nKaren"
    assert quoted.startswith("____") and "Dear Karen" in quoted
    assert thread_keys(email).message_ids == (
        "out-1042-1@shop.example",
        "cust-1042@contoso.example",
    )


def test_outlook_html_reply_strips_too():
    email = fixture("outlook_reply.eml")
    from sopdesk.channels.email_in import html_to_text

    reply, _ = strip_quoted(html_to_text(email.html or ""))
    assert reply == "Thanks, I have printed the label and will ship it tomorrow.\nKaren"


def test_gmail_reply_with_wrapped_attribution():
    email = fixture("gmail_reply.eml")
    reply, quoted = strip_quoted(email.text)
    assert reply == "Yes, a replacement is fine."
    assert quoted.startswith("On Thu, Feb 5, 2026 at 10:00 AM Shop Support")
    assert thread_keys(email).case_token == "SD-2001"


def test_apple_mail_reply_drops_signature_and_quote():
    reply, quoted = strip_quoted(fixture("apple_mail_reply.eml").text)
    assert reply == "Size M please."
    assert quoted.startswith("-- \nPaula Jones")


def test_german_auto_reply_threads_but_is_marked():
    email = fixture("german_autoreply.eml")
    assert email.text == "Vielen Dank für Ihre Nachricht. Ich bin bis zum 20.02. nicht im Büro."
    keys = thread_keys(email)
    assert keys.auto_reply is AutoReplyKind.OUT_OF_OFFICE
    assert keys.case_token == "SD-3003"


def test_bounce_dsn():
    email = fixture("bounce_dsn.eml")
    assert detect_auto_reply(email) is AutoReplyKind.BOUNCE
    types = [a.content_type for a in email.attachments]
    assert types == ["message/delivery-status", "message/rfc822"]
    assert b"Status: 5.1.2" in email.attachments[0].data
    assert thread_keys(email).message_ids == ("out-5005-1@shop.example",)


def test_mailing_list_message():
    email = fixture("mailing_list.eml")
    assert detect_auto_reply(email) is AutoReplyKind.MAILING_LIST
    trusted = ["vendor-announce.lists.vendor.example"]
    assert detect_auto_reply(email, trusted_list_ids=trusted) is None


def test_winmail_dat_is_kept():
    (tnef,) = fixture("winmail_dat.eml").attachments
    assert (tnef.filename, tnef.content_type) == ("winmail.dat", "application/ms-tnef")
    assert tnef.data == bytes([0x78, 0x9F, 0x3E, 0x22]) + bytes([1]) * 300


def test_html_only_message_gets_derived_text():
    email = fixture("html_only.eml")
    assert email.text_from_html
    assert email.text.startswith("Hello team,\n\nMy order #991 is late.")
    assert "alert" not in email.text and "color: red" not in email.text
    assert "> old message" in email.text


def test_filenames_decoded_and_without_directories():
    names = [a.filename for a in fixture("rfc2231_filenames.eml").attachments]
    assert names == ["Rechnung € 50.pdf", "Übersicht.xlsx", "passwd"]


def test_multipart_without_boundary_is_read_as_text():
    email = fixture("multipart_no_boundary.eml")
    assert email.text == "Just some text where parts should be."
    assert "NoBoundaryInMultipartDefect" in email.defects


def test_leading_blank_lines_and_mbox_envelope():
    email = fixture("mbox_from_line.eml")
    assert (email.from_.address, email.subject) == ("sam@example.com", "With envelope line")


def test_garbage_is_quarantined_with_raw_kept():
    raw = (FIXTURES / "garbage.bin").read_bytes()
    result = parse(raw)
    assert isinstance(result, Quarantined)
    assert result.reason is QuarantineReason.NOT_AN_EMAIL
    assert result.raw == raw and result.received_at == RECEIVED_AT


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", QuarantineReason.EMPTY),
        (b"\r\n \r\n", QuarantineReason.EMPTY),
        (b"Subject: hi\r\n\r\nno sender anywhere", QuarantineReason.NO_SENDER),
        (b"From: not an address\r\n\r\nx", QuarantineReason.NO_SENDER),
        (b"just a line of text", QuarantineReason.NOT_AN_EMAIL),
    ],
)
def test_quarantine_reasons(raw, reason):
    result = parse(raw)
    assert isinstance(result, Quarantined)
    assert (result.reason, result.raw) == (reason, raw)


def test_too_large_is_quarantined_before_parsing():
    raw = crlf("From: a@example.com\n\n" + "x" * 2000)
    result = parse_inbound(raw, received_at=RECEIVED_AT, max_bytes=1000)
    assert isinstance(result, Quarantined) and result.reason is QuarantineReason.TOO_LARGE


def test_sender_falls_back_to_reply_to():
    email = parsed(crlf("From: undisclosed\nReply-To: Real <real@example.com>\n\nhi"))
    assert email.from_.address == "real@example.com"
    assert "sender taken from reply-to" in email.defects


def test_twenty_megabyte_attachment_kept_intact():
    blob = hashlib.sha256(b"seed").digest() * (20 * 1024 * 1024 // 32)
    encoded = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    head = crlf(
        "From: big@example.com\nSubject: big\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
        "See attached.\n--B\nContent-Type: application/octet-stream\n"
        'Content-Disposition: attachment; filename="disk.img"\n'
        "Content-Transfer-Encoding: base64\n\n"
    )
    email = parsed(head + encoded + b"--B--\r\n")
    (attachment,) = email.attachments
    assert attachment.size == 20 * 1024 * 1024
    assert attachment.sha256 == hashlib.sha256(blob).hexdigest()
    assert email.text == "See attached."


@pytest.mark.parametrize(
    ("params", "body", "text"),
    [
        ("format=flowed", "One long \nline.\n> quoted \n> more\n", "One long line.\n> quoted more"),
        ("format=flowed; delsp=yes", "Zusammen \ngesetzt.\n", "Zusammengesetzt."),
        ("format=fixed", "One long \nline.\n", "One long \nline."),
    ],
)
def test_format_flowed_is_unwrapped(params, body, text):
    raw = crlf(f"From: a@example.com\nContent-Type: text/plain; charset=utf-8; {params}\n\n{body}")
    assert parsed(raw).text == text
