"""The rendered SOP page: structure, plain words, self-containment, print CSS, accessibility.

The page is parsed with `html.parser` into a small tree so the tests check elements,
not substrings of markup.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import sopdesk.library
from sopdesk.calendar import default_calendar
from sopdesk.sop.findings import Finding, Severity
from sopdesk.sop.model import AppliesTo, SopDocument
from sopdesk.sop.parser import load_sop, parse_sop
from sopdesk.sop.render import (
    highlight_placeholders,
    hours_in_words,
    markdown_to_html,
    placeholder_names,
    render_html,
    scope_in_words,
)

LIBRARY = Path(sopdesk.library.__file__).parent
RETURNS = LIBRARY / "returns-and-refunds.md"
NEW_YORK = ZoneInfo("America/New_York")
VOID = {"meta", "link", "input", "br", "hr", "img", "source", "wbr", "col", "area", "base"}


# --- a tiny DOM ----------------------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def raw_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.raw_text() for c in self.children)

    def text(self) -> str:
        return " ".join(self.raw_text().split())

    def iter(self):
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, *, cls: str | None = None, **attrs: str):
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (cls is None or cls in node.classes)
            and all(
                node.attrs.get(key.rstrip("_").replace("_", "-")) == value
                for key, value in attrs.items()
            )
        ]

    def find(self, tag: str | None = None, *, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls=cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}>"
        return found[0]


def _attr(keyword: str) -> str:
    """`http_equiv` -> `http-equiv`; `class_` -> `class`."""
    return keyword.rstrip("_").replace("_", "-")


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                assert depth == len(self.stack) - 1, f"</{tag}> closes {self.stack[-1].tag}"
                del self.stack[depth:]
                return
        raise AssertionError(f"stray </{tag}>")

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_html(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def load(path: Path = RETURNS) -> SopDocument:
    result = load_sop(path)
    assert result.document is not None, result.findings
    return result.document


def returns_page(**kwargs) -> Node:
    calendar = kwargs.pop("calendar", default_calendar("America/New_York"))
    return parse_html(render_html(load(), calendar=calendar, **kwargs))


SOP_HEAD = """\
---
id: tiny
title: {title}
owner: lead
review: quarterly
roles:
  lead: {{title: Team lead}}
  agent: {{title: Agent}}
{extra}
---
# Purpose

{purpose}
"""


def tiny(extra: str = "", *, title: str = "A tiny SOP", purpose: str = "Be quick.") -> SopDocument:
    result = parse_sop(SOP_HEAD.format(title=title, extra=extra, purpose=purpose))
    assert result.document is not None, result.findings
    return result.document


# --- structure of the returns SOP ---------------------------------------------------------


def test_every_step_is_listed_in_order_with_owner_and_limit():
    page = returns_page()
    document = load()
    items = page.find("ol", cls="steps").find_all("li", cls="step")
    assert [item.attrs["id"] for item in items] == [f"step-{s.id}" for s in document.meta.steps]
    for number, (item, step) in enumerate(zip(items, document.meta.steps, strict=True), 1):
        heading = item.find("h3").text().removesuffix(" Critical")
        assert heading == f"Step {number}: {step.title}"
        assert item.find("span", cls="step-number").text() == str(number)
        assert item.find("dd", cls="step-owner").text()
        assert item.find("dd", cls="step-limit").text().startswith("Within ")
    first = items[0]
    assert first.find("dd", cls="step-owner").text() == "sopdesk (automatic)"
    assert (
        first.find("dd", cls="step-limit")
        .text()
        .startswith("Within 24 business hours of the case opening")
    )
    label = page.find("li", id="step-label")
    assert label.find("dd", cls="step-owner").text() == "Support agent agent"
    assert (
        label.find("dd", cls="step-limit")
        .text()
        .startswith("Within 1 business day after step 1 (Acknowledge the return request) is done")
    )


def test_event_anchor_uses_the_declared_description_and_conditions_read_plainly():
    refund = returns_page().find("li", id="step-refund")
    limit = refund.find("dd", cls="step-limit").text()
    assert limit.startswith(
        "Within 5 business days after the returned item arrived at the warehouse"
    )
    condition = refund.find("dd", cls="step-condition").text()
    assert condition == (
        "Only when item_received is set (set when the warehouse records the item as received)"
    )
    assert refund.find("span", cls="badge-critical").text() == "Critical"
    assert "step-critical" in refund.classes
    assert refund.find("dd", cls="step-template").find("a").attrs["href"] == (
        "#template-refund-confirmation"
    )
    assert [li.text() for li in refund.find("ul", cls="evidence").find_all("li")] == [
        "Refund transaction reference"
    ]


def test_checklist_items_are_labelled_checkboxes():
    page = returns_page()
    document = load()
    boxes = page.find_all("input", type="checkbox")
    assert len(boxes) == sum(len(step.checklist) for step in document.meta.steps)
    eligibility = page.find("li", id="step-check-eligibility").find("ul", cls="checklist")
    labels = [label.text() for label in eligibility.find_all("label")]
    assert labels == document.step("check-eligibility").checklist
    assert all(
        label.find("input").attrs["type"] == "checkbox"
        for label in eligibility.iter()
        if label.tag == "label"
    )


def test_scope_roles_and_header_facts():
    page = returns_page()
    scope = page.find("section", id="scope").find("p", cls="lead").text()
    assert scope.startswith("Starts for cases of type return arriving by email, web or API")
    assert "that mention “return”, “refund”" in scope
    facts = {
        pair.find("dt").text(): pair.find("dd").text()
        for pair in page.find("dl", cls="facts").find_all("div")
    }
    assert facts["Owner"] == "Support team lead support-lead"
    assert facts["Reviewed"] == "Quarterly"
    assert facts["Steps"] == "5"
    roles = page.find("section", id="responsibilities").find("table")
    rows = {row.find("th").text(): row for row in roles.find("tbody").find_all("tr")}
    assert "step 5 (Refund the customer)" in rows["Support agent agent"].text()
    assert "step 1 (Acknowledge the return request)" in rows["sopdesk system"].text()


def test_escalation_matrix_rows():
    page = returns_page()
    table = page.find("section", id="escalation").find("table")
    headers = [th.text() for th in table.find("thead").find_all("th")]
    assert headers == [
        "Level",
        "When",
        "Who is told",
        "Who takes over",
        "New priority",
        "Their response time",
    ]
    rows = [
        [cell.text() for cell in row.children if isinstance(cell, Node)]
        for row in table.find_all("tr", cls="escalation-row")
    ]
    assert rows[0][:2] == [
        "1",
        "At 75% of a step’s time limit Warn the lead while there is still time to act.",
    ]
    assert rows[0][2:] == ["Support team lead support-lead", "—", "Unchanged", "—"]
    assert rows[1] == [
        "2",
        "When a step’s time limit runs out",
        "Support team lead support-lead",
        "Support manager support-manager",
        "High",
        "Within 4 business hours",
    ]


def test_followups_say_when_what_and_that_reopening_cancels():
    items = returns_page().find("section", id="followups").find_all("li", cls="followup")
    assert len(items) == 2
    survey = items[0].text()
    assert survey.startswith("1 day after the case is resolved: sopdesk sends How did we do?")
    assert "cancelled if the case reopens" in survey
    assert items[1].text().startswith("7 days after the case is resolved: sopdesk sends")


def test_performance_standards_in_plain_words():
    table = returns_page().find("section", id="standards").find("table")
    rows = {row.find("th").text(): row.find("td").text() for row in table.find_all("tr")[1:]}
    assert rows["First response"] == "Within 24 business hours"
    assert rows["Customer satisfaction (CSAT)"] == "At least 4.5"
    assert rows["Repeat complaints"] == "At most 5%"


def test_templates_are_escaped_source_with_placeholders_highlighted():
    page = returns_page()
    document = load()
    section = page.find("section", id="templates")
    for template_id, template in document.meta.templates.items():
        article = section.find("article", id=f"template-{template_id}")
        body = article.find("pre", cls="template-body")
        assert body.text() == " ".join(template.body.split())
        highlighted = [span.text() for span in body.find_all("span", cls="ph")]
        assert highlighted == re.findall(r"\{\{.*?\}\}", template.body)
    ack = section.find("article", id="template-return-ack")
    assert ack.find("p", cls="template-subject").find("span", cls="ph").text() == (
        "{{ case.subject }}"
    )
    assert "sent by step 1 (Acknowledge the return request)" in ack.text()


def test_glossaries_and_markdown_sections():
    page = returns_page()
    glossary = page.find("section", id="glossary")
    events = glossary.find("table").find("tbody").find_all("tr")
    assert [(row.find("th").text(), row.find("td").text()) for row in events] == [
        ("item_received", "The returned item arrived at the warehouse")
    ]
    assert glossary.find("strong").text() == "RMA"
    tools = page.find("section", id="tools")
    assert len(tools.find_all("li")) == 3
    assert "payment provider’s dashboard" in tools.text()  # typographic apostrophe


def test_headings_are_semantic_and_nav_lists_every_section():
    page = returns_page()
    assert page.find("html").attrs["lang"] == "en"
    assert len(page.find_all("h1")) == 1
    levels = [int(node.tag[1]) for node in page.iter() if re.fullmatch(r"h[1-6]", node.tag)]
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    targets = [a.attrs["href"] for a in page.find("nav").find_all("a")]
    sections = [f"#{s.attrs['id']}" for s in page.find("main").find_all("section")]
    assert targets == sections
    skip = page.find("a", cls="skip-link")
    assert page.find_all(id=skip.attrs["href"][1:])
    for th in page.find_all("th"):
        assert th.attrs.get("scope") in {"col", "row"}
    for table in page.find_all("table"):
        assert table.find("caption").text()
    assert page.find("meta", name="viewport")


# --- self-containment, print, XSS -------------------------------------------------------


def test_the_page_is_self_contained():
    html = render_html(load())
    page = parse_html(html)
    assert not page.find_all("script")
    assert not page.find_all("link")
    assert not page.find_all("img")
    for node in page.iter():
        for name, value in node.attrs.items():
            if name == "src" or (name == "href" and node.tag != "a"):
                raise AssertionError(f"<{node.tag} {name}={value}> loads an asset")
    css = page.find("style").text()
    assert "url(" not in css
    assert "@import" not in css
    assert not re.search(r"https?://", css)
    policy = page.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in policy


def test_print_stylesheet():
    css = parse_html(render_html(load())).find("style").text()
    assert "@page" in css
    print_css = css[css.index("@media print") :]
    assert re.search(r"\.major > h2 \{ break-before: page;", " ".join(print_css.split()))
    assert re.search(r"\.toc,? [^{]*\{ display: none", " ".join(print_css.split()))
    assert 'a[href^="http"]::after' in print_css
    assert "appearance: none" in print_css  # checkboxes print as boxes
    majors = [s.attrs["id"] for s in returns_page().find_all("section", cls="major")]
    assert majors == ["procedure", "escalation", "templates", "glossary"]


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _xss_document() -> SopDocument:
    extra = f"""\
summary: '{XSS}'
events:
  arrived: '{XSS}'
steps:
  - id: first
    title: '{XSS}'
    owner: agent
    within: 1 business day
    send: evil
    checklist: ['{XSS}']
    evidence: ['"><svg onload=alert(1)>']
    details: "<b onmouseover=alert(1)>x</b> [go](javascript:alert(1))"
templates:
  evil:
    subject: '</p><script>alert(2)</script>{{{{ case.subject }}}}'
    body: |
      </pre><script>alert(3)</script>
      {{{{ 7 * 7 }}}} {{% for x in range(3) %}}{{{{ x }}}}{{% endfor %}}
      <a href="javascript:alert(4)" onclick="alert(5)">click</a>
"""
    purpose = (
        f"{XSS}\n\n[link](javascript:alert(1)) <a href='javascript:alert(1)'>a</a>\n\n"
        "[data](data:text/html;base64,PHNjcmlwdD4=) ![pic](javascript:alert(1))\n\n"
        "<iframe src=//evil.example></iframe>"
    )
    return tiny(extra, title=XSS[:60].replace("'", ""), purpose=purpose)


def test_xss_payloads_render_as_text():
    html = render_html(_xss_document())
    page = parse_html(html)
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert not page.find_all("script")
    assert not page.find_all("img")
    assert not page.find_all("iframe")
    assert not page.find_all("svg")
    for node in page.iter():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)
            if name == "href":
                assert re.match(r"^(#|https?:|mailto:)", value or ""), value
    assert page.find("h1").text() == XSS[:60].replace("'", "")
    assert page.find("li", id="step-first").find("h3").text().endswith(XSS)
    assert XSS in page.find("p", cls="summary").text()
    body = page.find("pre", cls="template-body").text()
    assert "</pre><script>alert(3)</script>" in body
    assert "{{ 7 * 7 }}" in body
    assert "49" not in body
    assert "{% for x in range(3) %}" in body
    purpose = page.find("section", id="purpose")
    assert "<script>alert(“x”)</script><img src=x onerror=alert(1)>" in purpose.text()
    assert "[link](javascript:alert(1))" in purpose.text()
    assert "<iframe src=//evil.example></iframe>" in purpose.text()


# --- the worked example ----------------------------------------------------------------------


def _dues(page: Node) -> dict[str, str]:
    table = page.find("section", id="deadlines").find("table")
    return {
        row.attrs["id"].removeprefix("due-"): row.find_all("time")[-1].attrs["datetime"]
        for row in table.find("tbody").find_all("tr")
        if row.find_all("time")
    }


def test_worked_example_for_returns_on_the_default_calendar_in_new_york():
    start = datetime(2025, 3, 14, 16, 30, tzinfo=NEW_YORK)  # Friday
    page = returns_page(example_start=start)
    # 24 business hours of Mon-Fri 09:00-17:00 from Fri 16:30: 0.5 h on Friday, 8 h on
    # Monday and Tuesday, 7.5 h on Wednesday -> Wednesday 16:30.
    assert _dues(page) == {
        "acknowledge": "2025-03-19T16:30:00-04:00",
        "check-eligibility": "2025-03-20T12:30:00-04:00",  # + 4 business hours
        "label": "2025-03-20T16:30:00-04:00",  # + 1 business day
        "receive": "2025-03-20T16:30:00-04:00",  # event assumed Wed 16:30, + 1 day
        "refund": "2025-03-26T16:30:00-04:00",  # + 5 business days
    }
    headline = page.find("p", cls="headline").text()
    assert headline.startswith(
        "A case opened Friday 14 March 16:30 is due Wednesday 19 March 16:30."
    )
    example = page.find("li", id="step-label").find("span", cls="example").text()
    assert example == (
        "Example: If step 1 (Acknowledge the return request) is done at its deadline, "
        "Wednesday 19 March 16:30, this step is due Thursday 20 March 16:30."
    )
    refund = page.find("li", id="step-refund").find("span", cls="example").text()
    assert refund == (
        "Example: If the returned item arrived at the warehouse on Wednesday 19 March 16:30, "
        "this step is due Wednesday 26 March 16:30."
    )
    survey = page.find("section", id="followups").find("li").find("span", cls="example")
    assert survey.text() == (
        "Example: If the case is resolved on Wednesday 19 March 16:30, it is sent "
        "Thursday 20 March 16:30."
    )
    intro = page.find("section", id="deadlines").text()
    assert "America/New_York" in intro
    assert "“default” calendar: open Monday to Friday 09:00–17:00;" in intro


def test_default_example_start_is_friday_1630_in_the_calendar_timezone():
    page = returns_page()
    caption = page.find("section", id="deadlines").find("caption").find("time")
    assert caption.attrs["datetime"] == "2025-03-14T16:30:00-04:00"
    assert caption.text() == "Friday 14 March 2025 16:30"


def test_one_business_day_from_friday_1630_is_monday_1630_across_dst():
    document = tiny("steps:\n  - {id: reply, title: Reply, owner: agent, within: 1 business day}")
    # DST starts in New York on Sunday 9 March 2025: Friday is -05:00, Monday -04:00.
    start = datetime(2025, 3, 7, 16, 30)  # naive: read in the calendar's timezone
    page = parse_html(
        render_html(document, calendar=default_calendar("America/New_York"), example_start=start)
    )
    assert _dues(page) == {"reply": "2025-03-10T16:30:00-04:00"}
    assert (
        page.find("p", cls="headline")
        .text()
        .startswith("A case opened Friday 7 March 16:30 is due Monday 10 March 16:30.")
    )


def test_example_start_in_another_zone_is_converted_to_the_calendar():
    document = tiny("steps:\n  - {id: reply, title: Reply, owner: agent, within: 2 business hours}")
    start = datetime(2025, 3, 14, 20, 30, tzinfo=ZoneInfo("UTC"))  # 16:30 in New York
    page = parse_html(
        render_html(document, calendar=default_calendar("America/New_York"), example_start=start)
    )
    assert _dues(page) == {"reply": "2025-03-17T10:30:00-04:00"}


def test_a_calendar_that_never_opens_explains_instead_of_crashing():
    from sopdesk.calendar import Calendar

    closed = Calendar(name="closed", tz="UTC", week=((),) * 7)
    document = tiny("steps:\n  - {id: reply, title: Reply, owner: agent, within: 2 business hours}")
    page = parse_html(render_html(document, calendar=closed))
    text = page.find("section", id="deadlines").text()
    assert text.startswith("When things are due: a worked example The due times could not be")
    assert page.find("li", id="step-reply").find_all("span", cls="example") == []


def test_circular_anchors_get_no_example_but_still_render():
    document = tiny(
        "steps:\n"
        "  - {id: one, title: One, owner: agent, within: 1 business day after two}\n"
        "  - {id: two, title: Two, owner: agent, within: 1 business day after one}\n"
        "  - {id: three, title: Three, owner: agent, within: 2 hours}\n"
    )
    page = parse_html(render_html(document, calendar=default_calendar("UTC")))
    assert _dues(page) == {"three": "2025-03-14T18:30:00+00:00"}  # calendar hours
    limit = page.find("li", id="step-one").find("dd", cls="step-limit").text()
    assert limit == "Within 1 business day after step 2 (Two) is done"


def test_no_worked_example_without_time_limits():
    document = tiny("steps:\n  - {id: reply, title: Reply, owner: agent}")
    page = parse_html(render_html(document))
    assert not page.find_all("section", id="deadlines")
    assert page.find("li", id="step-reply").find("dd", cls="step-limit").text() == "No time limit"


# --- findings, plain-word helpers --------------------------------------------------------------


def test_findings_are_listed_at_the_top_only_when_given():
    finding = Finding("SOP101", Severity.WARNING, "x.md", 3, 5, "a <b>warning</b>", "fix it")
    page = parse_html(render_html(load(), findings=[finding]))
    box = page.find("main").find("section")
    assert "findings" in box.classes
    assert box.find("h2").text() == "1 lint finding"
    assert "SOP101 line 3, column 5: a <b>warning</b> Hint: fix it" in box.text()
    assert not parse_html(render_html(load())).find_all("section", cls="findings")


@pytest.mark.parametrize(
    ("applies_to", "words"),
    [
        ({}, "Starts for every new case."),
        ({"case_type": "complaint"}, "Starts for cases of type complaint."),
        (
            {"channels": ["email", "sms"], "keywords": ["refund"]},
            "Starts for cases arriving by email or SMS that mention “refund”.",
        ),
        (
            {"trigger": "customer_created", "customer_tags": ["vip", "trade"]},
            "Starts when a new customer is created from customers tagged vip or trade.",
        ),
        ({"trigger": "manual"}, "Started by hand by a team member."),
    ],
)
def test_scope_in_words(applies_to, words):
    text = scope_in_words(AppliesTo(**applies_to))
    assert parse_html(str(text)).text() == words


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        ("mon-fri 09:00-17:00", "Monday to Friday 09:00–17:00"),
        (
            "mon-thu 09:00-12:30, 13:30-17:00; fri 09:00-15:00; sun 10:00-12:00",
            "Monday to Thursday 09:00–12:30 and 13:30–17:00; Friday 09:00–15:00; "
            "Sunday 10:00–12:00",
        ),
        ("24/7", "every day around the clock"),
        ("mon-sun 08:00-20:00", "every day 08:00–20:00"),
    ],
)
def test_opening_hours_in_words(hours, words):
    from sopdesk.calendar.hours import parse_week

    assert hours_in_words(parse_week(hours)) == words


def test_markdown_is_sanitised_and_accessible():
    html = markdown_to_html(
        "# Big\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n![chart](https://x.example/c.png)\n\n"
        '<span onclick=x>raw</span> "quotes" -- dash'
    )
    page = parse_html(str(html))
    assert page.find("h3").text() == "Big"  # headings start below the section's h2
    assert [th.attrs for th in page.find_all("th")] == [{"scope": "col"}, {"scope": "col"}]
    link = page.find("a")
    assert (link.attrs["href"], link.text()) == ("https://x.example/c.png", "chart (image)")
    assert not page.find_all("img")
    assert not page.find_all("span")
    assert "“quotes” – dash" in page.text()


def test_placeholders():
    text = "Hi {{ customer.first_name | title }} <b>{% if x %}{{ x }}{% endif %}</b>"
    assert placeholder_names(text) == ["customer.first_name", "x"]
    page = parse_html(str(highlight_placeholders(text)))
    assert [s.text() for s in page.find_all("span", cls="ph")] == [
        "{{ customer.first_name | title }}",
        "{% if x %}",
        "{{ x }}",
        "{% endif %}",
    ]
    assert not page.find_all("b")


# --- the whole library -----------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(LIBRARY.glob("*.md")), ids=lambda p: p.stem)
def test_every_library_sop_renders(path):
    document = load(path)
    page = parse_html(render_html(document, calendar=default_calendar("Europe/London")))
    assert page.find("h1").text() == document.title
    for step in document.meta.steps:
        item = page.find("li", id=f"step-{step.id}")
        assert item.find("dd", cls="step-owner").text()
    for template_id in document.meta.templates:
        assert page.find("article", id=f"template-{template_id}")
    assert len(page.find_all("tr", cls="escalation-row")) == len(document.meta.escalation)
    assert len(page.find_all("li", cls="followup")) == len(document.meta.followups)
    ids = [node.attrs["id"] for node in page.iter() if "id" in node.attrs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for link in page.find_all("a"):
        href = link.attrs["href"] or ""
        if href.startswith("#"):
            assert page.find_all(id=href[1:]), f"broken link {href}"


def test_years_are_named_when_the_example_crosses_new_year():
    document = tiny("steps:\n  - {id: reply, title: Reply, owner: agent, within: 2 business days}")
    start = datetime(2025, 12, 31, 16, 30)
    page = parse_html(render_html(document, calendar=default_calendar(), example_start=start))
    assert (
        page.find("p", cls="headline")
        .text()
        .startswith(
            "A case opened Wednesday 31 December 2025 16:30 is due Friday 2 January 2026 16:30."
        )
    )


def test_followups_and_conditions_in_plain_words():
    document = tiny(
        """\
fields:
  vip: Set for customers on the VIP list
steps:
  - {id: greet, title: Greet, owner: system, within: immediately, when: not case.fields.vip}
  - {id: call, title: Call, owner: agent, within: 2 business hours, when: case.fields.tier >= 3}
  - {id: note, title: Note, owner: agent, within: immediately after call, when: case.x or case.y}
followups:
  - {send: hello, after: 3 days, channel: sms, unless: case.fields.vip}
templates:
  hello: {body: "Hi {{ customer.first_name }}", description: Day-3 hello}
"""
    )
    page = parse_html(render_html(document, calendar=default_calendar("Europe/London")))
    conditions = [dd.text() for dd in page.find_all("dd", cls="step-condition")]
    assert conditions == [
        "Only when vip is not set (set for customers on the VIP list)",
        "Only when tier is at least 3",
        "Only when case.x or case.y",
    ]
    greet = page.find("li", id="step-greet").find("dd", cls="step-limit").text()
    assert greet.startswith("Immediately when the case opens Example: A case opened Friday")
    note = page.find("li", id="step-note").find("dd", cls="step-limit").text()
    assert note.startswith("Immediately after step 2 (Call) is done")
    followup = page.find("li", cls="followup").text()
    assert followup.startswith(
        "3 days after the case opens: sopdesk sends Day-3 hello hello by SMS — "
        "cancelled if the case reopens; skipped when case.fields.vip."
    )
    assert "For a case opened Friday 14 March 16:30, it is sent Monday 17 March 16:30." in followup


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_colour_pairs_meet_wcag_aa(scheme):
    css = parse_html(render_html(tiny())).find("style").text()
    assert css.count("{") == css.count("}")
    blocks = re.findall(r":root \{([^}]*)\}", css)
    palette = dict(
        re.findall(r"--([a-z-]+): (#[0-9a-f]{6});", blocks[0 if scheme == "light" else 1])
    )
    pairs = [
        ("ink", "paper", 7.0),
        ("ink", "wash", 7.0),
        ("muted", "paper", 4.5),
        ("muted", "wash", 4.5),
        ("muted", "accent-wash", 4.5),
        ("muted", "warn-wash", 4.5),
        ("critical-ink", "warn-wash", 4.5),
        ("critical-ink", "paper", 4.5),
        ("accent", "paper", 4.5),
        ("accent", "accent-wash", 4.5),
        ("ph-ink", "ph-wash", 4.5),
        ("critical-ink", "critical-wash", 4.5),
        ("warn-ink", "warn-wash", 4.5),
    ]
    for fore, back, minimum in pairs:
        ratio = _contrast(palette[fore], palette[back])
        assert ratio >= minimum, f"{scheme}: {fore} on {back} is {ratio:.2f}:1"
