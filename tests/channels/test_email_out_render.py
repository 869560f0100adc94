"""render_message(): SOP templates in the sandbox, then composed into a message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sopdesk.channels.email_out import (
    Mailbox,
    OutgoingEmail,
    compose,
    render_message,
    reply_subject,
)
from sopdesk.errors import InvalidInput
from sopdesk.sop.model import Channel, Template
from sopdesk.sop.templating import TemplateRenderError

ACK = Template(
    subject="We're here to help – {{ case.subject }}",
    body=(
        "Dear {{ customer.first_name }},\n\n"
        "Thanks for your message about {{ case.subject }}.\n"
        "Tell us how we did: {{ links.survey }}\n"
    ),
)


def context(**case: Any) -> dict[str, Any]:
    return {
        "case": {"subject": "Broken <kettle> & lid", "reference": "SD-7", **case},
        "customer": {"first_name": "Zoë"},
        "links": {"survey": "https://help.shop.example/l/survey/abc.def"},
    }


def test_subject_text_and_html() -> None:
    subject, text, html = render_message(ACK, context())
    assert subject == "We're here to help – Broken <kettle> & lid"
    assert text.startswith("Dear Zoë,\n\nThanks for your message about Broken <kettle> & lid.")
    assert "Broken &lt;kettle&gt; &amp; lid" in html
    assert '<a href="https://help.shop.example/l/survey/abc.def">' in html
    assert "<kettle>" not in html


def test_a_line_break_in_a_customer_value_cannot_reach_the_subject_header() -> None:
    rendered = render_message(ACK, context(subject="Hi\r\nBcc: evil@attacker.example"))
    assert rendered.subject == "We're here to help – Hi Bcc: evil@attacker.example"
    message = compose(
        OutgoingEmail(
            idempotency_key="k1",
            sender=Mailbox("support@shop.example"),
            to=(Mailbox("zoe@customer.example"),),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            case_reference="SD-7",
        ),
        now=datetime(2026, 3, 2, tzinfo=UTC),
        secret="s",
    )
    assert message["Bcc"] is None
    assert message["Subject"] == "We're here to help – Hi Bcc: evil@attacker.example [SD-7]"


def test_a_placeholder_nothing_fills_is_an_error() -> None:
    template = Template(subject="Hi", body="Order {{ case.fields.order_number }}")
    with pytest.raises(TemplateRenderError):
        render_message(template, context())


def test_the_sandbox_refuses_unsafe_code() -> None:
    template = Template(subject="Hi", body="{{ case.__class__.__mro__ }}")
    with pytest.raises(TemplateRenderError):
        render_message(template, context())


def test_an_html_body_is_rendered_with_autoescape() -> None:
    _, _, html = render_message(ACK, context(), html_body="<p>About <b>{{ case.subject }}</b></p>")
    assert html == "<p>About <b>Broken &lt;kettle&gt; &amp; lid</b></p>"


def test_without_a_subject_the_fallback_is_used_literally() -> None:
    template = Template(body="Hello")
    subject, _, _ = render_message(
        template, context(), fallback_subject=reply_subject("Re: {{ 7 * 7 }}  it\nbroke")
    )
    assert subject == "Re: {{ 7 * 7 }} it broke"
    with pytest.raises(InvalidInput, match="no subject"):
        render_message(template, context())


def test_only_email_templates_render_as_email() -> None:
    with pytest.raises(InvalidInput, match="sms"):
        render_message(Template(body="Hi", channel=Channel.SMS), context())
