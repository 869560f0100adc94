"""Reading bounces: which recipients failed, how, and which of our messages came back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.channels.email_in import FailedRecipient, failed_recipients, returned_message_ids
from tests.channels.mail import crlf, fixture, parsed


def report(*blocks: str, returned: str = "") -> bytes:
    """A multipart/report DSN with one delivery-status part made of `blocks`."""
    status = "\n\n".join(("Reporting-MTA: dns; mx.example.net", *blocks))
    returned_part = f"--b\nContent-Type: text/rfc822-headers\n\n{returned}\n" if returned else ""
    return crlf(
        "From: MAILER-DAEMON@mx.example.net\nTo: support@shop.example\n"
        "Subject: Delivery Status Notification\nMessage-ID: <dsn@mx.example.net>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;"
        ' boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nSee below.\n"
        f"--b\nContent-Type: message/delivery-status\n\n{status}\n\n"
        f"{returned_part}--b--\n"
    )


def test_a_postfix_bounce_names_the_recipient_its_status_and_the_returned_message() -> None:
    bounce = fixture("bounce_dsn.eml")
    [failure] = failed_recipients(bounce)
    assert failure == FailedRecipient(
        "nobody@example.invalid", "failed", "5.1.2", "Host or domain name not found."
    )
    assert failure.permanent
    assert failure.describe() == "5.1.2 Host or domain name not found."
    assert returned_message_ids(bounce) == ["out-5005-1@shop.example"]


def test_each_recipient_block_is_read_and_delivered_ones_are_left_out() -> None:
    raw = report(
        "Final-Recipient: rfc822; Ann@Customer.Example\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <ann@customer.example>:\n"
        " Recipient address rejected: User unknown",
        "Final-Recipient: rfc822;bob@customer.example\nAction: delivered\nStatus: 2.0.0",
        "Original-Recipient: rfc822;cy@customer.example\nAction: delayed\nStatus: 4.4.7",
        returned="Message-ID: <sd.abc@shop.example>\nSubject: Re: your return",
    )
    ann, cy = failed_recipients(parsed(raw))
    assert ann.address == "ann@customer.example"  # lower-cased, as customers' addresses are
    assert ann.diagnostic == (
        "550 5.1.1 <ann@customer.example>: Recipient address rejected: User unknown"
    )
    assert ann.permanent
    assert (cy.address, cy.action, cy.status, cy.permanent) == (
        "cy@customer.example",
        "delayed",
        "4.4.7",
        False,
    )
    assert cy.describe() == "4.4.7"
    assert returned_message_ids(parsed(raw)) == ["sd.abc@shop.example"]


def test_a_failure_with_a_temporary_status_is_not_permanent() -> None:
    raw = report("Final-Recipient: rfc822; ann@customer.example\nAction: failed\nStatus: 4.2.2")
    [failure] = failed_recipients(parsed(raw))
    assert not failure.permanent  # mailbox full: the sender may try again later


def test_a_failure_without_a_status_is_permanent() -> None:
    raw = report("Final-Recipient: rfc822; ann@customer.example\nAction: failed")
    [failure] = failed_recipients(parsed(raw))
    assert failure.permanent and failure.describe() == "undeliverable"


def test_exim_names_the_failed_recipients_in_a_header() -> None:
    raw = crlf(
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nTo: support@shop.example\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: ann@customer.example, not an address\n"
        "Message-ID: <exim@mx.example.net>\n\nThis message was created automatically.\n"
    )
    assert failed_recipients(parsed(raw)) == (FailedRecipient("ann@customer.example", "failed"),)


def test_recipients_that_are_not_addresses_and_broken_blocks_report_nothing() -> None:
    raw = report(
        "Final-Recipient: x400; /C=US/ADMD=/PRMD=shop/\nAction: failed\nStatus: 5.0.0",
        "Final-Recipient: rfc822; \nAction: failed",
        "this is not a header block at all",
    )
    assert failed_recipients(parsed(raw)) == ()


def test_mail_that_is_no_bounce_reports_nothing() -> None:
    plain = parsed(crlf("From: ann@customer.example\nSubject: hi\n\nHello\n"))
    assert failed_recipients(plain) == ()
    assert returned_message_ids(plain) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_report_bytes_give_recipients_or_nothing_never_an_error(body: bytes) -> None:
    text = body.decode("latin-1").replace("\r", "")
    failures = failed_recipients(parsed(report(text)))
    assert all("@" in f.address and f.action in ("failed", "delayed") for f in failures)
