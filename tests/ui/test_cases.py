"""The case page: the thread, replies from templates, notes, steps and resolve."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from sopdesk.actions.case_reads import case_timeline
from sopdesk.actions.cases import CaseRequest, do_open_case, do_open_request
from sopdesk.actions.delivery import record_delivery_failure, record_sent
from sopdesk.actions.sequences import do_create_customer, do_purchase
from sopdesk.actions.sop_files import do_load_library
from sopdesk.store.tables import CaseEventRow, CaseRow, MessageRow, OutboxRow
from tests.ui.conftest import ClientFor, World


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def _textarea(html: str, field_id: str) -> str:
    match = re.search(rf'<textarea id="{field_id}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, field_id
    return html_lib.unescape(match.group(1))


def test_case_page_shows_thread_checklist_and_customer(world: World, client_for: ClientFor) -> None:
    page = client_for("agent").get(f"/cases/{world.case_ref}")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Refund for order 1042" in text and "Please refund my order." in text
    assert "Acknowledge the request" in text and "Refund the customer" in text
    assert "Dana Scully" in text and "None: this is their first case." in text
    assert 'data-shortcuts="case"' in page.text and "/static/sopdesk.js" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_reply_with_the_template_sends_the_template(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    page = agent.get(f"/cases/{world.case_ref}?template=ack").text
    filled = _textarea(page, "reply-text")
    assert "Dear Dana, we are on it." in filled  # filled in for this customer
    data = {
        "text": filled.replace("\n", "\r\n"),  # as a browser posts it
        "template_id": _hidden(page, "template_id"),
        "template_digest": _hidden(page, "template_digest"),
    }
    answer = agent.post_form(f"/cases/{world.case_ref}/reply", data)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("?done=replied")
    events = world.session.scalars(
        select(CaseEventRow).where(CaseEventRow.kind == "message.queued")
    )
    replies = [e for e in events if e.actor == "Agent"]
    assert [e.data["template"] for e in replies] == ["ack"]
    after = agent.get(answer.headers["location"]).text
    assert "Your reply is queued" in after


def test_an_edited_template_is_sent_as_written(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    page = agent.get(f"/cases/{world.case_ref}?template=ack").text
    data = {
        "text": "Dear Dana, the refund is on its way.",
        "template_id": "ack",
        "template_digest": _hidden(page, "template_digest"),
        "status": "pending",
    }
    assert agent.post_form(f"/cases/{world.case_ref}/reply", data).status_code == 303
    world.session.expire_all()
    sent = world.session.scalars(
        select(MessageRow).where(MessageRow.kind == "outbound", MessageRow.author == "Agent")
    ).one()
    assert sent.text == "Dear Dana, the refund is on its way."
    assert world.case(world.case_ref).status == "pending"


def test_an_empty_reply_is_refused_on_the_page(world: World, client_for: ClientFor) -> None:
    answer = client_for("agent").post_form(f"/cases/{world.case_ref}/reply", {"text": "  "})
    assert answer.status_code == 422
    assert "a reply needs some text or a template" in answer.text


def test_preview_is_rendered_and_sanitised(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    body = {"text": "Hello <b>Dana</b>\n\n<script>alert(1)</script>"}
    fragment = agent.post_form(
        f"/cases/{world.case_ref}/preview", body, headers={"HX-Request": "true"}
    )
    html = fragment.text
    assert html.startswith('<div id="reply-preview"') and "<html" not in html
    assert "&lt;b&gt;Dana&lt;/b&gt;" in html and "<script>" not in html
    full = agent.post_form(f"/cases/{world.case_ref}/preview", body).text
    assert "what the customer will read" in full and "<h1>Refund for order 1042</h1>" in full


def test_note_is_internal(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    answer = agent.post_form(f"/cases/{world.case_ref}/note", {"text": "Called the warehouse."})
    assert answer.status_code == 303
    page = agent.get(f"/cases/{world.case_ref}").text
    assert "Internal note · Agent" in _text(page) and "Called the warehouse." in page
    notes = [m for m in case_timeline(world.session, world.case_ref).messages if m.kind == "note"]
    assert len(notes) == 1


@pytest.mark.parametrize(
    ("verb", "status"), [("complete", "done"), ("skip", "skipped"), ("override", "overridden")]
)
def test_step_actions(verb: str, status: str, world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    url = f"/cases/{world.case_ref}/steps/refund/{verb}"
    answer = agent.post_form(url, {"reason": "customer withdrew the request"})
    assert answer.status_code == 303, answer.text
    steps = {s.step_id: s for s in case_timeline(world.session, world.case_ref).steps}
    assert steps["refund"].status == status
    if verb != "complete":
        assert steps["refund"].reason == "customer withdrew the request"
        assert "customer withdrew the request" in agent.get(f"/cases/{world.case_ref}").text


def test_skip_needs_a_reason(world: World, client_for: ClientFor) -> None:
    answer = client_for("agent").post_form(f"/cases/{world.case_ref}/steps/refund/skip", {})
    assert answer.status_code == 422
    assert "say why you skip this step" in answer.text


def test_resolve_blocked_by_a_critical_step_is_a_message(
    world: World, client_for: ClientFor
) -> None:
    agent = client_for("agent")
    refused = agent.post_form(f"/cases/{world.critical_ref}/resolve")
    assert refused.status_code == 409
    page = refused.text
    assert 'id="case-error"' in page and "verify" in _text(page).lower()
    assert "<h1>What is my balance?</h1>" in page  # the case page, not an error page
    assert world.case(world.critical_ref).status != "resolved"
    override = agent.post_form(
        f"/cases/{world.critical_ref}/steps/verify/override", {"reason": "no"}
    )
    assert override.status_code == 409  # critical: no override
    for step in ("verify", "answer"):
        done = agent.post_form(f"/cases/{world.critical_ref}/steps/{step}/complete")
        assert done.status_code == 303
    resolved = agent.post_form(f"/cases/{world.critical_ref}/resolve")
    assert resolved.status_code == 303
    assert world.case(world.critical_ref).status == "resolved"
    assert "The case is resolved." in agent.get(resolved.headers["location"]).text


def test_status_and_assignment(world: World, client_for: ClientFor) -> None:
    agent = client_for("agent")
    assert (
        agent.post_form(f"/cases/{world.case_ref}/status", {"status": "on_hold"}).status_code == 303
    )
    assert world.case(world.case_ref).status == "on_hold"
    assert agent.post_form(f"/cases/{world.case_ref}/assign", {"assignee": "me"}).status_code == 303
    assert world.case(world.case_ref).assignee == "agent@example.com"
    history = _text(agent.get(f"/cases/{world.case_ref}").text)
    assert "assigned nobody → agent@example.com" in history
    bad = agent.post_form(f"/cases/{world.case_ref}/status", {"status": "sleeping"})
    assert bad.status_code == 422


def test_repeat_customer_badge(world: World, client_for: ClientFor) -> None:
    again = do_open_case(
        world.session,
        customer_email="dana@example.com",
        subject="Another question",
        sop_id="refunds",
    )
    page = client_for("agent").get(f"/cases/{again.reference}").text
    assert "Repeat customer" in page and f'href="/cases/{world.case_ref}"' in page


def test_unknown_case_is_a_404_page(world: World, client_for: ClientFor) -> None:
    answer = client_for("agent").get("/cases/SD-999")
    assert answer.status_code == 404 and "no case" in answer.text


def test_case_page_and_reply_on_both_backends(any_world: World, any_client_for: ClientFor) -> None:
    agent = any_client_for("agent")
    ref = any_world.case_ref
    assert agent.get(f"/cases/{ref}").status_code == 200
    answer = agent.post_form(f"/cases/{ref}/reply", {"text": "We are on it."})
    assert answer.status_code == 303
    assert "We are on it." in agent.get(f"/cases/{ref}").text


def test_a_case_a_purchase_opened_shows_why_and_its_checklist(
    world: World, client_for: ClientFor
) -> None:
    """Loyalty recognition has no customer message: its case page still tells the agent
    what to do and why the case exists."""
    session, settings = world.session, world.settings
    do_load_library(session)
    customer = do_create_customer(
        session, email="lou@example.com", name="Lou Park", settings=settings
    )
    for number in (1, 2, 3):
        do_purchase(session, customer.id, purchase_id=f"o-{number}", settings=settings)
    reference = session.scalar(
        select(CaseRow.reference).where(CaseRow.sop_id == "loyalty-recognition")
    )
    page = client_for("agent").get(f"/cases/{reference}")
    assert page.status_code == 200
    text = html_lib.unescape(_text(page.text))
    assert "Recognising repeat customers: Lou Park" in text
    assert "Opened by sopdesk: started by purchase o-3 (number 3)" in text
    assert "Check the customer's history and choose the recognition" in text
    assert "Send the personal thank-you with the reward" in text


def test_a_duplicate_case_is_merged_on_the_page(world: World, client_for: ClientFor) -> None:
    again = do_open_case(
        world.session,
        customer_email="dana@example.com",
        subject="Refund again",
        body="Did you get my first message about order 1042?",
        sop_id="refunds",
    )
    agent = client_for("agent")
    page = agent.get(f"/cases/{world.case_ref}").text
    assert 'action="/cases/' + world.case_ref + '/merge"' in page
    assert f'<option value="{again.reference}">Refund again</option>' in page  # suggested
    unticked = agent.post_form(f"/cases/{world.case_ref}/merge", {"other": again.reference})
    assert unticked.status_code == 422 and "tick the box to confirm" in unticked.text
    assert f'value="{again.reference}"' in unticked.text  # kept to fix
    theirs = agent.post_form(
        f"/cases/{world.case_ref}/merge", {"other": world.critical_ref, "confirm": "yes"}
    )
    assert theirs.status_code == 409
    assert (
        "different customers&#39; cases: if they are one person, merge the customers first"
        in theirs.text
    )
    nothing = agent.post_form(
        f"/cases/{world.case_ref}/merge", {"other": "SD-999", "confirm": "yes"}
    )
    assert nothing.status_code == 422 and "there is no case" in nothing.text
    merged = agent.post_form(
        f"/cases/{world.case_ref}/merge", {"other": again.reference.lower(), "confirm": "yes"}
    )
    assert merged.headers["location"] == f"/cases/{world.case_ref}?done=merged"
    kept = agent.get(merged.headers["location"]).text
    assert "The other case is merged into this one" in kept
    assert "Did you get my first message about order 1042?" in kept
    assert (
        f"{again.reference} (Refund again) was merged into this case by agent@example.com" in kept
    )
    gone = agent.get(f"/cases/{again.reference}").text
    assert (
        f'This case was merged into <a href="/cases/{world.case_ref}">{world.case_ref}</a>' in gone
    )
    for form in ("/reply", "/note", "/status", "/merge", "/resolve"):  # no work here any more
        assert f'action="/cases/{again.reference}{form}"' not in gone, form
    refused = agent.post_form(f"/cases/{again.reference}/note", {"text": "hello"})
    assert refused.status_code == 409
    assert f"{again.reference} was merged into {world.case_ref}" in refused.text


def test_the_thread_says_which_e_mails_went_out_and_which_did_not(
    world: World, client_for: ClientFor
) -> None:
    agent, ref = client_for("agent"), world.case_ref
    for text in ("First answer.", "Second answer.", "Third answer.", "Fourth answer."):
        assert agent.post_form(f"/cases/{ref}/reply", {"text": text}).status_code == 303
    page = agent.get(f"/cases/{ref}").text
    assert page.count('data-delivery="queued"') == 4 and "case-undelivered" not in page

    session, now = world.session, world.now
    session.expire_all()
    sent, bounced, retrying, cancelled = session.scalars(
        select(MessageRow).where(MessageRow.kind == "outbound").order_by(MessageRow.id)
    ).all()
    record_sent(session, sent.id, now)
    error = "bounced: dana@example.com: 5.1.1 550 <b>no such user</b>"
    assert record_delivery_failure(session, bounced.id, error, now, via="bounce")
    rows = {row.payload["message_row_id"]: row for row in session.scalars(select(OutboxRow))}
    rows[retrying.id].status, rows[retrying.id].last_error = "failed", "451 4.7.1 greylisted"
    rows[retrying.id].next_attempt_at = now + timedelta(hours=1)
    rows[cancelled.id].status = "cancelled"
    rows[cancelled.id].last_error = "cancelled: the customer unsubscribed"
    session.commit()

    page = agent.get(f"/cases/{ref}").text
    badges = re.findall(r'data-delivery="([^"]*)"', page)
    assert badges[0] == "sent" and badges[1] == "not delivered"
    assert badges[2].startswith("not sent yet, retry in ") and badges[3] == "not sent"
    text = _text(page)
    assert "451 4.7.1 greylisted" in text and "cancelled: the customer unsubscribed" in text
    notice = re.search(r'id="case-undelivered">(.*?)</div>', page, re.S)
    assert notice is not None
    assert "An e-mail on this case was not delivered to dana@example.com" in _text(notice[1])
    assert "&lt;b&gt;no such user&lt;/b&gt;" in notice[1]  # the far end's words, escaped
    assert "<b>no such user</b>" not in page


def test_a_case_in_triage_is_given_an_sop_on_its_page(world: World, client_for: ClientFor) -> None:
    # every SOP of this world applies to every case: make one as triage leaves it
    request = CaseRequest(
        customer_email="walter@example.com",
        customer_name="Walter Skinner",
        subject="Call me back",
        body="Ring me when you can.",
        start_sop=False,
    )
    case = do_open_request(world.session, request, now=world.now)
    case.route = {
        "source": "triage",
        "explain": "No SOP applies: the case waits in the triage queue.",
        "candidates": [["refunds", 0.62]],
    }
    world.session.commit()
    ref = str(case.reference)
    assert case.sop_id is None
    agent = client_for("agent")
    page = agent.get(f"/cases/{ref}").text
    assert "This case is in triage" in page and 'id="triage-form"' in page
    offered = re.findall(r'<option value="([^"]+)">([^<]*)<', page.split('id="triage-sop"')[1])
    assert offered[0] == ("refunds", "Handling refunds (suggested, 62%)")
    assert ("critical-check", "Identity check") in offered
    no_run = agent.post_form(f"/cases/{ref}/steps/verify/complete")
    assert no_run.status_code == 409  # the refusal says what to do: its hint
    assert "has no SOP run: choose the SOP it should run: Run this SOP" in no_run.text
    refused = agent.post_form(f"/cases/{ref}/sop", {"sop": "no-such-sop"})
    assert refused.status_code == 422
    assert "there is no SOP &#39;no-such-sop&#39;" in refused.text
    started = agent.post_form(f"/cases/{ref}/sop", {"sop": "refunds"})
    assert started.status_code == 303
    assert started.headers["location"].endswith("?done=triaged")
    page = agent.get(started.headers["location"]).text
    assert "The SOP has started on this case" in page and 'id="triage-form"' not in page
    assert "chosen by agent@example.com from the triage queue" in page
    world.session.expire_all()
    assert world.case(ref).sop_id == "refunds"
    again = agent.post_form(f"/cases/{ref}/sop", {"sop": "refunds"})
    assert again.status_code == 409 and "already runs refunds" in again.text
