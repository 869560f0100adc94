"""The public pages behind the signed links e-mailed to customers (/l/...), on SQLite
and PostgreSQL: the survey, the review click, the customer's case page with its reply
form, unsubscribe (form and RFC 8058 one-click), and the 404/410 pages for bad links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions import sops
from sopdesk.actions.base import utcnow
from sopdesk.actions.case_changes import do_complete_step, do_resolve
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.context import case_links
from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.replies import do_add_note, do_reply
from sopdesk.actions.surveys import parse_rating, read_answer
from sopdesk.actions.timers import do_fire_timers
from sopdesk.actions.unsubscribe import is_optional_message, is_optional_timer
from sopdesk.actions.webhooks import do_create_webhook
from sopdesk.errors import InvalidInput
from sopdesk.links import sign_link, verify_link
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerRow,
    MessageRow,
    OutboxRow,
    SurveyResponseRow,
    TimerRow,
)
from sopdesk.web.app import SECURITY_HEADERS, create_app

SECRET = "links-test-secret"
SCRIPT = "<script>alert('x')</script>"
SOP = """---
id: orders
title: Order questions
owner: support-lead
review: quarterly
steps:
  - id: answer
    title: Answer the customer
    owner: agent
    within: 8 business hours
followups:
  - id: survey
    send: survey
    after: 1 day after resolved
templates:
  survey:
    subject: "How did we do?"
    body: |
      Dear {{ customer.first_name }}, tell us: {{ links.survey }}
---
# Purpose

Customers get an answer the same day.

# Procedure

Answer, then resolve.
"""


@dataclass
class World:
    session: Session
    settings: Settings
    client: TestClient
    case_id: int
    reference: str

    def link(
        self, purpose: str, payload: dict[str, Any] | None = None, *, at: datetime | None = None
    ) -> str:
        token = sign_link(
            SECRET,
            purpose,
            {"case": self.reference} if payload is None else payload,
            at or utcnow(),
            timedelta(days=2),
        )
        return f"/l/{purpose}/{token}"

    def case(self) -> CaseRow:
        self.session.expire_all()
        row = self.session.get(CaseRow, self.case_id)
        assert row is not None
        return row

    def events(self, kind: str) -> list[CaseEventRow]:
        self.session.expire_all()
        return list(self.session.scalars(select(CaseEventRow).where(CaseEventRow.kind == kind)))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    engine = create_engine_for(db_url)
    upgrade(engine)
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret_key=SECRET,
        company_name="Shop <Example>",
        support_address="support@shop.example",
        public_base_url="http://testserver",
    )
    now = utcnow() - timedelta(minutes=10)
    with session_factory(engine)() as session:
        sops.do_create_draft(session, SOP, "ann", "first", now=now)
        sops.do_publish(session, "orders", approver="bob", now=now)
        case = do_open_case(
            session,
            customer_email="dana@example.com",
            customer_name="Dana Scully",
            subject="Where is order 77?",
            body=f"It has not arrived {SCRIPT}",
            sop_id="orders",
            now=now,
            settings=settings,
        )
        with TestClient(create_app(settings), follow_redirects=False) as client:
            yield World(session, settings, client, case.id, str(case.reference))
    engine.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def resolve(world: World, at: datetime) -> None:
    do_complete_step(world.session, world.case_id, "answer", by="agent", now=at)
    do_resolve(world.session, world.case_id, by="agent", now=at)


def fire_due(world: World, at: datetime) -> None:
    world.session.expire_all()
    ids = list(
        world.session.scalars(
            select(TimerRow.id).where(TimerRow.status == "pending", TimerRow.due_at <= at)
        )
    )
    results = do_fire_timers(world.session, ids, now=at, settings=world.settings)
    assert all(error is None for error in results.values()), results


def followups_queued(world: World) -> list[OutboxRow]:
    world.session.expire_all()
    query = select(OutboxRow).where(OutboxRow.key.contains(":followup:"))
    return list(world.session.scalars(query))


# --- pure rules ------------------------------------------------------------------------


def test_answer_rules() -> None:
    assert read_answer("4", "yes", "  fine\r\n ") == read_answer(4, "true", "fine")
    assert read_answer("5", "", "").resolved is None
    assert read_answer("1", "no", "").resolved is False
    for bad in ("0", "6", "", "x", "4.5", "٣", True, None):
        with pytest.raises(InvalidInput):
            read_answer(bad, "yes", "")
    with pytest.raises(InvalidInput):
        read_answer("3", "maybe", "")
    with pytest.raises(InvalidInput):
        read_answer("3", "yes", "x" * 5001)
    assert len(read_answer("3", "", "x" * 5000).comment) == 5000
    assert parse_rating("3") == 3 and parse_rating("9") is None and parse_rating(None) is None


def test_what_an_unsubscribe_stops() -> None:
    assert is_optional_message("12:followup:survey:r1")
    assert is_optional_message("customer:3:onboarding:created:step:welcome:send")
    assert not is_optional_message("SD-12:reply:abc")
    assert not is_optional_message("12:step:acknowledge:send")
    assert not is_optional_message("12:sla:first_response:notify:lead")
    assert is_optional_timer("followup") and is_optional_timer("sequence")
    assert not is_optional_timer("step") and not is_optional_timer("marker")


# --- survey ----------------------------------------------------------------------------


def test_survey_answered_and_answered_again(world: World) -> None:
    path = world.link("survey")
    page = world.client.get(path + "?rating=4")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert "Shop &lt;Example&gt;" in page.text  # the company name, escaped
    assert 'id="rating-4" name="rating" value="4" checked' in page.text  # one-click preselect
    assert world.client.cookies.get("sopdesk_presession")  # the CSRF binding for visitors
    form = {"csrf_token": csrf_of(page.text), "rating": "4", "resolved": "yes", "comment": SCRIPT}
    answered = world.client.post(path, data=form)
    assert answered.status_code == 200, answered.text
    assert "Thank you!" in answered.text
    row = world.session.scalar(select(SurveyResponseRow))
    assert row is not None and (row.rating, row.resolved, row.comment) == (4, True, SCRIPT)
    first_answered = row.answered_at

    again = world.client.get(path)
    assert "You answered this survey before" in again.text
    assert "&lt;script&gt;" in again.text and SCRIPT not in again.text
    form = {"csrf_token": csrf_of(again.text), "rating": "2", "resolved": "no", "comment": ""}
    assert world.client.post(path, data=form).status_code == 200
    world.session.expire_all()
    rows = list(world.session.scalars(select(SurveyResponseRow)))
    assert [(r.rating, r.resolved, r.comment) for r in rows] == [(2, False, "")]
    assert rows[0].answered_at == first_answered and rows[0].updated_at >= first_answered
    events = world.events("survey.answered")
    assert [(e.data["rating"], e.data["resolved"], e.data["first"]) for e in events] == [
        (4, True, True),
        (2, False, False),
    ]
    assert events[0].case_id == world.case_id and events[0].actor == "customer"


def test_rating_out_of_range_is_refused_and_not_stored(world: World) -> None:
    path = world.link("survey")
    token = csrf_of(world.client.get(path).text)
    for rating in ("6", "0", "", "five"):
        form = {"csrf_token": token, "rating": rating, "comment": "kept"}
        refused = world.client.post(path, data=form)
        assert refused.status_code == 422, rating
        assert "choose how satisfied you are" in refused.text
        assert "kept" in refused.text  # the comment is not lost
    long = world.client.post(path, data={"csrf_token": token, "rating": "3", "comment": "x" * 5001})
    assert long.status_code == 422
    assert world.session.scalar(select(SurveyResponseRow)) is None
    assert world.events("survey.answered") == []


def test_survey_post_needs_the_csrf_token(world: World) -> None:
    path = world.link("survey")
    world.client.get(path)
    refused = world.client.post(path, data={"rating": "5"})
    assert refused.status_code == 403
    assert "Please try again" in refused.text
    forged = world.client.post(path, data={"rating": "5", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert world.session.scalar(select(SurveyResponseRow)) is None


def test_bad_links_answer_404_and_410_pages(world: World) -> None:
    expired = world.link("survey", at=utcnow() - timedelta(days=3))
    page = world.client.get(expired)
    assert page.status_code == 410
    assert "This link has expired" in page.text and "send you a new one" in page.text
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    good = world.link("survey")
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    wrong = world.link("review").replace("/l/review/", "/l/survey/")
    other_secret = sign_link("another", "survey", {"case": world.reference}, utcnow(), timedelta(1))
    for path in (tampered, wrong, f"/l/survey/{other_secret}", "/l/survey/x", "/l/case/%00"):
        answer = world.client.get(path)
        assert answer.status_code == 404, path
        assert "This link does not work" in answer.text
    posted = world.client.post(tampered, data={"rating": "5"})
    assert posted.status_code == 404
    assert world.client.get("/l/survey/" + "a" * 5000).status_code == 404
    gone = world.link("case", {"case": "SD-999999"})
    assert world.client.get(gone).status_code == 404
    no_case = world.link("survey", {"customer": 1})
    assert world.client.get(no_case).status_code == 404


# --- review ----------------------------------------------------------------------------


def test_review_thanks_or_redirects(world: World) -> None:
    page = world.client.get(world.link("review"))
    assert page.status_code == 200 and "Thank you from Shop &lt;Example&gt;" in page.text
    assert [e.case_id for e in world.events("review.clicked")] == [world.case_id]
    world.client.app.state.settings = world.settings.model_copy(
        update={"review_url": "https://reviews.example/shop"}
    )
    moved = world.client.get(world.link("review"))
    assert moved.status_code == 303
    assert moved.headers["location"] == "https://reviews.example/shop"
    assert moved.headers["referrer-policy"] == "no-referrer"
    assert len(world.events("review.clicked")) == 2


# --- the customer's case page ----------------------------------------------------------


def _hostile_reply(world: World) -> None:
    message = EmailMessage()
    message["From"] = "dana@example.com"
    message["To"] = world.settings.support_address
    message["Subject"] = f"Re: Where is order 77? [{world.reference}]"
    message["Message-ID"] = "<hostile-77@example.org>"
    message.set_content(f"plain {SCRIPT}")
    message.add_alternative(
        f"<p>Still waiting</p>{SCRIPT}<img src=x onerror=alert(1)>", subtype="html"
    )
    result = do_receive_email(world.session, message.as_bytes(), settings=world.settings)
    assert result.case_id == world.case_id


def test_case_page_hides_notes_and_escapes_customer_text(world: World) -> None:
    do_add_note(world.session, world.case_id, author="agent", text="SECRET internal note")
    do_reply(world.session, world.case_id, author="agent", text="It ships tomorrow.")
    _hostile_reply(world)
    for purpose in ("case", "reply"):
        page = world.client.get(world.link(purpose).replace("/l/case/", f"/l/{purpose}/"))
        assert page.status_code == 200, purpose
        text = page.text
        assert world.reference in text and "Where is order 77?" in text
        assert "It ships tomorrow." in text and "Still waiting" in text
        assert "It has not arrived &lt;script&gt;" in text  # the opening text, escaped
        assert "SECRET" not in text
        assert "<script" not in text and "onerror" not in text
        assert (
            page.headers["content-security-policy"] == (SECURITY_HEADERS["Content-Security-Policy"])
        )


def test_reply_adds_a_customer_message_and_reopens(world: World) -> None:
    at = utcnow() - timedelta(minutes=5)
    resolve(world, at)
    assert world.case().status == "resolved"
    path = world.link("case")
    page = world.client.get(path)
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    form = {"csrf_token": csrf_of(page.text), "key": key.group(1), "text": f"Hello {SCRIPT}"}
    sent = world.client.post(path, data=form)
    assert sent.status_code == 303 and sent.headers["location"] == path + "?sent=1"
    again = world.client.post(path, data=form)  # a double submit is one message
    assert again.status_code == 303
    world.session.expire_all()
    inbound = list(
        world.session.scalars(
            select(MessageRow).where(
                MessageRow.case_id == world.case_id, MessageRow.kind == "inbound"
            )
        )
    )
    assert [m.text for m in inbound][-1] == f"Hello {SCRIPT}"
    assert sum(m.text == f"Hello {SCRIPT}" for m in inbound) == 1
    assert inbound[-1].from_address == "dana@example.com"
    assert world.case().status == "open" and world.case().reopen_count == 1
    shown = world.client.get(path + "?sent=1").text
    assert "your message is on the case" in shown and "Hello &lt;script&gt;" in shown
    empty = world.client.post(path, data={**form, "text": "  "})
    assert empty.status_code == 422 and "write a message" in empty.text
    forged = world.client.post(path, data={**form, "csrf_token": "bad"})
    assert forged.status_code == 403


# --- unsubscribe -----------------------------------------------------------------------


def test_unsubscribe_cancels_pending_followups_and_later_ones(world: World) -> None:
    at = utcnow() - timedelta(minutes=5)
    resolve(world, at)
    world.session.expire_all()
    timers = world.session.scalars(select(TimerRow).where(TimerRow.kind == "followup"))
    assert [t.status for t in timers] == ["pending"]
    do_reply(world.session, world.case_id, author="agent", text="One more thing.")
    path = world.link("unsubscribe")
    page = world.client.get(path)
    assert page.status_code == 200 and "dana@example.com" in page.text
    world.session.expire_all()
    assert world.session.scalar(select(CustomerRow.unsubscribed_at)) is None  # a GET is safe
    done = world.client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    world.session.expire_all()
    assert world.session.scalar(select(CustomerRow.unsubscribed_at)) is not None
    timers = world.session.scalars(select(TimerRow).where(TimerRow.kind == "followup"))
    assert [t.status for t in timers] == ["cancelled"]
    reply = world.session.scalar(select(OutboxRow).where(OutboxRow.key.contains(":reply:")))
    assert reply is not None and reply.status == "pending"  # transactional: still goes out
    fire_due(world, at + timedelta(days=14))
    assert followups_queued(world) == []
    [event] = world.events("customer.unsubscribed")
    assert event.data["via"] == "link" and len(event.data["timers_cancelled"]) == 1


def test_a_followup_scheduled_after_the_unsubscribe_is_not_sent(world: World) -> None:
    at = utcnow() - timedelta(days=20)
    fresh = TestClient(world.client.app, follow_redirects=False)
    done = fresh.post(world.link("unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    resolve(world, at)  # resolved after the unsubscribe: its survey is scheduled anyway
    fire_due(world, at + timedelta(days=14))
    assert followups_queued(world) == []
    [cancelled] = world.events("followup.cancelled")
    assert (cancelled.data["reason"], cancelled.data["followup_id"]) == ("unsubscribed", "survey")
    assert world.events("followup.sent") == []


def test_one_click_unsubscribe_cancels_a_queued_followup(world: World) -> None:
    at = utcnow() - timedelta(days=20)
    resolve(world, at)
    fire_due(world, at + timedelta(days=14))
    [queued] = followups_queued(world)
    assert queued.status == "pending" and "/l/survey/" in queued.payload["text"]
    assert "/l/unsubscribe/" in queued.payload["unsubscribe_url"]  # List-Unsubscribe
    path = world.link("unsubscribe")
    fresh = TestClient(world.client.app, follow_redirects=False)  # a mail client: no cookie
    done = fresh.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    [queued] = followups_queued(world)
    assert queued.status == "cancelled" and "unsubscribed" in (queued.last_error or "")
    [event] = world.events("customer.unsubscribed")
    assert event.data["via"] == "one-click"
    assert world.events("followup.cancelled")[-1].data["reason"] == "unsubscribed"
    assert fresh.post(path, data={"List-Unsubscribe": "Something"}).status_code == 403
    assert fresh.post(world.link("survey").replace("survey", "unsubscribe", 1)).status_code == 404
    again = fresh.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert world.events("customer.unsubscribed")[-1].data["already"] is True


def test_customer_rating_shows_on_the_case_page(world: World) -> None:
    from sopdesk.actions import signin, users

    path = world.link("survey")
    token = csrf_of(world.client.get(path).text)
    form = {"csrf_token": token, "rating": "3", "resolved": "no", "comment": f"meh {SCRIPT}"}
    assert world.client.post(path, data=form).status_code == 200
    user = users.do_create_user(world.session, "agent@example.com", role="agent", password=None)
    started = signin.do_start_session(world.session, user)
    agent = TestClient(world.client.app, follow_redirects=False)
    agent.cookies.set("sopdesk_session", started.session_id)
    page = agent.get(f"/cases/{world.reference}").text
    assert "Customer rating" in page and "3 / 5" in page and "problem solved: no" in page
    assert "meh &lt;script&gt;" in page and SCRIPT not in page


# --- a customer sequence's survey (no case) --------------------------------------------


def test_a_sequence_survey_is_about_the_customer_and_its_sop(world: World) -> None:
    customer_id = world.case().customer_id
    hook = do_create_webhook(
        world.session, "https://hooks.example/in", ["survey.answered"], created_by="ann"
    )
    path = world.link("survey", {"customer": customer_id, "sop": "orders"})
    page = world.client.get(path)
    assert page.status_code == 200 and "Order questions" in page.text
    for rating in ("4", "2"):  # answering again replaces the answer
        done = world.client.post(
            path, data={"csrf_token": csrf_of(page.text), "rating": rating, "resolved": "yes"}
        )
        assert done.status_code == 200, done.text
    world.session.expire_all()
    [row] = world.session.scalars(select(SurveyResponseRow))
    assert (row.case_id, row.customer_id, row.sop_id, row.rating) == (
        None,
        customer_id,
        "orders",
        2,
    )
    answered = world.events("survey.answered")
    assert [(e.case_id, e.customer_id, e.data["sop_id"]) for e in answered] == [
        (None, customer_id, "orders")
    ] * 2
    world.session.expire_all()
    deliveries = world.session.scalars(select(OutboxRow).where(OutboxRow.kind == "webhook"))
    payloads = [row.payload for row in deliveries]
    assert [p["webhook_id"] for p in payloads] == [hook.row.id] * 2
    assert payloads[-1]["data"]["case"] is None and payloads[-1]["data"]["rating"] == 2
    assert payloads[-1]["data"]["customer"]["email"] == "dana@example.com"
    unnamed = world.client.get(world.link("survey", {"customer": customer_id}))
    assert unnamed.status_code == 404


def test_sequence_links_name_their_sop() -> None:
    settings = Settings(secret_key=SECRET, public_base_url="http://testserver")
    now = utcnow()
    links = case_links(settings, "", now, customer_id=7, sop_id="customer-onboarding")
    token = links["survey"].rsplit("/", 1)[1]
    assert verify_link(SECRET, "survey", token, now) == {
        "customer": 7,
        "sop": "customer-onboarding",
    }


def test_links_are_signed_when_first_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message that names no survey link signs none; configured links win."""
    signed: list[str] = []

    def counting(secret: Any, purpose: str, *args: Any) -> str:
        signed.append(purpose)
        return sign_link(secret, purpose, *args)

    monkeypatch.setattr("sopdesk.actions.context.sign_link", counting)
    settings = Settings(secret_key=SECRET, public_base_url="http://testserver",
                        template_links={"return_label": "https://labels.example/new"})  # fmt: skip
    links = case_links(settings, "SD-7", utcnow())
    assert signed == ["case"]  # the case page: every message's `case.url`
    assert set(links) == {"case", "reply", "return_label", "survey", "review", "unsubscribe"}
    assert "survey" in links and "nothing" not in links and signed == ["case"]
    assert links["nothing"] == links["case"]  # a name nobody configured: the case page
    assert links["survey"] == links["survey"] and signed == ["case", "survey"]  # signed once
    assert links["return_label"] == "https://labels.example/new"
    fixed = case_links(settings.model_copy(update={"review_url": "https://r.example"}), "SD-7",
                       utcnow())  # fmt: skip
    assert fixed["review"] == "https://r.example" and "review" not in signed


def test_the_customer_opens_the_files_of_their_conversation_and_no_others(world: World) -> None:
    import hashlib

    from sopdesk.channels.email_in import Attachment
    from sopdesk.store.tables import AttachmentRow

    label = b"%PDF-1.4 return label"
    digest = hashlib.sha256(label).hexdigest()
    attached = Attachment("label.pdf", "application/pdf", len(label), digest, label)
    reply = do_reply(
        world.session, world.case_id, author="Ann", text="Your label.", files=(attached,),
        settings=world.settings,
    )  # fmt: skip
    note = do_add_note(world.session, world.case_id, author="Ann", text="Internal only")
    secret = AttachmentRow(
        message_id=note.id, filename="internal.txt", content_type="text/plain", size=6,
        sha256="0" * 64, content=b"secret",
    )  # fmt: skip
    world.session.add(secret)
    world.session.commit()
    ours_query = select(AttachmentRow).where(AttachmentRow.message_id == reply.id)
    [ours] = world.session.scalars(ours_query)

    page_url = world.link("case")
    page = world.client.get(page_url)
    assert f'href="{page_url}/files/{ours.id}">label.pdf</a>' in page.text
    assert "internal.txt" not in page.text
    got = world.client.get(f"{page_url}/files/{ours.id}")
    assert got.status_code == 200 and got.content == label
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["referrer-policy"] == "no-referrer"  # the address holds the token
    assert world.client.get(f"{world.link('reply')}/files/{ours.id}").status_code == 200
    hidden = world.client.get(f"{page_url}/files/{secret.id}")
    assert hidden.status_code == 404 and "secret" not in hidden.text
    other = world.link("case", {"case": "SD-999999"})
    assert world.client.get(f"{other}/files/{ours.id}").status_code == 404
    forged = world.client.get(f"/l/case/not-a-token/files/{ours.id}")
    assert forged.status_code == 404


def test_the_customer_sends_a_photo_with_their_reply(world: World) -> None:
    from sopdesk.store.tables import AttachmentRow

    page_url = world.link("case")
    page = world.client.get(page_url)
    assert 'enctype="multipart/form-data"' in page.text
    photo = b"\x89PNG\r\n\x1a\n" + bytes(100)
    sent = world.client.post(
        page_url,
        data={"csrf_token": csrf_of(page.text), "text": "Here is the photo.", "key": "k" * 24},
        files=[("files", ("box.png", photo, "image/png"))],
    )
    assert sent.status_code == 303, sent.text
    world.session.expire_all()
    inbound = world.session.scalars(
        select(MessageRow).where(MessageRow.case_id == world.case_id, MessageRow.kind == "inbound")
    ).all()
    latest = inbound[-1]
    assert latest.text.strip() == "Here is the photo."
    files = select(AttachmentRow).where(AttachmentRow.message_id == latest.id)
    [row] = world.session.scalars(files)
    assert (row.filename, row.content) == ("box.png", photo)
    shown = world.client.get(page_url).text
    assert f'href="{page_url}/files/{row.id}">box.png</a>' in shown
    too_many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(6)]
    refused = world.client.post(
        page_url,
        data={"csrf_token": csrf_of(page.text), "text": "Six files", "key": "j" * 24},
        files=too_many,
    )
    assert refused.status_code == 422 and "attach at most 5 files" in refused.text
    assert "Six files" in refused.text


def test_a_body_over_the_server_s_limit_is_refused_with_413(world: World) -> None:
    from sopdesk.web.app import MAX_REQUEST_BYTES

    declared = world.client.post(
        "/api/v1/cases",
        content=b"{}",
        headers={"content-length": str(MAX_REQUEST_BYTES + 1), "content-type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_REQUEST_BYTES // (1 << 20) + 2):
            yield bytes(1 << 20)

    streamed = world.client.post(
        world.link("case"),
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    assert "larger than this server takes" in streamed.text


def test_a_link_to_a_merged_case_shows_the_case_it_went_to(world: World) -> None:
    from sopdesk.actions.case_merge import do_merge_cases

    later = do_open_case(
        world.session,
        customer_email="dana@example.com",
        subject="Order 77 again",
        body="Still nothing, see my first message.",
        sop_id="orders",
    )
    link = world.link("case", {"case": later.reference})
    do_merge_cases(world.session, world.case_id, later.id, by="agent@shop.example")
    page = world.client.get(link)
    assert page.status_code == 200
    assert world.reference in page.text and "Where is order 77?" in page.text
    assert "Still nothing, see my first message." in page.text  # now in this conversation
    assert "was merged into this case" not in page.text  # the note is internal
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key is not None
    form = {"csrf_token": csrf_of(page.text), "key": key.group(1), "text": "Thanks for merging"}
    assert world.client.post(link, data=form).status_code == 303
    world.session.expire_all()
    last = world.session.scalars(
        select(MessageRow).where(MessageRow.kind == "inbound").order_by(MessageRow.id.desc())
    ).first()
    assert last is not None and (last.case_id, last.text) == (world.case_id, "Thanks for merging")
