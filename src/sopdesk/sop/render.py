"""Render an SOP document as one self-contained HTML page, for the screen and for print.

`render_html(document)` is pure: a `SopDocument` (and optionally a business calendar, a
worked-example start and lint findings) in, an HTML string out. No clock, no files
beyond the package's own template and stylesheet, no network.

SOP text is user input. Front matter values are escaped by Jinja2's autoescape; the
Markdown sections go through markdown-it-py with raw HTML disabled and then through
nh3; message templates are shown as escaped source text with their `{{ … }}`
placeholders highlighted, never executed. The page carries a Content-Security-Policy
that forbids scripts and every external resource, as a second line of defence.

Must not import the store, the engine, the web app or anything that does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from importlib import resources
from typing import Any

import nh3
from jinja2 import Environment, StrictUndefined, Template
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markupsafe import Markup, escape

from sopdesk.calendar import Calendar, CalendarError, Duration, Unit, add, default_calendar
from sopdesk.calendar.hours import Week
from sopdesk.sop.findings import Finding, Severity, sort_findings
from sopdesk.sop.model import (
    SECTION_TITLES,
    SYSTEM_OWNER,
    AppliesTo,
    Channel,
    FrontMatter,
    Section,
    SectionKey,
    SopDocument,
    Step,
    Trigger,
    parse_comparison,
)
from sopdesk.sop.timephrase import (
    OPENED,
    TimeLimit,
    TimePhraseError,
    parse_cadence,
    parse_escalation_point,
    parse_limit,
)

__all__ = [
    "ASSUMED_EVENT_DELAY",
    "DEFAULT_EXAMPLE_START",
    "WorkedExample",
    "default_example_start",
    "format_instant",
    "highlight_placeholders",
    "hours_in_words",
    "limit_in_words",
    "markdown_to_html",
    "placeholder_names",
    "render_html",
    "scope_in_words",
    "worked_example",
]

DEFAULT_EXAMPLE_START = datetime(2025, 3, 14, 16, 30)  # noqa: DTZ001  (a wall time)
"""Friday 14 March 2025, 16:30: half an hour before closing on a Friday, the case that
shows best how business time differs from clock time. Localised to the calendar."""

ASSUMED_EVENT_DELAY = Duration(3, Unit.DAY, business=True)
"""In the worked example, events (the item arrives, the case is resolved, …) are assumed
to happen this long after the case opened."""

# --- Words ----------------------------------------------------------------------------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_CHANNEL_WORDS: dict[Channel, str] = {
    Channel.EMAIL: "email",
    Channel.WEB: "web",
    Channel.API: "API",
    Channel.PHONE: "phone",
    Channel.SMS: "SMS",
    Channel.CHAT: "chat",
    Channel.CALL: "phone call",
}
_BUILTIN_EVENT_WORDS: dict[str, str] = {
    "resolved": "the case is resolved",
    "closed": "the case is closed",
    "reopened": "the case is reopened",
    "first_response": "the first response is sent",
}
_STANDARD_NAMES: dict[str, str] = {
    "first_response": "First response",
    "response_time": "Response time",
    "resolution": "Resolution",
    "time_to_resolution": "Time to resolution",
    "csat": "Customer satisfaction (CSAT)",
    "fcr": "First-contact resolution (FCR)",
    "first_contact_resolution": "First-contact resolution (FCR)",
    "repeat_complaints": "Repeat complaints",
    "repeat_business": "Repeat business",
    "nps": "Net promoter score (NPS)",
    "sla_compliance": "SLA compliance",
    "reopen_rate": "Reopen rate",
    "escalation_rate": "Escalation rate",
    "next_response": "Next response",
    "periodic_update": "Periodic update",
}
_ACRONYMS = frozenset({"sla", "csat", "fcr", "nps", "faq", "ces", "aht", "kpi"})
_COMPARISON_WORDS = {
    ">=": "at least",
    ">": "more than",
    "<=": "at most",
    "<": "less than",
    "=": "exactly",
}
_OPERATOR_WORDS = {
    "==": "is",
    "!=": "is not",
    ">=": "is at least",
    "<=": "is at most",
    ">": "is more than",
    "<": "is less than",
}
_FIELD_SET = re.compile(r"^\s*(not\s+)?case\.fields\.([A-Za-z_]\w*)\s*$")
_FIELD_COMPARE = re.compile(r"^\s*case\.fields\.([A-Za-z_]\w*)\s*(==|!=|>=|<=|>|<)\s*(\S.*?)\s*$")
_TEMPLATE_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.DOTALL)


def _join(items: Sequence[str | Markup], last: str) -> Markup:
    """`a, b or c` with every item escaped (Markup items are kept as they are)."""
    parts = [escape(item) for item in items]
    if len(parts) <= 1:
        return Markup("").join(parts)
    return Markup(", ").join(parts[:-1]) + Markup(" {} ").format(last) + parts[-1]


def _capital(text: Markup) -> Markup:
    """Capitalise the first letter of a phrase that starts with a plain word."""
    if text[:1].isalpha():
        return text[:1].upper() + text[1:]
    return text


def _lower_first(text: str) -> str:
    """`The returned item arrived.` -> `the returned item arrived`; keeps `SLA` as is."""
    text = text.strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def format_instant(moment: datetime, *, year: bool = False) -> str:
    """`Friday 14 March 16:30` (English, locale-independent); with the year on request."""
    text = f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]}"
    if year:
        text += f" {moment.year}"
    return f"{text} {moment:%H:%M}"


def _time_tag(moment: datetime, *, year: bool = False) -> Markup:
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(), format_instant(moment, year=year)
    )


@dataclass(frozen=True)
class _Vocabulary:
    """What the words of one SOP mean: role titles, step numbers, events and fields."""

    meta: FrontMatter

    @cached_property
    def step_numbers(self) -> dict[str, int]:
        return {step.id: number for number, step in enumerate(self.meta.steps, start=1)}

    @cached_property
    def step_titles(self) -> dict[str, str]:
        return {step.id: step.title for step in self.meta.steps}

    def role(self, role_id: str | None) -> Markup:
        if role_id is None:
            return Markup('<span class="muted">Not assigned</span>')
        if role_id == SYSTEM_OWNER:
            return Markup("sopdesk (automatic)")
        role = self.meta.roles.get(role_id)
        if role is None:
            return Markup("<code>{}</code>").format(role_id)
        return Markup('{} <span class="id">{}</span>').format(role.title, role_id)

    def step_link(self, step_id: str) -> Markup:
        """`step 1 (Acknowledge the return request)`, linked to the step."""
        if step_id not in self.step_numbers:
            return Markup("<code>{}</code>").format(step_id)
        return Markup('<a href="#step-{}">step {} ({})</a>').format(
            step_id, self.step_numbers[step_id], self.step_titles[step_id]
        )

    def event(self, anchor: str) -> Markup:
        """The anchor as a clause: `the returned item arrived at the warehouse`."""
        if anchor in _BUILTIN_EVENT_WORDS:
            return escape(_BUILTIN_EVENT_WORDS[anchor])
        description = self.meta.events.get(anchor)
        if description:
            return escape(_lower_first(description))
        return Markup("<code>{}</code> happens").format(anchor)

    def anchor(self, anchor: str) -> Markup:
        """What a limit counts from, after the word `after`."""
        if anchor in self.step_numbers:
            return self.step_link(anchor) + Markup(" is done")
        return self.event(anchor)


def limit_in_words(limit: TimeLimit, vocabulary: _Vocabulary, *, within: bool = True) -> Markup:
    """`within 24 business hours of the case opening`, `5 business days after <event>`.

    With `within=False` (follow-ups): `1 day after the case is resolved`.
    """
    if limit.duration.amount == 0:
        if limit.anchor == OPENED:
            return Markup("immediately when the case opens")
        return Markup("immediately after ") + vocabulary.anchor(limit.anchor)
    if limit.anchor == OPENED and within:
        return Markup("within {} of the case opening").format(str(limit.duration))
    if limit.anchor == OPENED:
        return Markup("{} after the case opens").format(str(limit.duration))
    prefix = "within " if within else ""
    return Markup("{}{} after ").format(prefix, str(limit.duration)) + vocabulary.anchor(
        limit.anchor
    )


def _safe_limit(text: str | None) -> TimeLimit | None:
    if text is None:
        return None
    try:
        return parse_limit(text)
    except TimePhraseError:
        return None


def condition_in_words(expression: str, vocabulary: _Vocabulary) -> Markup:
    """`case.fields.item_received` -> `Only when item_received is set (set when …)`."""
    match = _FIELD_SET.match(expression)
    if match:
        negated, name = match.groups()
        text = Markup("Only when <code>{}</code> is {}").format(
            name, "not set" if negated else "set"
        )
        description = vocabulary.meta.fields.get(name)
        if description:
            text += Markup(" ({})").format(_lower_first(description))
        return text
    match = _FIELD_COMPARE.match(expression)
    if match:
        name, operator, value = match.groups()
        return Markup("Only when <code>{}</code> {} <code>{}</code>").format(
            name, _OPERATOR_WORDS[operator], value
        )
    return Markup("Only when <code>{}</code>").format(expression.strip())


def scope_in_words(applies_to: AppliesTo) -> Markup:
    """`Starts for cases of type return arriving by email, web or API that mention …`."""
    starts = {
        Trigger.CASE: Markup("Starts for cases"),
        Trigger.CUSTOMER_CREATED: Markup("Starts when a new customer is created"),
        Trigger.PURCHASE: Markup("Starts when a customer makes a purchase"),
        Trigger.MANUAL: Markup("Started by hand by a team member"),
    }
    text = starts[applies_to.trigger]
    if applies_to.case_type:
        text += Markup(" of type <strong>{}</strong>").format(applies_to.case_type)
    if applies_to.channels:
        channels = [_CHANNEL_WORDS[channel] for channel in applies_to.channels]
        text += Markup(" arriving by ") + _join(channels, "or")
    if applies_to.customer_tags:
        tags = [Markup("<strong>{}</strong>").format(tag) for tag in applies_to.customer_tags]
        text += Markup(" from customers tagged ") + _join(tags, "or")
    if applies_to.keywords:
        words = [Markup("“{}”").format(word) for word in applies_to.keywords]
        text += Markup(" that mention ") + _join(words, "or")
    if applies_to.when:
        text += Markup(", and only when <code>{}</code>").format(applies_to.when)
    if applies_to.trigger is Trigger.CASE and text == starts[Trigger.CASE]:
        text = Markup("Starts for every new case")
    return text + Markup(".")


def _cadence_in_words(review: str) -> str:
    """`quarterly`, `every 6 months`; text outside the grammar is shown as written."""
    try:
        return str(parse_cadence(review))
    except TimePhraseError:
        return review


def standard_in_words(key: str, value: str, vocabulary: _Vocabulary) -> tuple[str, Markup]:
    """(`First response`, `Within 24 business hours`), (`CSAT`, `At least 4.5`)."""
    name = _STANDARD_NAMES.get(key) or _humanise(key)
    comparison = parse_comparison(value)
    if comparison is not None:
        operator, number, percent = comparison
        amount = f"{number:g}{'%' if percent else ''}"
        return name, Markup("{} {}").format(_COMPARISON_WORDS[operator].capitalize(), amount)
    limit = _safe_limit(value)
    if limit is not None and limit.anchor == OPENED:
        return name, Markup("Within {}").format(str(limit.duration))
    if limit is not None:
        return name, _capital(limit_in_words(limit, vocabulary))
    return name, escape(value)


def _humanise(key: str) -> str:
    """`sla_breach_rate` -> `SLA breach rate`."""
    words = key.replace("-", "_").split("_")
    text = " ".join(w.upper() if w in _ACRONYMS else w for w in words if w)
    return text[:1].upper() + text[1:]


# --- Markdown and templates --------------------------------------------------------------

_ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"scope"}}
_URL_SCHEMES = {"http", "https", "mailto"}


def _image_as_link(self: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
    """Images would be external assets: show them as a link to the image instead."""
    token = tokens[index]
    alt = self.renderInlineAsText(token.children, options, env) or "image"
    source = escapeHtml(token.attrGet("src") or "")
    return f'<a href="{source}">{escapeHtml(alt)} (image)</a>'


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": True})
    md.enable(["table", "strikethrough", "replacements", "smartquotes"])
    md.add_render_rule("image", _image_as_link)
    return md


def markdown_to_html(text: str, *, top_level: int = 3) -> Markup:
    """Render SOP Markdown to sanitised HTML; headings start at `top_level` (h3 by default)."""
    md = _markdown()
    tokens = md.parse(text)
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            token.tag = f"h{min(6, max(top_level, int(token.tag[1])))}"
        elif token.type == "th_open":
            token.attrs = {"scope": "col"}
        elif token.type == "td_open":
            token.attrs = {}
    html = md.renderer.render(tokens, md.options, {})
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return Markup(cleaned)  # noqa: S704  (sanitised by nh3 just above)


def highlight_placeholders(text: str) -> Markup:
    """Escape template source and wrap each `{{ … }}` (and `{% … %}`) in a styled span."""
    parts: list[Markup] = []
    for index, piece in enumerate(_TEMPLATE_TAG.split(text)):
        if index % 2 == 0:
            parts.append(escape(piece))
        elif piece.startswith("{{"):
            parts.append(Markup('<span class="ph">{}</span>').format(piece))
        else:
            parts.append(Markup('<span class="ph ph-logic">{}</span>').format(piece))
    return Markup("").join(parts)


def placeholder_names(text: str) -> list[str]:
    """`Dear {{ customer.first_name | title }}` -> [`customer.first_name`], in order, once."""
    names: list[str] = []
    for piece in _TEMPLATE_TAG.findall(text):
        if piece.startswith("{{"):
            name = piece[2:-2].split("|", 1)[0].strip()
            if name and name not in names:
                names.append(name)
    return names


# --- The worked example -------------------------------------------------------------------


def default_example_start(calendar: Calendar) -> datetime:
    """Friday 14 March 2025 16:30 in the calendar's timezone."""
    return DEFAULT_EXAMPLE_START.replace(tzinfo=calendar.zone)


@dataclass(frozen=True)
class ExampleDue:
    """One step's (or follow-up's) example deadline and the sentence that explains it."""

    key: str
    anchor: str
    origin: datetime
    due: datetime
    sentence: Markup
    origin_label: Markup


@dataclass
class WorkedExample:
    calendar: Calendar
    start: datetime
    assumed_event: datetime
    steps: dict[str, ExampleDue] = field(default_factory=dict)
    followups: dict[int, ExampleDue] = field(default_factory=dict)
    uses_assumption: bool = False


class _ExampleBuilder:
    """Chains example due times through step anchors; events get the assumed time."""

    def __init__(self, meta: FrontMatter, example: WorkedExample) -> None:
        self.meta = meta
        self.vocabulary = _Vocabulary(meta)
        self.example = example
        self.steps = {step.id: step for step in meta.steps}

    def origin(self, anchor: str, trail: frozenset[str]) -> datetime | None:
        if anchor == OPENED:
            return self.example.start
        if anchor in self.steps:
            due = self.step_due(anchor, trail)
            return due.due if due else None
        self.example.uses_assumption = True
        return self.example.assumed_event

    def step_due(self, step_id: str, trail: frozenset[str] = frozenset()) -> ExampleDue | None:
        if step_id in self.example.steps:
            return self.example.steps[step_id]
        step = self.steps[step_id]
        limit = _safe_limit(step.within)
        if limit is None or step_id in trail:
            return None
        origin = self.origin(limit.anchor, trail | {step_id})
        if origin is None:
            return None
        due = add(self.example.calendar, origin, limit.duration)
        sentence = self.sentence(limit.anchor, origin, due, "this step is due")
        label = self.origin_label(limit.anchor)
        self.example.steps[step_id] = ExampleDue(
            step_id, limit.anchor, origin, due, sentence, label
        )
        return self.example.steps[step_id]

    def origin_label(self, anchor: str) -> Markup:
        if anchor == OPENED:
            return Markup("the case opened")
        if anchor in self.steps:
            return Markup("step {} due").format(self.vocabulary.step_numbers[anchor])
        return Markup("assumed: ") + self.vocabulary.event(anchor)

    def sentence(self, anchor: str, origin: datetime, due: datetime, subject: str) -> Markup:
        year = origin.year != due.year
        if anchor == OPENED:
            if subject == "this step is due":
                return Markup("A case opened {} is due {}.").format(
                    _time_tag(origin, year=year), _time_tag(due, year=year)
                )
            return Markup("For a case opened {}, {} {}.").format(
                _time_tag(origin, year=year), subject, _time_tag(due, year=year)
            )
        if anchor in self.steps:
            return Markup("If {} at its deadline, {}, {} {}.").format(
                self.vocabulary.anchor(anchor),
                _time_tag(origin, year=year),
                subject,
                _time_tag(due, year=year),
            )
        return Markup("If {} on {}, {} {}.").format(
            self.vocabulary.event(anchor),
            _time_tag(origin, year=year),
            subject,
            _time_tag(due, year=year),
        )

    def followup_due(self, index: int, after: str) -> None:
        limit = _safe_limit(after)
        if limit is None:
            return
        origin = self.origin(limit.anchor, frozenset())
        if origin is None:
            return
        due = add(self.example.calendar, origin, limit.duration)
        sentence = self.sentence(limit.anchor, origin, due, "it is sent")
        label = self.origin_label(limit.anchor)
        self.example.followups[index] = ExampleDue(
            f"followup-{index}", limit.anchor, origin, due, sentence, label
        )


def worked_example(document: SopDocument, calendar: Calendar, start: datetime) -> WorkedExample:
    """Example due times of every step and follow-up for a case opened at `start`.

    A step counted from another step starts at that step's example deadline; a step or
    follow-up counted from an event starts at the assumed event time
    (`ASSUMED_EVENT_DELAY` after `start`). Raises `CalendarError` for a calendar that
    cannot answer (e.g. one that never opens).
    """
    meta = document.meta
    start = start.replace(tzinfo=calendar.zone) if start.tzinfo is None else start
    start = start.astimezone(calendar.zone)
    assumed = add(calendar, start, ASSUMED_EVENT_DELAY)
    example = WorkedExample(calendar, start, assumed)
    builder = _ExampleBuilder(meta, example)
    for step in meta.steps:
        builder.step_due(step.id)
    for index, followup in enumerate(meta.followups):
        builder.followup_due(index, followup.after)
    return example


# --- Page model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepView:
    number: int
    step: Step
    owner: Markup
    limit: Markup | None
    limit_sentence: Markup | None
    condition: Markup | None
    template: Markup | None
    details: Markup | None
    example: ExampleDue | None


@dataclass(frozen=True)
class EscalationRow:
    level: int
    when: Markup
    note: str | None
    notify: Markup
    assign: Markup
    priority: str
    respond: Markup


@dataclass(frozen=True)
class FollowupView:
    timing: Markup
    action: Markup
    unless: Markup | None
    example: ExampleDue | None


@dataclass(frozen=True)
class TemplateView:
    id: str
    label: Markup
    subject: Markup | None
    body: Markup
    channel: str
    placeholders: list[str]
    used_by: list[Markup]


@dataclass(frozen=True)
class PageSection:
    id: str
    title: str
    kind: str
    prose: Markup | None = None
    major: bool = False


@dataclass(frozen=True)
class FindingView:
    severity: str
    code: str
    where: str
    message: str
    hint: str


def _template_label(template_id: str, meta: FrontMatter) -> Markup:
    """A template's human name: its description, else its subject, else its id."""
    template = meta.templates.get(template_id)
    if template is None:
        return Markup("<code>{}</code>").format(template_id)
    if template.description:
        return escape(template.description)
    if template.subject:
        return highlight_placeholders(template.subject)
    return Markup("<code>{}</code>").format(template_id)


def _template_link(template_id: str, meta: FrontMatter) -> Markup:
    if template_id not in meta.templates:
        return Markup("<code>{}</code> (missing)").format(template_id)
    return Markup('<a href="#template-{}">{}</a> <span class="id">{}</span>').format(
        template_id, _template_label(template_id, meta), template_id
    )


def _step_views(
    meta: FrontMatter, vocabulary: _Vocabulary, example: WorkedExample | None
) -> Iterator[StepView]:
    for number, step in enumerate(meta.steps, start=1):
        limit = _safe_limit(step.within)
        words = limit_in_words(limit, vocabulary) if limit else None
        yield StepView(
            number=number,
            step=step,
            owner=vocabulary.role(step.owner),
            limit=words,
            limit_sentence=_capital(words) if words else None,
            condition=condition_in_words(step.when, vocabulary) if step.when else None,
            template=_template_link(step.send, meta) if step.send else None,
            details=markdown_to_html(step.details, top_level=4) if step.details else None,
            example=example.steps.get(step.id) if example else None,
        )


def _point_in_words(text: str, metric: str | None, vocabulary: _Vocabulary) -> Markup:
    try:
        point = parse_escalation_point(text)
    except TimePhraseError:
        return escape(text)
    target = Markup("a step’s time limit")
    if metric:
        if metric in vocabulary.step_numbers:
            target = Markup("the time limit of ") + vocabulary.step_link(metric)
        else:
            name = _STANDARD_NAMES.get(metric) or _humanise(metric)
            target = Markup("the {} target").format(name.lower() if name[1:2].islower() else name)
    if point.percent is not None:
        return Markup("At {}% of ").format(point.percent) + target
    if point.after_breach is not None:
        return Markup("{} after {} runs out").format(str(point.after_breach), target)
    return Markup("When {} runs out").format(target)


def _escalation_rows(meta: FrontMatter, vocabulary: _Vocabulary) -> list[EscalationRow]:
    rows = []
    dash = Markup('<span class="muted">—</span>')
    for index, level in enumerate(meta.escalation, start=1):
        respond = _safe_limit(level.respond_within)
        notify = [vocabulary.role(role) for role in level.notify]
        rows.append(
            EscalationRow(
                level=level.level or index,
                when=_point_in_words(level.at, level.metric, vocabulary),
                note=level.note,
                notify=_join(notify, "and") if notify else dash,
                assign=vocabulary.role(level.assign) if level.assign else dash,
                priority=(level.priority or "unchanged").capitalize(),
                respond=Markup("Within {}").format(str(respond.duration)) if respond else dash,
            )
        )
    return rows


def _followup_timing(after: str, vocabulary: _Vocabulary) -> Markup:
    limit = _safe_limit(after)
    return limit_in_words(limit, vocabulary, within=False) if limit else escape(after)


def _followup_views(
    meta: FrontMatter, vocabulary: _Vocabulary, example: WorkedExample | None
) -> list[FollowupView]:
    views = []
    for index, followup in enumerate(meta.followups):
        who = vocabulary.role(followup.owner) if followup.owner else Markup("sopdesk")
        action = who + Markup(" sends ") + _template_link(followup.send, meta)
        action += Markup(" by {}").format(_CHANNEL_WORDS[followup.channel])
        views.append(
            FollowupView(
                timing=_capital(_followup_timing(followup.after, vocabulary)),
                action=action,
                unless=(
                    Markup("<code>{}</code>").format(followup.unless) if followup.unless else None
                ),
                example=example.followups.get(index) if example else None,
            )
        )
    return views


def _template_views(meta: FrontMatter, vocabulary: _Vocabulary) -> list[TemplateView]:
    views = []
    for template_id, template in meta.templates.items():
        used_by = [vocabulary.step_link(s.id) for s in meta.steps if s.send == template_id]
        used_by += [
            Markup("the follow-up ") + _followup_timing(f.after, vocabulary)
            for f in meta.followups
            if f.send == template_id
        ]
        source = (template.subject or "") + "\n" + template.body
        views.append(
            TemplateView(
                id=template_id,
                label=_template_label(template_id, meta),
                subject=highlight_placeholders(template.subject) if template.subject else None,
                body=highlight_placeholders(template.body.rstrip("\n")),
                channel=_CHANNEL_WORDS[template.channel].capitalize(),
                placeholders=placeholder_names(source),
                used_by=used_by,
            )
        )
    return views


_SECTION_ORDER: tuple[tuple[str, SectionKey | None, str, bool], ...] = (
    ("purpose", SectionKey.PURPOSE, "Purpose", False),
    ("scope", SectionKey.SCOPE, "Scope", False),
    ("responsibilities", SectionKey.RESPONSIBILITIES, "Roles and responsibilities", False),
    ("procedure", SectionKey.PROCEDURE, "Procedure", True),
    ("deadlines", None, "When things are due: a worked example", False),
    ("followups", None, "Follow-ups", False),
    ("escalation", SectionKey.ESCALATION, "Escalation", True),
    ("standards", SectionKey.STANDARDS, "Performance standards", False),
    ("tools", SectionKey.TOOLS, SECTION_TITLES[SectionKey.TOOLS], False),
    ("records", SectionKey.RECORDS, SECTION_TITLES[SectionKey.RECORDS], False),
    ("troubleshooting", SectionKey.TROUBLESHOOTING, "Troubleshooting", False),
    ("other", None, "", False),
    ("templates", None, "Message templates", True),
    ("glossary", SectionKey.GLOSSARY, "Glossary", True),
)


def _prose(sections: Iterable[Section]) -> Markup | None:
    parts = [markdown_to_html(section.markdown) for section in sections if section.markdown]
    return Markup("\n").join(parts) if parts else None


def _has_structure(kind: str, meta: FrontMatter, outcome: _Example) -> bool:
    example = outcome.example
    structured = {
        "scope": True,
        "responsibilities": bool(meta.roles),
        "procedure": bool(meta.steps),
        "deadlines": bool(outcome.problem or (example and example.steps)),
        "followups": bool(meta.followups),
        "escalation": bool(meta.escalation),
        "standards": bool(meta.standards),
        "templates": bool(meta.templates),
        "glossary": bool(meta.events or meta.fields),
    }
    return structured.get(kind, False)


def _page_sections(document: SopDocument, outcome: _Example) -> list[PageSection]:
    pages: list[PageSection] = []
    for kind, key, title, major in _SECTION_ORDER:
        if kind == "other":
            pages += _other_sections(document.sections)
            continue
        matching = [s for s in document.sections if key is not None and s.key == key]
        prose = _prose(matching)
        if prose is None and not _has_structure(kind, document.meta, outcome):
            continue
        pages.append(PageSection(kind, title, kind, prose, major))
    return pages


def _other_sections(sections: Sequence[Section]) -> list[PageSection]:
    pages = []
    for number, section in enumerate(sections, start=1):
        if section.key is None and section.markdown.strip():
            slug = re.sub(r"[^a-z0-9]+", "-", section.title.lower()).strip("-")
            pages.append(
                PageSection(
                    f"section-{number}-{slug}"[:60],
                    section.title,
                    "other",
                    _prose([section]),
                )
            )
    return pages


def _finding_views(findings: Sequence[Finding]) -> list[FindingView]:
    return [
        FindingView(
            severity=finding.severity.value,
            code=finding.code,
            where=f"line {finding.line}, column {finding.column}",
            message=finding.message,
            hint=finding.hint,
        )
        for finding in sort_findings(list(findings))
    ]


# --- The page --------------------------------------------------------------------------------


@cache
def _page_template() -> Template:
    assets = resources.files("sopdesk.sop.render_assets")
    environment = Environment(
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.from_string(assets.joinpath("page.html.j2").read_text(encoding="utf-8"))


@cache
def stylesheet() -> Markup:
    """The page's CSS (package data, trusted)."""
    css = resources.files("sopdesk.sop.render_assets").joinpath("sop.css").read_text("utf-8")
    return Markup(css.replace("</", "<\\/"))  # noqa: S704  (our own file, never user text)


@dataclass(frozen=True)
class _Example:
    """The worked example, or why there is none."""

    example: WorkedExample | None
    problem: str | None = None


def _example(document: SopDocument, calendar: Calendar | None, start: datetime | None) -> _Example:
    meta = document.meta
    if not any(s.within for s in meta.steps) and not meta.followups:
        return _Example(None)
    calendar = calendar or default_calendar()
    try:
        return _Example(
            worked_example(document, calendar, start or default_example_start(calendar))
        )
    except CalendarError as exc:
        return _Example(None, exc.message)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def hours_in_words(week: Week) -> str:
    """`Monday to Friday 09:00–17:00; Saturday 10:00–14:00` (closed days left out)."""
    groups: list[str] = []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and week[last + 1] == week[day]:
            last += 1
        if week[day]:
            days = _DAYS[day] if last == day else f"{_DAYS[day]} to {_DAYS[last]}"
            days = "every day" if (day, last) == (0, 6) else days
            slots = " and ".join(f"{_clock(a)}–{_clock(b)}" for a, b in week[day])
            slots = "around the clock" if slots == "00:00–24:00" else slots
            groups.append(f"{days} {slots}")
        day = last + 1
    return "; ".join(groups) or "no opening hours"


def _calendar_in_words(calendar: Calendar) -> str:
    text = f"“{calendar.name}” calendar: open {hours_in_words(calendar.week)}"
    if calendar.holidays:
        text += f", closed on public holidays ({', '.join(calendar.holidays)})"
    return text


def _owner_step_ids(meta: FrontMatter) -> dict[str, list[Markup]]:
    owned: dict[str, list[Markup]] = {}
    vocabulary = _Vocabulary(meta)
    for step in meta.steps:
        if step.owner:
            owned.setdefault(step.owner, []).append(vocabulary.step_link(step.id))
    return owned


def render_html(
    document: SopDocument,
    *,
    calendar: Calendar | None = None,
    example_start: datetime | None = None,
    findings: Sequence[Finding] | None = None,
) -> str:
    """The SOP as one self-contained HTML page (inline CSS, no scripts, no external assets).

    `calendar` is a `sopdesk.calendar` business calendar (default: the default calendar);
    `example_start` is when the worked example's case opens (default: Friday 14 March 2025
    16:30 in the calendar's timezone; a naive value is read in that timezone); `findings`
    (lint results) are listed at the top when given.
    """
    meta = document.meta
    vocabulary = _Vocabulary(meta)
    outcome = _example(document, calendar, example_start)
    example = outcome.example
    standards = [standard_in_words(k, v, vocabulary) for k, v in meta.standards.items()]
    steps = list(_step_views(meta, vocabulary, example))
    headline = next((v for v in steps if v.example and v.example.anchor == OPENED), None)
    context = {
        "lang": "en",
        "css": stylesheet(),
        "meta": meta,
        "owner": vocabulary.role(meta.owner),
        "review": _cadence_in_words(meta.review),
        "scope": scope_in_words(meta.applies_to),
        "sections": _page_sections(document, outcome),
        "roles": meta.roles,
        "owned": _owner_step_ids(meta),
        "steps": steps,
        "headline": headline,
        "example": example,
        "example_problem": outcome.problem,
        "calendar_words": _calendar_in_words(example.calendar) if example else "",
        "followups": _followup_views(meta, vocabulary, example),
        "escalation": _escalation_rows(meta, vocabulary),
        "standards": standards,
        "templates": _template_views(meta, vocabulary),
        "findings": _finding_views(findings or []),
        "assumed_delay": str(ASSUMED_EVENT_DELAY),
        "error_count": sum(1 for f in findings or [] if f.severity is Severity.ERROR),
        "time_tag": _time_tag,
    }
    return _page_template().render(context)
