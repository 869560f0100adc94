"""The compiled-template and checked-condition caches: same answers, bounded size."""

from __future__ import annotations

import pytest

from sopdesk.sop import expressions, templating
from sopdesk.sop.templating import TemplateRenderError, render_template


def test_cached_templates_render_as_freshly_compiled_ones() -> None:
    source = "Hello {{ customer.first_name }}, case {{ case.reference }}"
    context = {"customer": {"first_name": "Ann"}, "case": {"reference": "SD-1"}}
    first = render_template(source, context)
    again = render_template(source, {**context, "customer": {"first_name": "Bob"}})
    fresh = templating._environment(False).from_string(source).render(context)
    assert first == fresh == "Hello Ann, case SD-1"
    assert again == "Hello Bob, case SD-1"
    assert render_template("<{{ x }}>", {"x": "<b>"}, html=True) == "<&lt;b&gt;>"
    assert render_template("<{{ x }}>", {"x": "<b>"}) == "<<b>>"  # separate per `html`


def test_template_errors_are_raised_every_time() -> None:
    for _ in range(2):
        with pytest.raises(TemplateRenderError):
            render_template("{{ broken", {})
        with pytest.raises(TemplateRenderError):
            render_template("{{ missing.name }}", {})


def test_the_template_cache_is_bounded() -> None:
    for i in range(templating.MAX_COMPILED_TEMPLATES + 20):
        render_template(f"n{i} {{{{ x }}}}", {"x": 1})
    info = templating.compiled_template.cache_info()
    assert info.maxsize == templating.MAX_COMPILED_TEMPLATES
    assert info.currsize <= templating.MAX_COMPILED_TEMPLATES


def test_cached_condition_checks_give_the_same_answers() -> None:
    good = "case.fields.item_received and customer.tier == 'vip'"
    context = {"case": {"fields": {"item_received": True}}, "customer": {"tier": "vip"}}
    for _ in range(2):
        assert expressions.validate_expression(good) is None
        assert expressions.evaluate(good, context) is True
        assert expressions.validate_expression("case.nope == 1") is not None
        assert expressions.validate_expression("(") is not None
        assert expressions.validate_expression("   ") == "the condition is empty"
        with pytest.raises(expressions.ExpressionError):
            expressions.evaluate("case.nope == 1", context)


def test_the_condition_cache_is_bounded() -> None:
    for i in range(expressions.MAX_CACHED_EXPRESSIONS + 20):
        expressions.validate_expression(f"case.priority == 'p{i}'")
    info = expressions._validated.cache_info()
    assert info.maxsize == expressions.MAX_CACHED_EXPRESSIONS
    assert info.currsize <= expressions.MAX_CACHED_EXPRESSIONS
