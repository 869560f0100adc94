"""The public support form (/support), on SQLite and PostgreSQL: a request becomes a
routed case with its files, a form sent twice opens one case, bad input is answered
field by field with nothing lost, bots and floods are turned away, and the form can be
switched off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopdesk.actions import support_form
from sopdesk.actions.base import utcnow
from sopdesk.actions.sop_files import do_load_library
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import (
    AttachmentRow,
    CaseRow,
    MessageRow,
    OutboxRow,
    SupportFormPostRow,
)
from sopdesk.web.app import create_app

SECRET = "support-form-test-secret"


@dataclass
class Site:
    session: Session
    settings: Settings
    client: TestClient

    def cases(self) -> list[CaseRow]:
        self.session.expire_all()
        return list(self.session.scalars(select(CaseRow).order_by(CaseRow.id)))

    def form(self) -> dict[str, str]:
        """The form's hidden fields, as a browser would send them back."""
        page = self.client.get("/support")
        assert page.status_code == 200
        return {
            "csrf_token": _hidden(page.text, "csrf_token"),
            "key": _hidden(page.text, "key"),
        }

    def send(
        self,
        fields: dict[str, str],
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        hidden: dict[str, str] | None = None,
        **headers: str,
    ) -> Any:
        data = {**(hidden if hidden is not None else self.form()), **fields}
        return self.client.post("/support", data=data, files=files or [], headers=headers)


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"the form has no {name}"
    return found.group(1)


def _site(db_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Site]:
    engine = create_engine_for(db_url)
    upgrade(engine)
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret_key=SECRET,
        company_name="Shop & Co",
        support_address="support@shop.example",
        public_base_url="http://testserver",
        **overrides,
    )
    with session_factory(engine)() as session:
        do_load_library(session)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            yield Site(session, settings, client)
    engine.dispose()


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[Site]:
    yield from _site(db_url, tmp_path)


REQUEST = {
    "name": "Rosa Díaz",
    "email": "rosa@example.com",
    "case_type": "return",
    "subject": "The jacket is too small",
    "message": "I would like to send back order 4411, size M.",
}


def test_the_form_offers_the_types_published_sops_route_on_the_web(site: Site) -> None:
    page = site.client.get("/support")
    assert page.status_code == 200
    options = re.findall(r'<option value="([^"]*)"', page.text)
    assert options == ["return", "complaint", "inquiry", ""]  # settings' order, then "other"
    assert "Something else" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "noindex" in page.headers["x-robots-tag"]
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all


def test_a_link_can_preselect_a_type(site: Site) -> None:
    chosen = site.client.get("/support?type=complaint").text
    assert '<option value="complaint" selected>' in chosen
    unknown = site.client.get("/support?type=crisis").text  # not on the menu
    assert '<option value="" selected>' in unknown


def test_a_type_no_published_sop_routes_is_not_offered(db_url: str, tmp_path: Path) -> None:
    types = {"return": "Returns", "warranty": "A warranty claim"}
    for site in _site(db_url, tmp_path, support_form_types=types):
        assert re.findall(r'<option value="([^"]*)"', site.client.get("/support").text) == [
            "return",
            "",
        ]


def test_a_request_opens_a_routed_case_with_its_message_and_files(site: Site) -> None:
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
    files = [
        ("files", ("../../etc/photo.png", photo, "image/png")),
        ("files", ("receipt.pdf", b"%PDF-1.7 receipt", "application/pdf; charset=binary")),
    ]
    answer = site.send(REQUEST, files)
    assert answer.status_code == 200, answer.text
    [case] = site.cases()
    assert f"Your request is {case.reference}" in answer.text
    assert "rosa@example.com" in answer.text
    assert case.channel == "web"
    assert case.case_type == "return"
    assert case.sop_id == "returns-and-refunds"
    assert case.customer.email == "rosa@example.com"
    assert case.customer.name == "Rosa Díaz"
    assert case.external_source == "support-form"
    inbound = select(MessageRow).where(MessageRow.case_id == case.id, MessageRow.kind == "inbound")
    [message] = site.session.scalars(inbound)
    assert message.text == REQUEST["message"]
    assert message.from_address == "rosa@example.com"
    stored = {a.filename: a for a in site.session.scalars(select(AttachmentRow))}
    assert set(stored) == {"photo.png", "receipt.pdf"}  # no path survives
    assert stored["photo.png"].content == photo
    assert stored["photo.png"].size == len(photo)
    assert stored["receipt.pdf"].content_type == "application/pdf"
    # the returns SOP's acknowledgement is queued at once, as for an e-mail
    queued = site.session.scalars(select(OutboxRow).where(OutboxRow.case_id == case.id)).all()
    assert [row.payload["to"][0]["address"] for row in queued] == ["rosa@example.com"]


def test_something_else_is_routed_by_the_words_of_the_request(site: Site) -> None:
    words = {**REQUEST, "case_type": "", "subject": "Complaint", "message": "Rude staff."}
    assert site.send(words).status_code == 200
    [case] = site.cases()
    assert case.case_type == "complaint"
    assert case.route["source"] == "rules"
    assert "the message mentions 'rude'" in " ".join(case.route["reasons"])
    assert case.sop_id == "complaint-resolution"


def test_a_form_sent_twice_opens_one_case(site: Site) -> None:
    hidden = site.form()
    first = site.send(REQUEST, hidden=hidden)
    again = site.send(REQUEST, hidden=hidden)
    assert first.status_code == again.status_code == 200
    [case] = site.cases()
    assert case.reference in first.text and case.reference in again.text
    assert site.send(REQUEST).status_code == 200  # a new form is a new request
    assert len(site.cases()) == 2


def test_bad_input_is_answered_field_by_field_and_kept(site: Site) -> None:
    bad = {
        "name": "Rosa",
        "email": "rosa-at-example",
        "case_type": "crisis",  # a type the menu does not offer
        "subject": "",
        "message": "Please keep this text <b>safe</b>.",
    }
    answer = site.send(bad)
    assert answer.status_code == 422
    assert 'aria-invalid="true"' in answer.text
    for field in ("email", "case-type", "subject"):
        assert f'href="#{field}"' in answer.text
    assert "Please keep this text &lt;b&gt;safe&lt;/b&gt;." in answer.text  # kept, escaped
    assert 'value="Rosa"' in answer.text
    assert site.cases() == []


def test_too_many_files_are_refused_before_anything_is_stored(site: Site) -> None:
    files = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(6)]
    answer = site.send(REQUEST, files)
    assert answer.status_code == 422
    assert "at most 5 files" in answer.text
    assert site.cases() == []


def test_a_body_over_the_limit_is_refused_before_it_is_read(site: Site) -> None:
    answer = site.client.post(
        "/support",
        content=b"x",
        headers={
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(support_form.MAX_TOTAL_BYTES + 2 * 1024 * 1024),
        },
    )
    assert answer.status_code == 413
    assert "20 MB" in answer.text


def test_a_form_without_its_csrf_token_keeps_the_text_and_opens_nothing(site: Site) -> None:
    hidden = {**site.form(), "csrf_token": "forged"}
    answer = site.send(REQUEST, hidden=hidden)
    assert answer.status_code == 403
    assert "The jacket is too small" in answer.text
    assert site.cases() == []


def test_a_bot_filling_the_trap_sees_thanks_and_nothing_is_stored(site: Site) -> None:
    answer = site.send({**REQUEST, "website": "http://spam.example"})
    assert answer.status_code == 200
    assert "We have your request" in answer.text
    assert site.cases() == []
    assert site.session.scalar(select(func.count()).select_from(SupportFormPostRow)) == 0


def test_one_address_may_send_five_requests_an_hour(site: Site) -> None:
    for n in range(support_form.PER_EMAIL.limit):
        assert site.send({**REQUEST, "subject": f"Request {n}"}).status_code == 200
    refused = site.send({**REQUEST, "subject": "One more"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "One more" in refused.text  # nothing typed is lost
    assert "support@shop.example" in refused.text
    assert len(site.cases()) == support_form.PER_EMAIL.limit
    other = site.send({**REQUEST, "email": "someone.else@example.com"})
    assert other.status_code == 200


def test_the_limit_per_address_counts_every_e_mail_and_forgets_after_its_window(
    site: Site,
) -> None:
    now = utcnow()
    for n in range(support_form.PER_ADDRESS.limit):
        request = support_form.SupportRequest(
            email=f"visitor{n}@example.com",
            subject="Hello",
            message="A question",
            key=f"key-{n:020d}",
            ip="203.0.113.9",
        )
        support_form.do_send_support_request(site.session, request, settings=site.settings, now=now)
    flood = support_form.SupportRequest(
        email="visitor-last@example.com",
        subject="Hello",
        message="A question",
        key="key-last-000000000000",
        ip="203.0.113.9",
    )
    with pytest.raises(support_form.TooManyRequests):
        support_form.do_send_support_request(site.session, flood, settings=site.settings, now=now)
    later = now + support_form.PER_ADDRESS.window + timedelta(seconds=1)
    answer = support_form.do_send_support_request(
        site.session, flood, settings=site.settings, now=later
    )
    assert not answer.repeated
    kept = site.session.scalars(select(SupportFormPostRow)).all()
    assert len(kept) == 1  # every expired row is gone, whoever sent it
    assert "203.0.113.9" not in kept[0].ip_key and "visitor" not in kept[0].email_key


def test_the_form_can_be_switched_off(db_url: str, tmp_path: Path) -> None:
    for site in _site(db_url, tmp_path, support_form=False):
        assert site.client.get("/support").status_code == 404
        assert site.client.post("/support", data=REQUEST).status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("email", "", "Enter your e-mail address"),
        ("email", "a@b", "like name@example.com"),
        ("email", "two words@example.com", "like name@example.com"),
        ("subject", "   ", "Say in a few words"),
        ("subject", "x" * 201, "under 200 characters"),
        ("message", "", "Write your message"),
        ("message", "x" * 20_001, "under 20,000 characters"),
        ("name", "x" * 201, "under 200 characters"),
        ("name", "Rosa\r\nBcc: all@example.com", "control characters"),
    ],
)
def test_check_request_names_the_field_and_the_fix(field: str, value: str, says: str) -> None:
    fields = {
        "email": "rosa@example.com",
        "subject": "Hello",
        "message": "Hi",
        "key": "k" * 20,
        "ip": "1",
    }
    request = support_form.SupportRequest(**{**fields, field: value})
    with pytest.raises(support_form.FormErrors) as raised:
        support_form.check_request(request, ["return"])
    assert says in " ".join(raised.value.errors.values())
    assert isinstance(raised.value, InvalidInput)


def test_the_same_form_sent_twice_at_once_opens_one_case(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sendings race past the "sent before?" look (made to, here: its first answer
    in each thread is "no"); the case's unique external id lets one in, and the other
    answers with its reference."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier, local

    looked = local()
    real_look = support_form._sent_before

    def first_look_misses(session: Session, key: str) -> str | None:
        if not getattr(looked, "once", False):
            looked.once = True
            return None
        return real_look(session, key)

    monkeypatch.setattr(support_form, "_sent_before", first_look_misses)
    engine = site.session.get_bind()
    request = support_form.SupportRequest(
        email="race@example.com", subject="Twice", message="Sent twice", key="k" * 24, ip="1"
    )
    start = Barrier(2)

    def send() -> support_form.SupportAnswer:
        with session_factory(engine)() as session:
            start.wait()
            return support_form.do_send_support_request(session, request, settings=site.settings)

    with ThreadPoolExecutor(2) as pool:
        answers = [future.result() for future in [pool.submit(send), pool.submit(send)]]
    [case] = site.cases()
    assert {answer.reference for answer in answers} == {case.reference}
    assert sorted(answer.repeated for answer in answers) == [False, True]
