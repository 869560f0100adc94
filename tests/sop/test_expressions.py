"""Conditions are sandboxed Jinja2 expressions limited to the documented context."""

from __future__ import annotations

import pytest

from sopdesk.errors import SopdeskError
from sopdesk.sop.expressions import ExpressionError, evaluate, names, validate_expression

CONTEXT = {
    "case": {"fields": {"item_received": True, "amount": 120}, "priority": "high", "tags": []},
    "customer": {"tier": "vip", "cases_count": 3, "tags": ["wholesale"], "first_name": "Ada"},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("case.fields.item_received", True),
        ("case.fields.missing", False),
        ("not case.fields.missing", True),
        ("case.fields.amount > 100 and customer.tier == 'vip'", True),
        ("customer.cases_count >= 5", False),
        ("'wholesale' in customer.tags", True),
        ("case.priority in ['high', 'urgent']", True),
        ("customer.first_name | lower == 'ada'", True),
        ("case.fields.refund_id is defined", False),
        ("case.tags | length == 0", True),
    ],
)
def test_evaluate(expression, expected):
    assert validate_expression(expression) is None
    assert evaluate(expression, CONTEXT) is expected


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("", "empty"),
        ("case.fields.x and", "not a valid condition"),
        ("a b", "not a valid condition"),
        ("x %}{% for y in z %}", "not a valid condition"),
        ("cusomer.tier == 'vip'", "did you mean 'customer'"),
        ("customer.teir == 'vip'", "did you mean 'tier'"),
        ("case.__class__", "case has no '__class__'"),
        ("os.system('ls')", "'os' is not a known name"),
        ("case.subject | nosuchfilter", "nosuchfilter"),
        ("x" * 3000, "longer than"),
    ],
)
def test_invalid_expressions(expression, words):
    problem = validate_expression(expression)
    assert problem is not None and words in problem


def test_evaluate_refuses_invalid_expressions_with_a_user_error():
    with pytest.raises(ExpressionError) as caught:
        evaluate("customer.teir == 'vip'", CONTEXT)
    assert isinstance(caught.value, SopdeskError)


def test_sandbox_blocks_unsafe_attribute_access_at_runtime():
    with pytest.raises(ExpressionError):
        evaluate("case.subject.__class__", {"case": {"subject": "x"}})


def test_runtime_type_errors_become_expression_errors():
    with pytest.raises(ExpressionError) as caught:
        evaluate("case.subject > 1", {"case": {"subject": "Refund"}})
    assert "is defined" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "expression",
    [
        "customer.cases_count > 1",
        "customer.cases_count <= 1",
        "customer.tier == 'vip'",
        "'vip' in customer.tags",
        "case.fields.a.b.c",
    ],
)
def test_a_missing_value_makes_a_comparison_false(expression):
    assert evaluate(expression, {"customer": {}, "case": {"fields": {}}}) is False


def test_names_are_dotted_paths_without_method_names():
    assert names("case.subject.lower() == 'x' and case.fields['order_number']") == {
        "case.subject",
        "case.fields.order_number",
    }


def test_expression_memory_bombs_are_refused():
    with pytest.raises(ExpressionError):
        evaluate("('x' * 1000000000) | length > 1", CONTEXT)
