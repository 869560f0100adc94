"""The pure import core: time phrases, roles, placeholders, headings, escaping, and a
property test that any outline becomes a draft the parser accepts."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopdesk.sop.findings import Severity
from sopdesk.sop.importers import Outline, build_draft
from sopdesk.sop.importers.heuristics import match_section, split_marker
from sopdesk.sop.importers.outline import Kind, Loc, heading, item, paragraph, table
from sopdesk.sop.importers.phrases import find_limit, find_roles, find_standard
from sopdesk.sop.importers.render import escape_line
from sopdesk.sop.importers.scripts import KNOWN_PLACEHOLDERS, convert_placeholders
from sopdesk.sop.lint import lint
from sopdesk.sop.model import SectionKey
from sopdesk.sop.parser import parse_sop
from sopdesk.sop.templating import unknown_name


@pytest.mark.parametrize(
    ("text", "phrase", "event"),
    [
        ("Acknowledge return request within 24 hours.", "24 hours", None),
        (
            "Process refund within five business days of receiving the item.",
            "5 business days after item_received",
            "item_received",
        ),
        ("Send a review request 7 days after completion", "7 days after resolved", None),
        ("Respond to all emails within 12 hours", "12 hours", None),
        ("Reply within 24h of the customer's email", "24 hours", None),
        (
            "Ship within 2 working days of the order being approved",
            "2 business days after order_approved",
            "order_approved",
        ),
        (
            "Call back within one business day of receipt of the return",
            "1 business day after return_received",
            "return_received",
        ),
        ("Follow up 3 days after the case is resolved", "3 days after resolved", None),
    ],
)
def test_time_phrases_in_prose(text: str, phrase: str, event: str | None) -> None:
    found = find_limit(text)
    assert found is not None
    assert (found.phrase, found.event) == (phrase, event)


@pytest.mark.parametrize(
    "text",
    ["Send the label ASAP", "Keep a 30-day return window", "Answer promptly", "Wait 2 days"],
)
def test_no_time_limit_where_there_is_none(text: str) -> None:
    assert find_limit(text) is None


def test_roles_in_order_of_mention() -> None:
    found = find_roles("The representative escalates to the team lead, then the warehouse")
    assert [r.role for r in found] == ["agent", "team-lead", "warehouse"]
    assert find_roles("Update the SOP owner and the document owner") == []


@pytest.mark.parametrize(
    ("text", "standard"),
    [
        ("First response within 12 hours", ("first_response", "12 hours")),
        ("Resolve complaints within 5 business days", ("resolution", "5 business days")),
        ("CSAT of 4.5 or more", ("csat", ">= 4.5")),
        ("Customer satisfaction above 90%", ("csat", "> 90%")),
        ("First contact resolution at least 70%", ("fcr", ">= 70%")),
        ("CSAT of at least 9", None),
        ("FCR of 0.7 or more", None),
        ("Be friendly", None),
    ],
)
def test_standards(text: str, standard: tuple[str, str] | None) -> None:
    assert find_standard(text) == standard


def test_every_known_placeholder_is_in_the_template_context() -> None:
    assert {target for target in KNOWN_PLACEHOLDERS.values() if unknown_name(target)} == set()


def test_placeholders_written_the_word_way() -> None:
    text, found = convert_placeholders(
        "Dear [Customer Name], about [brief summary of the issue] «Order Number» "
        "{{ customer.first_name }} {{ Your Name }} [x] [link](https://x) {% if %}"
    )
    assert text == (
        "Dear {{ customer.name }}, about {{ case.subject }} {{ case.fields.order_number }} "
        "{{ customer.first_name }} {{ agent.name }} [x] [link](https://x) {{ '{%' }} if %}"
    )
    assert [(p.written, p.known) for p in found] == [
        ("[Customer Name]", True),
        ("[brief summary of the issue]", True),
        ("«Order Number»", False),
        ("{{ Your Name }}", True),
    ]


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("3. Roles & Responsibilities:", SectionKey.RESPONSIBILITIES),
        ("Process Steps", SectionKey.PROCEDURE),
        ("Procedrue", SectionKey.PROCEDURE),
        ("Refund procedure", SectionKey.PROCEDURE),
        ("SECTION 4 - ESCALATION MATRIX", SectionKey.ESCALATION),
        ("Overview", SectionKey.PURPOSE),
        ("Key Concepts", None),
    ],
)
def test_headings_to_sections(title: str, key: SectionKey | None) -> None:
    matched = match_section(title)
    assert (matched.key if matched else None) == key


def test_typed_list_markers() -> None:
    assert split_marker("1)\tAcknowledge") is not None
    assert split_marker("Step 2: Refund").rest == "Refund"  # type: ignore[union-attr]
    assert split_marker("o nested").depth == 1  # type: ignore[union-attr]
    assert split_marker("1.5 hours is the target") is None
    assert split_marker("Dear customer") is None


@pytest.mark.parametrize(
    ("line", "escaped"),
    [
        ("# not a heading", "\\# not a heading"),
        ("1. not a list", "1\\. not a list"),
        ("---", "\\---"),
        ("[Customer Name]: Jane", "\\[Customer Name]: Jane"),
        ("<script>", "\\<script>"),
        ("plain text", "plain text"),
    ],
)
def test_prose_is_escaped(line: str, escaped: str) -> None:
    assert escape_line(line) == escaped


def test_content_before_any_heading_becomes_the_purpose() -> None:
    outline = Outline(
        (
            paragraph("We refund quickly and fairly.", Loc("line", 1)),
            heading("Procedure", Loc("line", 3)),
            item("Refund within 2 days", Loc("line", 4), ordered=True),
        ),
        title="Refunds",
    )
    result = build_draft(outline, sop_id="refunds", source="refunds.txt")
    assert "# Purpose\n\nWe refund quickly and fairly." in result.text
    assert any("taken as the Purpose" in e.message for e in result.report.assumed)


_WORDS = st.sampled_from(
    [
        "Purpose",
        "Procedure",
        "Escalation",
        "agent",
        "team lead",
        "within 24 hours",
        "within 3 business days of receiving the parcel",
        "ASAP",
        "#",
        "---",
        "{{",
        "{%",
        "1.",
        "- ",
        ":",
        "“quote”",
        "[Customer Name]",
        "[odd thing]",
        "Subject: Hi",
        "Dear [First Name],",
        "Best,",
        "|",
        "\\",
        "*",
        "75%",
        "breach",
        "Owner:",
        "Review:",
        "quarterly",
        "é",
        "\t",
        "'",
        '"',
        "&",
        "<b>",
        "Standards",
        "CSAT 4.5 or more",
    ]
)
_TEXT = st.lists(_WORDS, min_size=1, max_size=8).map(" ".join)


@st.composite
def _blocks(draw: st.DrawFn) -> tuple:
    blocks = []
    for number in range(1, draw(st.integers(1, 25)) + 1):
        kind = draw(st.sampled_from(list(Kind)[:4]))
        loc = Loc("line", number)
        text = draw(_TEXT)
        if kind is Kind.HEADING:
            blocks.append(heading(text, loc, draw(st.integers(0, 3)), weak=draw(st.booleans())))
        elif kind is Kind.ITEM:
            blocks.append(item(text, loc, draw(st.integers(0, 3)), ordered=draw(st.booleans())))
        elif kind is Kind.TABLE:
            rows = draw(st.lists(st.lists(_TEXT, min_size=1, max_size=4), min_size=1, max_size=4))
            blocks.append(table(rows, loc))
        else:
            blocks.append(paragraph(text, loc, strong=draw(st.booleans())))
    return tuple(blocks)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=_blocks(), title=st.one_of(st.none(), _TEXT))
def test_any_outline_becomes_a_draft_that_parses(blocks: tuple, title: str | None) -> None:
    result = build_draft(Outline(blocks, title=title), sop_id="fuzz", source="fuzz.txt")
    parsed = parse_sop(result.text, "fuzz.md")
    assert parsed.ok, [str(f) for f in parsed.findings]
    errors = {f.code for f in lint(parsed) if f.severity is Severity.ERROR}
    assert errors <= {"SOP101"}  # only "no steps", when the outline has no list to map
