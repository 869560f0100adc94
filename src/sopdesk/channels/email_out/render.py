"""Fill a SOP message template: subject, plain text and HTML, in Jinja2's sandbox.

All rendering goes through `sopdesk.sop.templating.render_template` (sandboxed,
StrictUndefined), so a placeholder nothing fills is an error, never a gap. The
subject's blanks and line breaks collapse to single spaces: a customer's subject with
a CR/LF in it cannot inject a header. Pure.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sopdesk.channels.email_out.headers import MAX_SUBJECT_CHARS
from sopdesk.channels.email_out.html import text_to_html
from sopdesk.errors import InvalidInput
from sopdesk.sop.model import Channel, Template
from sopdesk.sop.templating import render_template


class RenderedMessage(NamedTuple):
    """What a template produced; unpacks as `subject, text, html`."""

    subject: str
    text: str
    html: str


def render_subject(subject_template: str, context: dict[str, Any]) -> str:
    """One line: the rendered subject with every run of blanks or breaks made one space."""
    return one_line(render_template(subject_template, context))


def one_line(text: str) -> str:
    """Every run of blanks and line breaks made one space; bounded for a header."""
    return " ".join(text.split())[:MAX_SUBJECT_CHARS]


def render_message(
    template: Template,
    context: dict[str, Any],
    *,
    fallback_subject: str | None = None,
    html_body: str | None = None,
) -> RenderedMessage:
    """`(subject, text, html)` for an email template.

    The HTML part is `text` escaped with its links made clickable, unless `html_body`
    (an HTML template) is given, which is rendered with autoescape. A template without
    a subject uses `fallback_subject` as literal text (e.g. `reply_subject(case.subject)`).
    """
    if template.channel is not Channel.EMAIL:
        raise InvalidInput(f"a {template.channel.value} template cannot be sent by email")
    if template.subject is not None:
        subject = render_subject(template.subject, context)
    elif fallback_subject is not None:
        subject = one_line(fallback_subject)  # literal text, never a template
    else:
        raise InvalidInput(
            "this email template has no subject", hint="add `subject:` to the template"
        )
    text = render_template(template.body, context)
    if html_body is None:
        html = text_to_html(text)
    else:
        html = render_template(html_body, context, html=True)
    return RenderedMessage(subject, text, html)
