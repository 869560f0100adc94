"""compose(): headers, threading, idempotent Message-ID, injection, encodings, parts."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopdesk.channels.email_in import (
    detect_auto_reply,
    find_case_token,
    is_mail_loop,
    parse_inbound,
    thread_keys,
)
from sopdesk.channels.email_in.model import AutoReplyKind, ParsedEmail
from sopdesk.channels.email_out import (
    IDEMPOTENCY_HEADER,
    HeaderInjectionError,
    InvalidAddressError,
    InvalidMessageError,
    Mailbox,
    OutgoingAttachment,
    OutgoingEmail,
    compose,
    message_id_for,
    reply_subject,
    text_to_html,
)
from sopdesk.channels.email_out.headers import MAX_REFERENCES, references_chain

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SECRET = "test-secret"
CUSTOMER_ID = "CAF=abc123@mail.gmail.com"

BASE = OutgoingEmail(
    idempotency_key="outbox:42",
    sender=Mailbox("support@shop.example", "Acme Support"),
    to=(Mailbox("ann@customer.example", "Ann Lee"),),
    subject="Re: Where is my order?",
    text="Hello Ann,\n\nWe have your request.\n",
    in_reply_to=f"<{CUSTOMER_ID}>",
    references=("<root@mail.gmail.com>",),
    case_reference="SD-1042",
    automatic=True,
)


def build(**changes: object) -> EmailMessage:
    return compose(replace(BASE, **changes), now=NOW, secret=SECRET)


def reparse(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def inbound(message: EmailMessage) -> ParsedEmail:
    parsed = parse_inbound(message.as_bytes(), received_at=NOW)
    assert isinstance(parsed, ParsedEmail)
    return parsed


# --- threading ---------------------------------------------------------------------------


def test_in_reply_to_and_references_carry_the_customer_message_id() -> None:
    message = reparse(build())
    assert message["In-Reply-To"] == f"<{CUSTOMER_ID}>"
    assert message["References"] == f"<root@mail.gmail.com> <{CUSTOMER_ID}>"


def test_references_are_deduplicated_ordered_and_parent_last() -> None:
    refs = ("<a@x.example>", "b@x.example", "<a@x.example>", f"<{CUSTOMER_ID}>", "<c@x.example>")
    message = reparse(build(references=refs))
    assert message["References"].split() == [
        "<a@x.example>",
        "<b@x.example>",
        "<c@x.example>",
        f"<{CUSTOMER_ID}>",
    ]


def test_references_are_bounded_keeping_the_root_and_the_newest() -> None:
    refs = tuple(f"<m{i}@x.example>" for i in range(100))
    chain = references_chain(refs, "<parent@x.example>", own="us@shop.example")
    assert len(chain) == MAX_REFERENCES
    assert chain[0] == "m0@x.example"
    assert chain[-1] == "parent@x.example"
    assert chain[-2] == "m99@x.example"


def test_a_new_conversation_has_no_threading_headers() -> None:
    message = reparse(build(in_reply_to=None, references=()))
    assert message["In-Reply-To"] is None
    assert message["References"] is None


def test_our_message_threads_back_through_the_inbound_parser() -> None:
    """What we send, the inbound side reads: ids, case token, our loop guard."""
    message = build()
    parsed = inbound(message)
    assert parsed.message_id == message_id_for("outbox:42", "shop.example", SECRET)
    keys = thread_keys(parsed)
    assert keys.message_ids[0] == CUSTOMER_ID
    assert keys.case_token == "SD-1042"
    assert is_mail_loop(parsed, ["someone-else@other.example"], "other.example")
    assert detect_auto_reply(parsed) is AutoReplyKind.AUTO_REPLY


# --- Message-ID and idempotency ----------------------------------------------------------


def test_message_id_is_deterministic_from_the_idempotency_key() -> None:
    first = build()
    resend = compose(BASE, now=NOW + timedelta(hours=3), secret=SECRET)
    other = build(idempotency_key="outbox:43")
    assert first["Message-ID"] == resend["Message-ID"]
    assert first["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"] == f"<{message_id_for('outbox:42', 'shop.example', SECRET)}>"
    assert first[IDEMPOTENCY_HEADER] == "outbox:42"


def test_the_same_input_gives_the_same_bytes() -> None:
    with_attachment = (OutgoingAttachment("a.txt", b"data", "text/plain"),)
    assert build(attachments=with_attachment).as_bytes() == (
        build(attachments=with_attachment).as_bytes()
    )


def test_message_id_depends_on_the_secret_so_nobody_can_forge_ours() -> None:
    assert message_id_for("k", "shop.example", "one") != message_id_for("k", "shop.example", "two")


def test_message_id_domain_override_and_idna() -> None:
    message = build(message_id_domain="mail.bücher.example")
    assert message["Message-ID"].endswith("@mail.xn--bcher-kva.example>")
    assert message["X-Sopdesk-Loop"] == "mail.xn--bcher-kva.example"


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1))
def test_any_printable_key_gives_a_valid_message_id(key: str) -> None:
    message_id = message_id_for(key[:200], "shop.example", SECRET)
    local, _, domain = message_id.partition("@")
    assert domain == "shop.example"
    assert local.startswith("sd.")
    assert local[3:].isalnum()


def test_bad_idempotency_keys_are_refused() -> None:
    with pytest.raises(InvalidMessageError):
        build(idempotency_key="has space")
    with pytest.raises(HeaderInjectionError):
        build(idempotency_key="k\r\nBcc: x@evil.example")


# --- subject and case token --------------------------------------------------------------


def test_case_token_is_added_once() -> None:
    assert build()["Subject"] == "Re: Where is my order? [SD-1042]"
    again = build(subject="Re: Where is my order? [SD-1042]")
    assert again["Subject"] == "Re: Where is my order? [SD-1042]"
    assert build(case_reference=1042)["Subject"] == "Re: Where is my order? [SD-1042]"


def test_a_token_for_another_case_does_not_stop_ours() -> None:
    subject = build(subject="About [SD-7]", case_reference="SD-1042")["Subject"]
    assert subject == "About [SD-7] [SD-1042]"


def test_no_case_reference_no_token() -> None:
    assert build(case_reference=None)["Subject"] == "Re: Where is my order?"


def test_reply_subject_collapses_prefixes() -> None:
    assert reply_subject("Re: RE: AW: Where is my order?") == "Re: Where is my order?"
    assert reply_subject("Where is my order?") == "Re: Where is my order?"


def test_unicode_subject_is_encoded_and_round_trips() -> None:
    subject = "Rückerstattung für Bestellung – 退款 🙂"
    message = build(subject=subject)
    raw = message.as_bytes()
    assert raw.isascii()
    parsed = reparse(message)
    assert parsed["Subject"] == f"{subject} [SD-1042]"
    assert find_case_token(inbound(message).subject) == "SD-1042"


# --- addresses ---------------------------------------------------------------------------


def test_unicode_display_names_and_idna_domains() -> None:
    message = build(
        sender=Mailbox("support@bücher.example", "Zoë's Shop, Support"),
        to=(Mailbox("ann@ünï.example", "Ann Ünicode"),),
        reply_to=(Mailbox("replies@shop.example", "Replies"),),
    )
    assert message.as_bytes().isascii()
    parsed = reparse(message)
    sender = parsed["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "Zoë's Shop, Support",
        "support@xn--bcher-kva.example",
    )
    to = parsed["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("Ann Ünicode", "ann@xn--n-nga1b.example")
    assert parsed["Reply-To"].addresses[0].addr_spec == "replies@shop.example"


def test_cc_is_deduplicated_against_to() -> None:
    message = reparse(
        build(
            cc=(
                Mailbox("ANN@customer.example"),
                Mailbox("bob@customer.example"),
                Mailbox("bob@customer.example", "Bob"),
            )
        )
    )
    assert [a.addr_spec for a in message["Cc"].addresses] == ["bob@customer.example"]


@pytest.mark.parametrize(
    "address",
    [
        "no-at-sign",
        "@shop.example",
        "ann@",
        "ann@localhost",
        "ann smith@shop.example",
        '"quoted"@shop.example',
        "ann@shop..example",
        "ann@-bad.example",
        "zoë@shop.example",
        "ann@sh_op.example",
        "a,b@shop.example",
    ],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidAddressError):
        build(to=(Mailbox(address),))


def test_a_message_needs_a_recipient() -> None:
    with pytest.raises(InvalidMessageError):
        build(to=())


# --- header injection --------------------------------------------------------------------

INJECTIONS = ["x\r\nBcc: evil@attacker.example", "x\nBcc: evil@attacker.example", "x\rY", "x\x00"]


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize(
    "field",
    ["subject", "sender_name", "to_name", "to_address", "in_reply_to", "references", "cc"],
)
def test_line_breaks_in_any_header_field_are_refused(field: str, bad: str) -> None:
    changes: dict[str, object] = {
        "subject": {"subject": bad},
        "sender_name": {"sender": Mailbox("support@shop.example", bad)},
        "to_name": {"to": (Mailbox("ann@customer.example", bad),)},
        "to_address": {"to": (Mailbox(f"ann@customer.example{bad}"),)},
        "in_reply_to": {"in_reply_to": f"<id@x.example{bad}>"},
        "references": {"references": (f"<id@x.example{bad}>",)},
        "cc": {"cc": (Mailbox("cc@customer.example", bad),)},
    }[field]
    with pytest.raises(HeaderInjectionError):
        build(**changes)


def test_unicode_line_separators_are_refused_too() -> None:
    for bad in ("\u2028", "\u2029", "\x85", "\x0b"):
        with pytest.raises(HeaderInjectionError):
            build(subject=f"a{bad}b")


def test_attachment_filename_injection_is_refused() -> None:
    attachment = OutgoingAttachment("a.pdf\r\nX-Evil: 1", b"x", "application/pdf")
    with pytest.raises(HeaderInjectionError):
        build(attachments=(attachment,))


@given(st.text(max_size=80))
def test_no_subject_ever_adds_a_header(subject: str) -> None:
    try:
        message = build(subject=subject)
    except (HeaderInjectionError, InvalidMessageError):
        return
    parsed = reparse(message)
    names = [name.lower() for name in parsed]
    assert names.count("subject") == 1
    assert "bcc" not in names
    assert parsed["Subject"].endswith("[SD-1042]")


# --- automatic mail and other headers ----------------------------------------------------


def test_automatic_reply_headers() -> None:
    message = build()
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert message["X-Sopdesk-Loop"] == "shop.example"


def test_automatic_message_starting_a_thread_is_auto_generated() -> None:
    assert build(in_reply_to=None, references=())["Auto-Submitted"] == "auto-generated"


def test_a_person_reply_is_not_auto_submitted_but_keeps_the_loop_guard() -> None:
    message = build(automatic=False)
    assert message["Auto-Submitted"] is None
    assert message["X-Sopdesk-Loop"] == "shop.example"


def test_date_comes_from_now() -> None:
    local = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    message = compose(BASE, now=local, secret=SECRET)
    assert message["Date"] == "Wed, 01 Jul 2026 12:00:00 +0200"
    assert reparse(message)["Date"].datetime == local


def test_naive_now_is_refused() -> None:
    with pytest.raises(InvalidMessageError):
        compose(BASE, now=datetime(2026, 1, 1), secret=SECRET)


def test_unsubscribe_header() -> None:
    message = build(unsubscribe_url="https://help.shop.example/l/unsubscribe/abc")
    assert message["List-Unsubscribe"] == "<https://help.shop.example/l/unsubscribe/abc>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = build(unsubscribe_url="http://127.0.0.1:8000/l/unsubscribe/abc")
    assert plain["List-Unsubscribe-Post"] is None  # RFC 8058 one-click needs https
    for bad in ("javascript:alert(1)", "https://x.example/a>b", "https://x.example/ü"):
        with pytest.raises(InvalidMessageError):
            build(unsubscribe_url=bad)


# --- body parts --------------------------------------------------------------------------


def _parts(message: EmailMessage) -> tuple[str, str]:
    parsed = reparse(message)
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return (
        plain.get_content().replace("\r\n", "\n"),
        html.get_content().replace("\r\n", "\n"),
    )


def test_text_and_html_alternatives_with_escaping_and_links() -> None:
    text = 'Hi <b>Ann</b> & "co",\n\nTrack it: https://shop.example/t?a=1&b=2.\nBye\n'
    message = build(text=text)
    assert message.get_content_type() == "multipart/alternative"
    plain, html = _parts(message)
    assert plain == text
    assert '&lt;b&gt;Ann&lt;/b&gt; &amp; "co"' in html
    assert "<b>" not in html
    assert '<a href="https://shop.example/t?a=1&amp;b=2">' in html
    assert "</a>.<br>" in html  # the full stop stays outside the link


def test_javascript_urls_are_never_links() -> None:
    _, html = _parts(build(text="click javascript:alert(1) or <a href=x>"))
    assert "<a " not in html
    assert "&lt;a href=x&gt;" in html


def test_an_html_body_given_is_used_as_is() -> None:
    _, html = _parts(build(html="<p>Hello &amp; welcome</p>"))
    assert html.strip() == "<p>Hello &amp; welcome</p>"


def test_unicode_body_round_trips() -> None:
    text = "Grüße aus Köln – 退款 🙂\n" + "long line " * 200 + "\n"
    plain, html = _parts(build(text=text))
    assert plain == text
    assert "Grüße aus Köln – 退款 🙂" in html


def test_attachments_are_kept_with_their_names_and_types() -> None:
    pdf = OutgoingAttachment("résumé.pdf", b"%PDF-1.4\x00\xff binary", "application/pdf")
    note = OutgoingAttachment("note.txt", "plain ünïcode".encode(), "text/plain")
    message = reparse(build(attachments=(pdf, note)))
    assert message.get_content_type() == "multipart/mixed"
    found = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    }
    assert found == {
        "résumé.pdf": ("application/pdf", pdf.data),
        "note.txt": ("text/plain", note.data),
    }
    assert message.get_body(preferencelist=("plain",)) is not None
    assert [p.get("MIME-Version") for p in message.walk()][1:] == [None] * 5


@pytest.mark.parametrize("bad", ["../etc/passwd", "", "dir\\file.txt"])
def test_attachment_names_must_be_plain(bad: str) -> None:
    with pytest.raises(InvalidMessageError):
        build(attachments=(OutgoingAttachment(bad, b"x"),))


def test_attachment_type_must_be_a_mime_type() -> None:
    with pytest.raises(InvalidMessageError):
        build(attachments=(OutgoingAttachment("a.bin", b"x", "not a type"),))


_OUR_TAGS = re.compile(r'<a href="https?://[^"<>]*">|</a>|</?p>|<br>')


@given(st.text(max_size=200))
def test_generated_html_escapes_everything_and_keeps_the_words(text: str) -> None:
    document = text_to_html(text)
    body = document.split("<body", 1)[1].split(">", 1)[1].rsplit("</body>", 1)[0]
    visible = _OUR_TAGS.sub("", body)
    assert "<" not in visible
    assert ">" not in visible
    assert "".join(unescape(visible).split()) == "".join(text.replace("\r", "").split())
