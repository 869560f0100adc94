"""detect_auto_reply and is_mail_loop."""

from __future__ import annotations

import pytest

from sopdesk.channels.email_in import (
    LOOP_HEADER,
    AutoReplyKind,
    detect_auto_reply,
    is_mail_loop,
    looks_out_of_office,
)

from .mail import crlf, fixture, parsed

OURS = ["Support@Shop.example"]
OUR_DOMAIN = "shop.example"


def email(headers: str = "", *, sender: str = "jane@example.com", subject: str = "Hello"):
    head = f"From: {sender}\nTo: support@shop.example\nSubject: {subject}\n{headers}"
    return parsed(crlf(head.rstrip("\n") + "\n\nbody\n"))


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("Auto-Submitted: auto-replied", AutoReplyKind.AUTO_REPLY),
        ("Auto-Submitted: auto-generated", AutoReplyKind.AUTO_GENERATED),
        ("Auto-Submitted: auto-notified; owner-email=x@y", AutoReplyKind.AUTO_GENERATED),
        ("Auto-Submitted: no", None),
        ("X-Autoreply: yes", AutoReplyKind.AUTO_REPLY),
        ("X-Autorespond: vacation", AutoReplyKind.AUTO_REPLY),
        ("Precedence: auto_reply", AutoReplyKind.AUTO_REPLY),
        ("Precedence: bulk", AutoReplyKind.BULK),
        ("Precedence: junk", AutoReplyKind.BULK),
        ("Precedence: list", AutoReplyKind.MAILING_LIST),
        ("X-Auto-Response-Suppress: All", AutoReplyKind.AUTO_GENERATED),
        ("X-Auto-Response-Suppress: DR, OOF, AutoReply", AutoReplyKind.AUTO_GENERATED),
        ("X-MS-Exchange-Generated-Message-Source: OOF Assistant", AutoReplyKind.AUTO_GENERATED),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", None),
        ("List-Id: <support.lists.example>", AutoReplyKind.MAILING_LIST),
        ("List-Unsubscribe: <https://x.example/u>", AutoReplyKind.MAILING_LIST),
        ("X-Failed-Recipients: a@b.example", AutoReplyKind.BOUNCE),
        ("", None),
    ],
)
def test_header_signals(headers, kind):
    assert detect_auto_reply(email(headers)) is kind


@pytest.mark.parametrize(
    ("sender", "kind"),
    [
        ("MAILER-DAEMON@mx.example", AutoReplyKind.BOUNCE),
        ("postmaster@example.com", AutoReplyKind.BOUNCE),
        ("noreply@shop.example", AutoReplyKind.AUTO_GENERATED),
        ("no-reply+abc@shop.example", AutoReplyKind.AUTO_GENERATED),
        ("do_not_reply@bank.example", AutoReplyKind.AUTO_GENERATED),
        ("orders-noreply@shop.example", AutoReplyKind.AUTO_GENERATED),
        ("notifications@github.example", AutoReplyKind.AUTO_GENERATED),
        ("noreen@example.com", None),
        ("replyhere@example.com", None),
    ],
)
def test_sender_signals(sender, kind):
    assert detect_auto_reply(email(sender=sender)) is kind


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Your order",
        "Out of Office: Re: refund",
        "Out of office until Monday",
        "Abwesenheitsnotiz",
        "Automatische Antwort: Ihre Anfrage",
        "Réponse automatique : votre commande",
        "Absence du bureau",
        "Respuesta automática: pedido",
        "Fuera de la oficina",
        "Automatisch antwoord: bestelling",
        "Afwezig tot 20 februari",
        "Risposta automatica: ordine",
        "Autosvar: order",
        "[EXTERNAL] Out of Office",
    ],
)
def test_out_of_office_subjects(subject):
    assert looks_out_of_office(subject)
    assert detect_auto_reply(email(subject=subject)) is AutoReplyKind.OUT_OF_OFFICE


@pytest.mark.parametrize(
    "subject",
    [
        "Out of office hours support request",
        "Vacation rental refund",
        "Re: my absence claim was ignored",
        "Question about automatic replies in your app",
    ],
)
def test_human_subjects_are_not_out_of_office(subject):
    assert not looks_out_of_office(subject)
    assert detect_auto_reply(email(subject=subject)) is None


def test_auto_submitted_no_overrides_subject_heuristic():
    assert detect_auto_reply(email("Auto-Submitted: no", subject="Out of office")) is None


def test_bounce_by_subject_needs_an_automation_header():
    assert detect_auto_reply(email(subject="Undeliverable: order")) is None
    bounced = email("Auto-Submitted: auto-replied", subject="Undeliverable: order")
    assert detect_auto_reply(bounced) is AutoReplyKind.BOUNCE


def test_read_receipt_is_auto_generated():
    raw = crlf(
        "From: jane@example.com\nSubject: Read: order\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"\n\n'
        "--r\nContent-Type: text/plain\n\nYour message was read.\n--r\n"
        "Content-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822; jane@example.com\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\n"
        "\n--r--\n"
    )
    assert detect_auto_reply(parsed(raw)) is AutoReplyKind.AUTO_GENERATED


def test_fixture_kinds():
    assert detect_auto_reply(fixture("german_autoreply.eml")) is AutoReplyKind.OUT_OF_OFFICE
    assert detect_auto_reply(fixture("bounce_dsn.eml")) is AutoReplyKind.BOUNCE
    assert detect_auto_reply(fixture("outlook_reply.eml")) is None


class TestMailLoop:
    def test_from_our_own_address(self):
        assert is_mail_loop(email(sender="support@shop.example"), OURS, OUR_DOMAIN)

    def test_our_loop_header(self):
        assert is_mail_loop(email(f"{LOOP_HEADER}: 1"), OURS, OUR_DOMAIN)

    def test_our_own_message_id_came_back(self):
        assert is_mail_loop(email("Message-ID: <out-1@Shop.Example>"), OURS, OUR_DOMAIN)

    def test_autoresponder_answering_only_our_mail(self):
        msg = email("Auto-Submitted: auto-replied\nIn-Reply-To: <out-1@shop.example>")
        assert is_mail_loop(msg, OURS, OUR_DOMAIN)

    def test_person_answering_our_mail_is_not_a_loop(self):
        msg = email("In-Reply-To: <out-1@shop.example>\nReferences: <out-1@shop.example>")
        assert not is_mail_loop(msg, OURS, OUR_DOMAIN)

    def test_autoresponder_in_a_thread_with_foreign_ids_is_not_a_loop(self):
        msg = email(
            "Auto-Submitted: auto-replied\nReferences: <cust-1@example.com> <out-1@shop.example>"
        )
        assert not is_mail_loop(msg, OURS, OUR_DOMAIN)

    def test_autoresponder_without_references_is_not_a_loop(self):
        assert not is_mail_loop(email("Auto-Submitted: auto-replied"), OURS, OUR_DOMAIN)

    def test_german_out_of_office_fixture(self):
        assert is_mail_loop(fixture("german_autoreply.eml"), OURS, OUR_DOMAIN)
        assert not is_mail_loop(fixture("german_autoreply.eml"), OURS, "other.example")

    def test_generated_message_id_never_counts_as_ours(self):
        from sopdesk.channels.email_in.model import GENERATED_ID_DOMAIN

        assert not is_mail_loop(email(), OURS, GENERATED_ID_DOMAIN)
