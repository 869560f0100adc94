"""Templates: placeholders from the AST, strict sandboxed rendering, syntax errors."""

from __future__ import annotations

import pytest

from sopdesk.sop.templating import (
    TEMPLATE_CONTEXT,
    TemplateRenderError,
    placeholders,
    render_template,
    syntax_error,
    unknown_name,
)

CONTEXT = {
    "customer": {"first_name": "Ada", "tags": ["vip", "wholesale"]},
    "case": {"reference": "C-1042", "fields": {"order_number": "A7"}},
    "company": {"name": "Acme & Sons"},
}


def test_render_fills_placeholders():
    text = "Dear {{ customer.first_name }}, order {{ case.fields.order_number }}"
    text += " ({{ case.reference }})"
    assert render_template(text, CONTEXT) == "Dear Ada, order A7 (C-1042)"


def test_render_escapes_for_html_only_when_asked():
    assert render_template("{{ company.name }}", CONTEXT) == "Acme & Sons"
    assert render_template("{{ company.name }}", CONTEXT, html=True) == "Acme &amp; Sons"


def test_a_placeholder_nothing_fills_is_an_error_not_a_gap():
    with pytest.raises(TemplateRenderError) as caught:
        render_template("Dear {{ customer.last_name }}", CONTEXT)
    assert "last_name" in caught.value.message


def test_render_is_sandboxed():
    with pytest.raises(TemplateRenderError):
        render_template("{{ company.name.__class__.__mro__[1].__subclasses__() }}", CONTEXT)


def test_placeholders_are_dotted_names_without_loop_variables():
    text = (
        "Hi {{ customer.first_name }}{% for tag in customer.tags %}{{ tag }}"
        "{{ loop.index }}{% endfor %}{% set n = 2 %}{{ n }}"
        "{{ case.fields['order_number'] }} {{ agent.name | upper }} {{ case.subject.title() }}"
    )
    assert placeholders(text) == {
        "customer.first_name",
        "customer.tags",
        "case.fields.order_number",
        "agent.name",
        "case.subject",
    }


@pytest.mark.parametrize(
    ("text", "line"),
    [("Hello {{ name ", 1), ("a\nb\n{% if x %}no end", 3), ("{{ a | }}", 1)],
)
def test_syntax_errors_carry_their_line(text, line):
    problem = syntax_error(text)
    assert problem is not None
    assert problem[1] == line


def test_valid_template_has_no_syntax_error():
    assert (
        syntax_error("Dear {{ customer.first_name }},\n{% if case.reopened %}again{% endif %}")
        is None
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("customer.first_name", None),
        ("case.fields.anything", None),
        ("links.return_label", None),
        ("customer", None),
        ("custmer.name", "did you mean 'customer'"),
        ("customer.nmae", "did you mean 'name'"),
        ("customer.name.first", "customer.name has no 'first'"),
    ],
)
def test_unknown_name(name, problem):
    found = unknown_name(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_every_context_root_documents_its_attributes():
    for root in TEMPLATE_CONTEXT.values():
        assert root.description
        assert all(root.attributes.values())
        assert root.open_attributes <= set(root.attributes)


@pytest.mark.parametrize(
    "text", ["{{ 'x' * 1000000000 }}", "{{ [1] * 1000000000 }}", "{{ 10 ** 100000000 }}"]
)
def test_memory_bombs_are_refused(text):
    with pytest.raises(TemplateRenderError):
        render_template(text, {})


def test_small_arithmetic_still_works():
    assert render_template("{{ '-' * 3 }}{{ 2 ** 3 }}{{ 6 * 7 }}", {}) == "---842"
