"""Hostile text from customers (e-mail HTML and text, names, subjects) and in SOPs is
shown escaped on every page; no script and no event handler survives."""

from __future__ import annotations

import re
from email.message import EmailMessage

from sopdesk.actions import sops
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.intake import do_receive_email
from tests.conftest import sop_text
from tests.ui.conftest import ClientFor, World

PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(1)>"
HTML_BODY = (
    "<p>Hi</p><script>alert(2)</script><img src=x onerror=alert(3)>"
    '<a href="javascript:alert(4)">click</a><div onmouseover="alert(5)">hover</div>'
    '<svg onload=alert(6)></svg><iframe src="https://evil.example"></iframe>'
)
SCRIPT_TAG = re.compile(r"<script(?![^>]*\bsrc=\"/static/)", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"(href|src|action)\s*=\s*[\"']?\s*javascript:", re.I)


def assert_inert(html: str) -> None:
    assert not SCRIPT_TAG.search(html), SCRIPT_TAG.search(html)
    assert not HANDLER.search(html), HANDLER.search(html)
    assert not JS_URL.search(html), JS_URL.search(html)
    assert "<iframe" not in html.lower() and "<svg" not in html.lower()


def _email(world: World) -> str:
    message = EmailMessage()
    message["From"] = f'"{PAYLOAD}" <mallory@example.org>'
    message["To"] = world.settings.support_address
    message["Subject"] = f"Refund {PAYLOAD}"
    message["Message-ID"] = "<hostile-1@example.org>"
    message.set_content(f"plain {PAYLOAD}")
    message.add_alternative(HTML_BODY, subtype="html")
    result = do_receive_email(world.session, message.as_bytes(), settings=world.settings)
    assert result.case_id is not None
    from sopdesk.actions.case_reads import get_case

    return str(get_case(world.session, result.case_id).reference)


def test_hostile_email_is_shown_as_text(world: World, client_for: ClientFor) -> None:
    ref = _email(world)
    agent = client_for("agent")
    page = agent.get(f"/cases/{ref}").text
    assert_inert(page)
    assert "Refund &lt;script&gt;alert(" in page  # the subject, as text
    assert "<p>Hi</p>" in page and "hover" in page  # the safe part of the HTML is kept
    inbox = agent.get("/inbox").text
    assert_inert(inbox)
    assert "&lt;img src=x onerror=alert(1)&gt;" in inbox


def test_hostile_text_case_name_and_subject(world: World, client_for: ClientFor) -> None:
    case = do_open_case(
        world.session,
        customer_email="eve@example.org",
        customer_name=PAYLOAD,
        subject=PAYLOAD,
        body=PAYLOAD,
        sop_id="refunds",
    )
    agent = client_for("agent")
    for url in (f"/cases/{case.reference}", "/inbox", "/inbox/counts"):
        assert_inert(agent.get(url).text)
    page = agent.get(f"/cases/{case.reference}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    preview = agent.post_form(f"/cases/{case.reference}/preview", {"text": PAYLOAD})
    assert_inert(preview.text)


def test_hostile_sop_text_is_escaped(world: World, client_for: ClientFor) -> None:
    text = sop_text("evil", title=f"Evil {PAYLOAD}", purpose=f"Purpose {PAYLOAD} {HTML_BODY}")
    sops.do_create_draft(world.session, text, "ann")
    manager = client_for("manager")
    for url in ("/", "/sops/evil", "/sops/evil/edit", "/sops/evil/versions", "/sops/evil/diff"):
        answer = manager.get(url)
        assert answer.status_code == 200, url
        assert_inert(answer.text)
    lint = manager.post_form("/sops/evil/lint", {"text": text + PAYLOAD})
    assert_inert(lint.text)
    assert "Evil &lt;script&gt;" in manager.get("/").text
