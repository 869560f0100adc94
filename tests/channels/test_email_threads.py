"""Case tokens, thread keys and thread matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopdesk.channels.email_in import (
    AutoReplyKind,
    ThreadKeys,
    case_reference,
    find_case_token,
    format_case_token,
    match_thread,
    resolve_thread,
    thread_keys,
)

from .mail import crlf, fixture, parsed


@pytest.mark.parametrize(
    ("reference", "token"),
    [(1234, "[SD-1234]"), ("1234", "[SD-1234]"), ("SD-1234", "[SD-1234]"), (" sd-007 ", "[SD-7]")],
)
def test_format_case_token(reference, token):
    assert format_case_token(reference) == token


@pytest.mark.parametrize("bad", [-1, "SD-", "XY-12", "", "12a", True, 1.5])
def test_format_case_token_rejects_non_references(bad):
    with pytest.raises(ValueError):
        format_case_token(bad)


@pytest.mark.parametrize(
    ("subject", "reference"),
    [
        ("Re: [SD-1234] Return", "SD-1234"),
        ("AW: Rücksendung [#SD-1234]", "SD-1234"),
        ("RE: [Case SD-1234] refund", "SD-1234"),
        ("Re: [case #SD-0042]", "SD-42"),
        ("Fwd: (Ticket #SD 77) lamp", "SD-77"),
        ("[sd-5] lower case", "SD-5"),
        ("Re: [SD-1] and [SD-2]", "SD-1"),
        ("SD-1234 without brackets", None),
        ("[XSD-12]", None),
        ("[SD-]", None),
        ("", None),
        ("[" + " " * 10000 + "x", None),
    ],
)
def test_find_case_token(subject, reference):
    assert find_case_token(subject) == reference


@given(st.integers(min_value=0, max_value=10**18 - 1), st.text(max_size=40), st.text(max_size=40))
def test_token_round_trip_in_any_subject(number, before, after):
    prefix = before.replace("[", "").replace("(", "")
    subject = f"{prefix} {format_case_token(number)} {after}"
    assert find_case_token(subject) == case_reference(number)


def test_thread_keys_order_and_self_exclusion():
    email = parsed(
        crlf(
            "From: a@example.com\nSubject: Re: [SD-9] x\nMessage-ID: <self@example.com>\n"
            "In-Reply-To: <parent@shop.example>\n"
            "References: <root@example.com> <mid@shop.example> <parent@shop.example> "
            "<self@example.com>\n\nbody\n"
        )
    )
    keys = thread_keys(email)
    assert keys.message_ids == ("parent@shop.example", "mid@shop.example", "root@example.com")
    assert keys.case_token == "SD-9"
    assert keys.auto_reply is None


KNOWN = {"out-1@shop.example": "case-1", "cust-2@example.com": "case-2"}
TOKENS = {"SD-1": "case-1", "SD-3": "case-3"}


@pytest.mark.parametrize(
    ("ids", "token", "expected", "via"),
    [
        (("out-1@shop.example",), None, "case-1", "message_id"),
        (("unknown@x", "cust-2@example.com"), "SD-3", "case-2", "message_id"),
        (("unknown@x",), "SD-3", "case-3", "case_token"),
        ((), "SD-1", "case-1", "case_token"),
        (("unknown@x",), "SD-99", None, None),
        ((), None, None, None),
    ],
)
def test_match_thread(ids, token, expected, via):
    keys = ThreadKeys(message_ids=ids, case_token=token)
    assert match_thread(keys, KNOWN, TOKENS) == expected
    found = resolve_thread(keys, KNOWN, TOKENS)
    assert (found.via if found else None) == via


def test_message_id_beats_a_conflicting_token():
    keys = ThreadKeys(message_ids=("out-1@shop.example",), case_token="SD-3")
    assert match_thread(keys, KNOWN, TOKENS) == "case-1"


def test_auto_reply_with_token_still_threads():
    email = fixture("german_autoreply.eml")
    keys = thread_keys(email)
    assert keys.auto_reply is AutoReplyKind.OUT_OF_OFFICE
    assert match_thread(keys, {}, {"SD-3003": 3003}) == 3003
    assert match_thread(keys, {"out-3003-1@shop.example": 1}, {"SD-3003": 3003}) == 1


def test_forwarded_mail_without_in_reply_to_threads_by_token():
    email = parsed(crlf("From: a@example.com\nSubject: Fwd: [SD-12] label\n\nsee below\n"))
    assert match_thread(thread_keys(email), {}, {"SD-12": "case-12"}) == "case-12"


def test_a_token_quoted_in_the_text_threads_when_the_subject_lost_it():
    outlook_reply = crlf(
        "From: a@example.com\nSubject: new label please\n\nThe label did not print.\n\n"
        "From: Shop Support <support@shop.example>\nSent: Monday, 2 March 2026 10:00\n"
        "Subject: RE: Your return [SD-1042]\n\n> Dear Ann,\n"
    )
    assert thread_keys(parsed(outlook_reply)).case_token == "SD-1042"
    both = crlf("From: a@example.com\nSubject: Re: [SD-7] x\n\nsee (case SD-8) too\n")
    assert thread_keys(parsed(both)).case_token == "SD-7"  # the subject's wins
    plain = crlf("From: a@example.com\nSubject: hello\n\norder 1042, SD-1042 without brackets\n")
    assert thread_keys(parsed(plain)).case_token is None
