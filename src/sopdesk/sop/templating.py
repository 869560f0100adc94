"""Message templates: the context they may use, their placeholders, and safe rendering.

Owns `TEMPLATE_CONTEXT`, the one schema of names a template placeholder or a condition
(`sop.expressions`) may use, and the sandboxed Jinja2 environments that render them.
Templates render with `StrictUndefined`, so a placeholder nothing fills is an error, never
an empty gap in a customer's email. Pure: no I/O, no clock.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from sopdesk.errors import InvalidInput


@dataclass(frozen=True)
class ContextRoot:
    """One top-level name (`case`, `customer`, ...) and the attributes it offers.

    `open_attributes` take any sub-key (`case.fields.<name>`); an `open` root takes any
    attribute (`links.<name>`).
    """

    description: str
    attributes: dict[str, str]
    open_attributes: frozenset[str] = field(default_factory=frozenset)
    open: bool = False


TEMPLATE_CONTEXT: dict[str, ContextRoot] = {
    "case": ContextRoot(
        "the customer case the SOP runs on",
        {
            "id": "the case's number in sopdesk",
            "reference": "the reference the customer sees, e.g. C-1042",
            "subject": "the subject line of the case",
            "description": "the customer's first message, as text",
            "type": "the case type, e.g. return",
            "channel": "where the case arrived: email, web, api, phone, sms, chat, call",
            "priority": "low, normal, high or urgent",
            "status": "open, waiting, resolved or closed",
            "tags": "the case's tags, a list of words",
            "fields": "the values declared under `fields`, e.g. case.fields.order_number",
            "reopened": "true when the case was reopened",
            "reopen_count": "how many times the case was reopened",
            "assignee": "the name of the agent who owns the case",
            "opened_at": "when the case opened",
            "first_response_at": "when the first reply was sent",
            "resolved_at": "when the case was resolved",
            "due_at": "when the case is due",
            "url": "the case's page for the customer",
        },
        open_attributes=frozenset({"fields"}),
    ),
    "customer": ContextRoot(
        "the person the case is for",
        {
            "name": "full name",
            "first_name": "first name (falls back to the full name)",
            "last_name": "last name",
            "email": "email address",
            "phone": "phone number",
            "company": "the customer's organisation",
            "language": "preferred language code, e.g. en",
            "tier": "the customer's tier, e.g. standard or vip",
            "tags": "the customer's tags, a list of words",
            "cases_count": "how many cases the customer has opened",
            "purchases": "how many purchases the customer has made",
            "lifetime_value": "total spent, in the company's currency",
            "first_seen_at": "when the customer first contacted the company",
            "last_purchase_at": "when the customer last bought something",
        },
    ),
    "step": ContextRoot(
        "the procedure step being carried out",
        {
            "id": "the step id",
            "title": "the step title",
            "owner": "the role that owns the step",
            "due_at": "when the step is due",
        },
    ),
    "agent": ContextRoot(
        "the team member handling the case",
        {
            "name": "full name",
            "first_name": "first name",
            "email": "email address",
            "role": "the agent's role id",
            "signature": "the agent's email signature",
        },
    ),
    "company": ContextRoot(
        "the business, from its settings",
        {
            "name": "the company name",
            "email": "the support address",
            "phone": "the support phone number",
            "website": "the public website",
            "address": "the postal address",
            "hours": "opening hours in words",
            "signature": "the team's shared signature",
        },
    ),
    "links": ContextRoot(
        "web links: survey, review, case, reply, unsubscribe, or any named in settings",
        {
            "survey": "the one-click satisfaction survey for this case",
            "review": "the public review page",
            "case": "the customer's page for this case",
            "reply": "a link to reply to the case",
            "unsubscribe": "stop follow-up messages",
        },
        open=True,
    ),
    "sop": ContextRoot(
        "the SOP document itself",
        {
            "id": "the SOP id",
            "title": "the SOP title",
            "version": "the published version number",
            "owner": "the role that owns the SOP",
        },
    ),
}


class TemplateRenderError(InvalidInput):
    """A template that could not be rendered with the context it was given."""

    code = "template_render"


MAX_REPEAT = 10_000
MAX_EXPONENT = 64


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, also refusing `"x" * 10**9`-style memory bombs."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        if operator == "*" and _too_long(left, right):
            raise SecurityError(f"a repeated text or list may be at most {MAX_REPEAT} long")
        return super().call_binop(context, operator, left, right)


def _too_long(left: Any, right: Any) -> bool:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * count > MAX_REPEAT
    return False


@lru_cache(maxsize=2)
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    return BoundedSandbox(
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
    )


MAX_COMPILED_TEMPLATES = 512


@lru_cache(maxsize=MAX_COMPILED_TEMPLATES)
def compiled_template(template_text: str, html: bool = False) -> Template:
    """The compiled template for `template_text`, kept per source text (bounded LRU).

    Safe to share: the key is the whole source text and the environment is fixed per
    `html` flag, so the same key always compiles to the same code; a compiled Jinja2
    `Template` holds no render state and may be rendered from many threads at once
    (`lru_cache` itself is thread-safe). A source that does not compile raises and is
    not cached, so the error is raised again on every render, as before.
    """
    return _environment(html).from_string(template_text)


def render_template(template_text: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render a template safely; `html=True` escapes values for HTML bodies."""
    try:
        template = compiled_template(template_text, html)
        return template.render(context)
    except TemplateError as exc:
        raise TemplateRenderError(
            f"cannot render the template: {exc.message or exc}",
            hint="every placeholder must be filled; see docs/sop-format.md#templates",
        ) from None


def syntax_error(template_text: str) -> tuple[str, int] | None:
    """`(message, line within the template)` when the template does not compile, else None."""
    try:
        _environment(False).compile(template_text)
    except TemplateSyntaxError as exc:
        return exc.message or "invalid template", exc.lineno or 1
    except TemplateError as exc:
        return exc.message or "invalid template", 1
    return None


def placeholders(template_text: str) -> set[str]:
    """Dotted names the template reads from its context (`customer.first_name`, ...).

    Loop variables and `{% set %}` names are the template's own and are not listed.
    Raises `TemplateSyntaxError` when the template does not parse.
    """
    tree = _environment(False).parse(template_text)
    roots = meta.find_undeclared_variables(tree)
    return {name for name in dotted_names(tree) if name.split(".")[0] in roots}


def dotted_names(tree: nodes.Node) -> set[str]:
    """Every `a.b.c` (or `a["b"]`) path read in a Jinja2 AST, without method names."""
    found: set[str] = set()
    _collect(tree, found)
    return found


def _collect(node: nodes.Node, found: set[str]) -> None:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        _collect(node.node.node, found)  # `x.lower()` reads x, not "x.lower"
        for child in node.iter_child_nodes(exclude=("node",)):
            _collect(child, found)
        return
    path = _dotted(node)
    if path is not None:
        found.add(path)
        return
    for child in node.iter_child_nodes():
        _collect(child, found)


def _dotted(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return node.name
    if isinstance(node, nodes.Getattr):
        parent = _dotted(node.node)
        return None if parent is None else f"{parent}.{node.attr}"
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        parent = _dotted(node.node)
        return None if parent is None else f"{parent}.{node.arg.value}"
    return None


def unknown_name(dotted: str) -> str | None:
    """Why `dotted` is not in `TEMPLATE_CONTEXT`, with a suggestion; None when it is."""
    root_name, *rest = dotted.split(".")
    root = TEMPLATE_CONTEXT.get(root_name)
    if root is None:
        return f"{root_name!r} is not a known name{_did_you_mean(root_name, TEMPLATE_CONTEXT)}"
    if not rest or root.open:
        return None
    attribute = rest[0]
    if attribute not in root.attributes:
        return f"{root_name} has no {attribute!r}{_did_you_mean(attribute, root.attributes)}"
    if len(rest) > 1 and attribute not in root.open_attributes:
        return f"{root_name}.{attribute} has no {rest[1]!r}"
    return None


def misspelt_link(dotted: str) -> str | None:
    """The built-in link `links.<name>` probably meant, when <name> is not one but is
    close to one ("surevy" → "survey"); None otherwise.

    Other names may be links the business set (`template_links` in the settings), which
    the document cannot know, so only near misses are reported, as a warning.
    """
    root_name, *rest = dotted.split(".")
    built_in = TEMPLATE_CONTEXT["links"].attributes
    if root_name != "links" or not rest or rest[0] in built_in:
        return None
    close = difflib.get_close_matches(rest[0], list(built_in), n=1, cutoff=0.75)
    return close[0] if close else None


def _did_you_mean(word: str, choices: dict[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known: {', '.join(sorted(choices))}"


def declared_field(dotted: str) -> str | None:
    """The field name in `case.fields.<name>...`, else None."""
    parts = dotted.split(".")
    if len(parts) >= 3 and parts[0] == "case" and parts[1] == "fields":
        return parts[2]
    return None
