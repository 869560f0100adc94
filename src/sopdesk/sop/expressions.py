"""Conditions: `when`, `unless` and `applies_to.when` as sandboxed Jinja2 expressions.

Owns the reading, checking and evaluation of conditions such as
`case.fields.item_received and customer.tier == "vip"`. They compile with Jinja2's
`ImmutableSandboxedEnvironment`, never `eval`; they may read only the names in
`templating.TEMPLATE_CONTEXT`. A value that is missing from the context is undefined:
it counts as false, and so does any ordering comparison with it (`<`, `<=`, `>`, `>=`).
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2 import nodes as jinja_nodes
from jinja2.parser import Parser

from sopdesk.errors import InvalidInput
from sopdesk.sop.templating import BoundedSandbox, dotted_names, unknown_name

MAX_EXPRESSION_LENGTH = 2000


class ExpressionError(InvalidInput):
    """A condition that could not be evaluated against the context it was given."""

    code = "expression"


class _Missing(ChainableUndefined):
    """A value the context does not have: false, and never greater or smaller than anything."""

    def _false(self, other: object) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _false


_ENV = BoundedSandbox(undefined=_Missing)


def parse_expression(text: str) -> jinja_nodes.Expr:
    """The Jinja2 AST of a condition; raises `jinja2.TemplateError` when it is not one."""
    parser = Parser(_ENV, text, state="variable")
    expression = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        parser.fail(f"unexpected {token.value or token.type!r} after the condition", token.lineno)
    return expression


def names(text: str) -> set[str]:
    """Dotted names a condition reads (`case.fields.item_received`, ...)."""
    return dotted_names(parse_expression(text))


def validate_expression(text: str) -> str | None:
    """Why `text` is not a valid condition, or None when it is."""
    if not isinstance(text, str) or not text.strip():
        return "the condition is empty"
    if len(text) > MAX_EXPRESSION_LENGTH:
        return f"the condition is longer than {MAX_EXPRESSION_LENGTH} characters"
    try:
        return _validated(text)
    except (RecursionError, MemoryError):
        return "the condition is nested too deeply"


MAX_CACHED_EXPRESSIONS = 1024


@lru_cache(maxsize=MAX_CACHED_EXPRESSIONS)
def _validated(text: str) -> str | None:
    """`validate_expression` for a non-empty text of allowed length, kept per text.

    Conditions are evaluated for every step of every case on every decision, and the
    answer depends on nothing but the text (the parser, the environment and
    `TEMPLATE_CONTEXT` are fixed), so it is computed once per distinct text (bounded
    LRU, thread-safe). Running out of stack or memory raises instead, so such a
    verdict is never cached.
    """
    try:
        read = names(text)
        _compiled(text)
    except TemplateError as exc:
        return f"not a valid condition: {exc.message or exc}"
    for dotted in sorted(read):
        problem = unknown_name(dotted)
        if problem:
            return problem
    return None


@lru_cache(maxsize=MAX_CACHED_EXPRESSIONS)
def _compiled(text: str) -> Callable[..., Any]:
    return _ENV.compile_expression(text)


def evaluate(text: str, context: dict[str, Any]) -> bool:
    """Evaluate a condition against a context; raises `ExpressionError` when it cannot."""
    problem = validate_expression(text)
    if problem:
        raise ExpressionError(f"condition {text!r}: {problem}")
    try:
        return bool(_compiled(text)(**context))
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise ExpressionError(
            f"condition {text!r} failed: {exc}",
            hint="compare values of the same kind; test a missing value with 'is defined'",
        ) from None
