"""The SOP linter: every error and weakness of a parsed SOP, positioned like a compiler.

Owns the semantic rules (codes SOP010, SOP011 and SOP1xx in `findings.CODES`): missing
components, unowned or untimed steps, vague language, placeholders nothing fills,
templates never sent or missing, undeclared roles, escalations nobody receives, unknown
or circular anchors, unmeasurable standards. The parser (`sop.parser`) owns the shape
of the file; this module judges its meaning. Pure: no I/O except `lint_paths`, which
only reads files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from jinja2 import TemplateError

from sopdesk.calendar.durations import Duration, Unit
from sopdesk.sop import expressions, templating
from sopdesk.sop.findings import Finding, severity_of, sort_findings
from sopdesk.sop.model import (
    SECTION_TITLES,
    SYSTEM_OWNER,
    Channel,
    SectionKey,
    SopDocument,
    Step,
    Trigger,
    parse_comparison,
)
from sopdesk.sop.parser import ParseResult, Position, YamlPath, load_sop
from sopdesk.sop.timephrase import (
    BUILTIN_EVENTS,
    OPENED,
    VAGUE_WORDS,
    TimeLimit,
    TimePhraseError,
    parse_cadence,
    parse_escalation_point,
    parse_limit,
)

TIME_METRICS: dict[str, str] = {
    "first_response": "time from the case opening to the first reply",
    "next_response": "time from a customer's message to the next reply",
    "periodic_update": "longest gap between updates to the customer on an open case",
    "resolution": "time from the case opening to its resolution",
}
SCORE_METRICS: dict[str, tuple[float, float]] = {
    "csat": (1.0, 5.0),
    "nps": (-100.0, 100.0),
    "ces": (1.0, 7.0),
}
RATE_METRICS: dict[str, str] = {
    "fcr": "share of cases resolved with one reply",
    "repeat_complaints": "share of customers who complain again within 90 days",
    "repeat_business": "share of customers who buy again",
    "reopen_rate": "share of resolved cases that reopen",
    "sla_compliance": "share of steps and cases done within their limits",
    "escalation_rate": "share of cases that reach an escalation level",
    "survey_response_rate": "share of surveys answered",
    "review_rate": "share of review requests that lead to a review",
}
MEASURABLE_METRICS = frozenset({*TIME_METRICS, *SCORE_METRICS, *RATE_METRICS})
"""Every standard sopdesk can measure from its event log."""

CORE_SECTIONS: dict[SectionKey, str] = {SectionKey.PURPOSE: "why the SOP exists"}
SUPPORTING_SECTIONS: dict[SectionKey, str] = {
    SectionKey.TOOLS: "the systems, documents and tools the team needs",
    SectionKey.RECORDS: "which records to keep, where, and for how long",
    SectionKey.TROUBLESHOOTING: "what to do when things do not go to plan",
    SectionKey.GLOSSARY: "the words a new hire may not know",
}
ROLE_EXEMPT = frozenset({SYSTEM_OWNER})
MAX_REVIEW_MONTHS = 12


@dataclass
class LintContext:
    """The document under review and how to place a finding in its file."""

    result: ParseResult
    document: SopDocument

    @property
    def path(self) -> str:
        return self.document.path or "<string>"

    def at(self, path: YamlPath, *, key: bool = False) -> Position:
        return self.result.position(path, key=key)

    def finding(self, code: str, position: Position, message: str, hint: str) -> Finding:
        line, column = self._clamp(position)
        return Finding(code, severity_of(code), self.path, line, column, message, hint)

    def in_text(self, path: YamlPath, text: str, offset: int) -> Position:
        """Position of character `offset` of the string value at `path`."""
        line, column = self.at(path)
        lines = self.source_lines
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        first = source_line[column - 1 : column]
        before = text[:offset]
        if first in {"|", ">"}:
            row = line + 1 + before.count("\n")
            target = lines[row - 1] if 0 < row <= len(lines) else ""
            indent = len(target) - len(target.lstrip(" "))
            return row, indent + len(before) - (before.rfind("\n") + 1) + 1
        if "\n" in before:
            return line, column
        return line, column + (1 if first in {"'", '"'} else 0) + offset

    @cached_property
    def source_lines(self) -> list[str]:
        return self.document.source.splitlines()

    def _clamp(self, position: Position) -> Position:
        last = max(1, len(self.source_lines))
        return min(max(1, position[0]), last), max(1, position[1])


Rule = Callable[[LintContext], Iterable[Finding]]


def lint(result: ParseResult) -> list[Finding]:
    """Parser findings plus every semantic finding, sorted by position. Never raises."""
    findings = list(result.findings)
    if result.document is None:
        return sort_findings(findings)
    context = LintContext(result, result.document)
    for rule in RULES:
        findings.extend(_run(rule, context))
    return sort_findings(findings)


def _run(rule: Rule, context: LintContext) -> list[Finding]:
    try:
        return list(rule(context))
    except Exception as exc:  # one faulty rule must not hide every other finding
        return [
            context.finding(
                "SOP199",
                (1, 1),
                f"rule {rule.__name__} failed: {type(exc).__name__}: {exc}",
                "report this with the SOP file attached",
            )
        ]


def lint_paths(paths: Iterable[str | Path]) -> list[Finding]:
    """Lint files and directories (walked for *.md). Unreadable paths become findings."""
    findings: list[Finding] = []
    for file in sop_files(paths):
        findings.extend(lint(load_sop(file)))
    return findings


NOT_SOPS = frozenset({"readme.md", "changelog.md", "contributing.md", "license.md"})
"""Markdown files a folder of SOPs often holds that are not SOPs; skipped when walking."""


def sop_files(paths: Iterable[str | Path]) -> list[Path]:
    """Each path itself, or the SOP files under it when it is a directory, sorted.

    Walking a directory skips hidden folders and files (`.git`, `.venv`) and the
    `NOT_SOPS` names; a file named explicitly is always returned.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.md") if _is_sop_file(p, path)))
        else:
            files.append(path)
    return files


def _is_sop_file(file: Path, root: Path) -> bool:
    relative = file.relative_to(root).parts
    return (
        file.is_file()
        and file.name.lower() not in NOT_SOPS
        and not any(part.startswith(".") for part in relative)
    )


# --- components --------------------------------------------------------------------------


def missing_components(ctx: LintContext) -> Iterator[Finding]:
    doc, meta = ctx.document, ctx.document.meta
    body_top = (doc.body_line, 1)
    for key, why in CORE_SECTIONS.items():
        if doc.section(key) is None:
            yield _missing_section(ctx, "SOP101", key, why, body_top)
    yield from _scope(ctx, body_top)
    if not meta.roles and doc.section(SectionKey.RESPONSIBILITIES) is None:
        yield ctx.finding(
            "SOP101",
            ctx.at(()),
            "no roles or responsibilities: nobody knows who does what",
            "declare roles (roles: {agent: {title: Support agent}}) and add a "
            "'# Responsibilities' section",
        )
    if not meta.steps:
        yield ctx.finding(
            "SOP101",
            ctx.at(()),
            "no procedure steps: there is nothing to run",
            "add steps: a list of {id, title, owner, within}",
        )
    for key, why in SUPPORTING_SECTIONS.items():
        if doc.section(key) is None:
            yield _missing_section(ctx, "SOP102", key, why, body_top)
    yield from _missing_runnable_parts(ctx)


def _missing_section(
    ctx: LintContext, code: str, key: SectionKey, why: str, position: Position
) -> Finding:
    title = SECTION_TITLES[key]
    return ctx.finding(code, position, f"no '{title}' section", f"add '# {title}': {why}")


def _scope(ctx: LintContext, body_top: Position) -> Iterator[Finding]:
    applies = ctx.document.meta.applies_to
    has_rules = bool(
        applies.case_type
        or applies.channels
        or applies.keywords
        or applies.customer_tags
        or applies.when
        or applies.trigger is not Trigger.CASE
    )
    has_section = ctx.document.section(SectionKey.SCOPE) is not None
    if not has_rules and not has_section:
        yield ctx.finding(
            "SOP101",
            ctx.at(()),
            "no scope: neither an applies_to rule nor a '# Scope' section says which cases "
            "this SOP covers",
            "add applies_to: {case_type: return} and a '# Scope' section in words",
        )
    elif not has_section:
        yield _missing_section(ctx, "SOP102", SectionKey.SCOPE, "which cases it covers", body_top)
    elif not has_rules:
        yield ctx.finding(
            "SOP102",
            ctx.at(("applies_to",), key=True),
            "no applies_to rule: no case will start this SOP on its own",
            "add applies_to with a case_type, channels or keywords, or trigger: manual",
        )


def _missing_runnable_parts(ctx: LintContext) -> Iterator[Finding]:
    meta = ctx.document.meta
    if not meta.standards:
        yield ctx.finding(
            "SOP102",
            ctx.at(()),
            "no performance standards: nobody can tell whether this SOP works",
            "add standards, e.g. first_response: 12 hours and csat: '>= 4.5'",
        )
    if not meta.escalation:
        yield ctx.finding(
            "SOP102",
            ctx.at(()),
            "no escalation matrix: late cases reach nobody",
            "add escalation: [{at: 75%, notify: team-lead}, {at: breach, assign: manager}]",
        )
    if not meta.templates:
        yield ctx.finding(
            "SOP102",
            ctx.at(()),
            "no message templates: every reply is written from scratch",
            "add templates: {acknowledge: {subject: ..., body: ...}}",
        )


def sections_in_order(ctx: LintContext) -> Iterator[Finding]:
    seen: set[SectionKey] = set()
    for section in ctx.document.sections:
        if not section.markdown.strip():
            yield ctx.finding(
                "SOP125",
                (section.line, 1),
                f"the '{section.title}' section is empty",
                "write a few sentences, or remove the heading",
            )
        if section.key is not None and section.key in seen:
            yield ctx.finding(
                "SOP125",
                (section.line, 1),
                f"a second '{section.title}' section",
                "merge it into the first one",
            )
        if section.key is not None:
            seen.add(section.key)


# --- steps ------------------------------------------------------------------------------


def steps_owned_and_timed(ctx: LintContext) -> Iterator[Finding]:
    for index, step in enumerate(ctx.document.meta.steps):
        where = ctx.at(("steps", index))
        if step.owner is None and step.critical:
            yield ctx.finding(
                "SOP104",
                where,
                f"critical step {step.id!r} has no owner",
                "add owner: <role> so a named role is accountable for it",
            )
        elif step.owner is None:
            yield ctx.finding(
                "SOP103",
                where,
                f"step {step.id!r} has no owner; it falls to whoever holds the case",
                "add owner: agent (or another declared role, or system)",
            )
        if step.within is None:
            yield ctx.finding(
                "SOP105",
                where,
                f"step {step.id!r} has no time limit",
                "add within: e.g. '1 business day' or '4 business hours after acknowledge'",
            )
        if step.owner == SYSTEM_OWNER and step.send is None:
            yield ctx.finding(
                "SOP119",
                ctx.at(("steps", index, "owner")),
                f"step {step.id!r} is owned by system but sends nothing",
                "add send: <template id>, or give the step to a person's role",
            )


def step_limits_within_standards(ctx: LintContext) -> Iterator[Finding]:
    meta = ctx.document.meta
    targets = {
        name: limit
        for name in ("first_response", "resolution")
        if (limit := _time_standard(meta.standards.get(name))) is not None
    }
    for index, step in enumerate(meta.steps):
        limit = _safe_limit(step.within)
        if limit is None or limit.anchor != OPENED:
            continue
        for name, target in targets.items():
            if name == "first_response" and step.send is None:
                continue
            if _longer(limit.duration, target):
                yield ctx.finding(
                    "SOP128",
                    ctx.at(("steps", index, "within")),
                    f"step {step.id!r} allows {limit.duration}, more than the {name} "
                    f"standard of {target}",
                    f"shorten the step's limit to at most {target}, or relax the standard",
                )


def _time_standard(text: str | None) -> Duration | None:
    if text is None:
        return None
    limit = _safe_limit(text.strip().lstrip("<=").strip())
    return limit.duration if limit is not None and limit.anchor == OPENED else None


def _longer(a: Duration, b: Duration) -> bool:
    """True when `a` is surely longer than `b` (business days and hours do not compare)."""
    if a.business != b.business:
        return False
    short = {Unit.MINUTE, Unit.HOUR}
    if a.business and (a.unit in short) != (b.unit in short):
        return False
    return a.minutes > b.minutes


def _safe_limit(text: str | None) -> TimeLimit | None:
    if text is None:
        return None
    try:
        return parse_limit(text)
    except TimePhraseError:
        return None


# --- anchors ----------------------------------------------------------------------------


def anchors_known(ctx: LintContext) -> Iterator[Finding]:
    meta = ctx.document.meta
    known = BUILTIN_EVENTS | set(meta.events) | {s.id for s in meta.steps}
    for path, text in _anchored_phrases(ctx.document):
        limit = _safe_limit(text)
        if limit is None or limit.anchor in known:
            continue
        if path[0] == "steps" and limit.anchor == meta.steps[int(path[1])].id:
            continue  # reported as a circle
        yield ctx.finding(
            "SOP112",
            ctx.at(path),
            f"{text!r} counts from {limit.anchor!r}, which is not a step, a declared event "
            "or a built-in event",
            _anchor_hint(limit.anchor, known),
        )


def _anchored_phrases(doc: SopDocument) -> Iterator[tuple[YamlPath, str]]:
    for index, step in enumerate(doc.meta.steps):
        if step.within:
            yield ("steps", index, "within"), step.within
    for index, followup in enumerate(doc.meta.followups):
        yield ("followups", index, "after"), followup.after


def _anchor_hint(anchor: str, known: set[str]) -> str:
    close = difflib.get_close_matches(anchor, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"declare it under events ({anchor}: what happened), or use opened / resolved"


def anchors_acyclic(ctx: LintContext) -> Iterator[Finding]:
    steps = ctx.document.meta.steps
    index_of = {step.id: index for index, step in enumerate(steps)}
    parent = {step.id: _step_anchor(step, index_of) for step in steps}
    cycles = _cycles(parent)
    in_cycle = {step_id for cycle in cycles for step_id in cycle}
    for cycle in cycles:
        loop = " -> ".join([*cycle, cycle[0]])
        for step_id in cycle:
            yield ctx.finding(
                "SOP113",
                ctx.at(("steps", index_of[step_id], "within")),
                f"step {step_id!r} is anchored in a circle ({loop}): it never becomes due",
                "anchor one of these steps on opened, a built-in event or an earlier step",
            )
    for step_id in parent:
        if step_id in in_cycle:
            continue
        blocked = _reaches(step_id, parent, in_cycle)
        if blocked is not None:
            yield ctx.finding(
                "SOP114",
                ctx.at(("steps", index_of[step_id], "within")),
                f"step {step_id!r} waits for {blocked!r}, which never becomes due",
                "break the circle its anchor leads to",
            )


def _step_anchor(step: Step, index_of: dict[str, int]) -> str | None:
    limit = _safe_limit(step.within)
    if limit is None or limit.anchor not in index_of:
        return None
    return limit.anchor


def _cycles(parent: dict[str, str | None]) -> list[list[str]]:
    cycles: list[list[str]] = []
    done: set[str] = set()
    for start in parent:
        trail: list[str] = []
        node: str | None = start
        while node is not None and node not in done and node not in trail:
            trail.append(node)
            node = parent.get(node)
        if node is not None and node in trail:
            cycles.append(trail[trail.index(node) :])
        done.update(trail)
    return cycles


def _reaches(start: str, parent: dict[str, str | None], targets: set[str]) -> str | None:
    seen: set[str] = set()
    node = parent.get(start)
    while node is not None and node not in seen:
        if node in targets:
            return node
        seen.add(node)
        node = parent.get(node)
    return None


def events_used(ctx: LintContext) -> Iterator[Finding]:
    meta = ctx.document.meta
    used = {
        limit.anchor for _, text in _anchored_phrases(ctx.document) if (limit := _safe_limit(text))
    }
    for name in meta.events:
        if name not in used:
            yield ctx.finding(
                "SOP124",
                ctx.at(("events", name), key=True),
                f"event {name!r} is declared but no step or follow-up counts from it",
                f"use it in a limit ('2 business days after {name}') or remove it",
            )


# --- templates --------------------------------------------------------------------------


def templates_exist_and_used(ctx: LintContext) -> Iterator[Finding]:
    meta = ctx.document.meta
    sent: set[str] = set()
    for list_key, items in (("steps", meta.steps), ("followups", meta.followups)):
        for index, item in enumerate(items):
            if item.send is None:
                continue
            sent.add(item.send)
            if item.send not in meta.templates:
                yield ctx.finding(
                    "SOP109",
                    ctx.at((list_key, index, "send")),
                    f"{list_key[:-1]} sends template {item.send!r}, which does not exist",
                    _template_hint(item.send, meta.templates),
                )
    for name in meta.templates:
        if name not in sent:
            yield ctx.finding(
                "SOP108",
                ctx.at(("templates", name), key=True),
                f"template {name!r} is never sent",
                f"send it from a step or follow-up (send: {name}), or remove it",
            )


def _template_hint(name: str, templates: dict[str, object]) -> str:
    close = difflib.get_close_matches(name, list(templates), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"add it under templates: ({name}: {{subject: ..., body: ...}})"


def templates_compile(ctx: LintContext) -> Iterator[Finding]:
    declared_fields = set(ctx.document.meta.fields)
    for name, template in ctx.document.meta.templates.items():
        for part in ("subject", "body"):
            text = getattr(template, part)
            if text:
                yield from _check_template(ctx, ("templates", name, part), text, declared_fields)
        if template.channel is Channel.EMAIL and not template.subject:
            yield ctx.finding(
                "SOP126",
                ctx.at(("templates", name), key=True),
                f"email template {name!r} has no subject",
                "add subject: a short line the customer recognises, e.g. "
                "'Your return – {{ case.reference }}'",
            )


def _check_template(
    ctx: LintContext, path: YamlPath, text: str, declared_fields: set[str]
) -> Iterator[Finding]:
    problem = templating.syntax_error(text)
    if problem is not None:
        message, line = problem
        yield ctx.finding(
            "SOP011",
            ctx.in_text(path, text, _line_offset(text, line)),
            f"{_describe(path)} is not a valid template: {message}",
            "placeholders are written {{ customer.first_name }}; check the braces",
        )
        return
    try:
        names = templating.placeholders(text)
    except (TemplateError, RecursionError):
        return
    for dotted in sorted(names):
        offset = _find_name(text, dotted)
        problem_text = templating.unknown_name(dotted)
        if problem_text:
            yield ctx.finding(
                "SOP107",
                ctx.in_text(path, text, offset),
                f"placeholder {{{{ {dotted} }}}} in {_describe(path)}: nothing fills it "
                f"({problem_text})",
                "use a name listed in docs/sop-format.md#template-context",
            )
        meant = templating.misspelt_link(dotted)
        if meant is not None:
            yield ctx.finding(
                "SOP129",
                ctx.in_text(path, text, offset),
                f"{{{{ {dotted} }}}} in {_describe(path)} is not a built-in link; "
                f"did you mean links.{meant}?",
                f"write links.{meant}, or set {dotted.split('.')[1]} under template_links "
                "in the settings",
            )
        yield from _undeclared_field(ctx, dotted, declared_fields, ctx.in_text(path, text, offset))


def _undeclared_field(
    ctx: LintContext, dotted: str, declared: set[str], position: Position
) -> Iterator[Finding]:
    field = templating.declared_field(dotted)
    if field is not None and field not in declared:
        yield ctx.finding(
            "SOP115",
            position,
            f"case.fields.{field} is not declared under fields",
            f"add it: fields: {{{field}: what it records}}",
        )


def _line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(max(0, line - 1)):
        found = text.find("\n", offset)
        if found < 0:
            break
        offset = found + 1
    return offset


def _find_name(text: str, dotted: str) -> int:
    found = text.find(dotted)
    if found >= 0:
        return found
    found = text.find(dotted.split(".")[0])
    return max(found, 0)


_CHANNEL_WORDS = {Channel.CALL: "a call", Channel.SMS: "an SMS"}


def followup_channels(ctx: LintContext) -> Iterator[Finding]:
    meta = ctx.document.meta
    for index, followup in enumerate(meta.followups):
        template = meta.templates.get(followup.send)
        if template is None:
            continue
        if followup.channel in {Channel.CALL, Channel.SMS} and template.channel is Channel.EMAIL:
            yield ctx.finding(
                "SOP120",
                ctx.at(("followups", index, "channel")),
                f"{_CHANNEL_WORDS[followup.channel]} follow-up sends {followup.send!r}, "
                "an email template",
                f"write a template with channel: {followup.channel.value}, or send this "
                "follow-up by email",
            )


# --- conditions -------------------------------------------------------------------------


def conditions_valid(ctx: LintContext) -> Iterator[Finding]:
    declared = set(ctx.document.meta.fields)
    for path, text in _conditions(ctx.document):
        problem = expressions.validate_expression(text)
        if problem is not None:
            yield ctx.finding(
                "SOP010",
                ctx.at(path),
                f"{_describe(path)}: {problem}",
                "write a condition such as case.fields.item_received or "
                "customer.tier == 'vip' (docs/sop-format.md#conditions)",
            )
            continue
        for dotted in sorted(expressions.names(text)):
            yield from _undeclared_field(ctx, dotted, declared, ctx.at(path))


def _conditions(doc: SopDocument) -> Iterator[tuple[YamlPath, str]]:
    if doc.meta.applies_to.when is not None:
        yield ("applies_to", "when"), doc.meta.applies_to.when
    for index, step in enumerate(doc.meta.steps):
        if step.when is not None:
            yield ("steps", index, "when"), step.when
    for index, followup in enumerate(doc.meta.followups):
        if followup.unless is not None:
            yield ("followups", index, "unless"), followup.unless


# --- roles ------------------------------------------------------------------------------


def roles_declared(ctx: LintContext) -> Iterator[Finding]:
    roles = set(ctx.document.meta.roles)
    for path, role in _role_uses(ctx.document):
        if role in roles or (role in ROLE_EXEMPT and path[-1] == "owner"):
            continue
        yield ctx.finding(
            "SOP110",
            ctx.at(path),
            f"role {role!r} ({_describe(path)}) is not declared under roles",
            _role_hint(role, roles),
        )


def roles_used(ctx: LintContext) -> Iterator[Finding]:
    used = {role for _, role in _role_uses(ctx.document)}
    for role in ctx.document.meta.roles:
        if role not in used:
            yield ctx.finding(
                "SOP123",
                ctx.at(("roles", role), key=True),
                f"role {role!r} is declared but owns nothing and receives no escalation",
                "make it the owner of a step or an escalation level, or remove it",
            )


def _role_uses(doc: SopDocument) -> Iterator[tuple[YamlPath, str]]:
    meta = doc.meta
    yield ("owner",), meta.owner
    for index, step in enumerate(meta.steps):
        if step.owner:
            yield ("steps", index, "owner"), step.owner
    for index, followup in enumerate(meta.followups):
        if followup.owner:
            yield ("followups", index, "owner"), followup.owner
    for index, level in enumerate(meta.escalation):
        for position, role in enumerate(level.notify):
            yield ("escalation", index, "notify", position), role
        if level.assign:
            yield ("escalation", index, "assign"), level.assign


def _role_hint(role: str, roles: set[str]) -> str:
    close = difflib.get_close_matches(role, sorted(roles), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"declare it: roles: {{{role}: {{title: ...}}}}"


# --- escalation -------------------------------------------------------------------------


def escalation_matrix(ctx: LintContext) -> Iterator[Finding]:
    levels = ctx.document.meta.escalation
    for index, level in enumerate(levels):
        if not level.notify and level.assign is None:
            yield ctx.finding(
                "SOP111",
                ctx.at(("escalation", index)),
                f"escalation level at {level.at!r} notifies nobody and assigns nobody",
                "add notify: <role> and/or assign: <role>",
            )
        if level.respond_within is not None:
            limit = _safe_limit(level.respond_within)
            if limit is not None and limit.anchor != OPENED:
                yield ctx.finding(
                    "SOP122",
                    ctx.at(("escalation", index, "respond_within")),
                    f"respond_within {level.respond_within!r} names an anchor; it always "
                    "counts from the escalation",
                    f"write just the duration: respond_within: {limit.duration}",
                )
        if level.metric is not None:
            yield from _escalation_metric(ctx, index, level.metric)
    yield from _escalation_order(ctx)


def _escalation_metric(ctx: LintContext, index: int, metric: str) -> Iterator[Finding]:
    steps = {step.id for step in ctx.document.meta.steps}
    if _metric_key(metric) in TIME_METRICS or metric in steps or metric == "any":
        return
    yield ctx.finding(
        "SOP116",
        ctx.at(("escalation", index, "metric")),
        f"escalation metric {metric!r} is neither a time standard nor a step",
        f"use one of {', '.join(TIME_METRICS)}, a step id, or leave metric out "
        "(then every step's limit counts)",
    )


def _escalation_order(ctx: LintContext) -> Iterator[Finding]:
    previous: dict[str | None, tuple[tuple[int, int], int | None]] = {}
    for index, level in enumerate(ctx.document.meta.escalation):
        key = _point_key(level.at)
        if key is None:
            continue
        ladder = previous.get(level.metric)
        if ladder is not None:
            last_key, last_number = ladder
            numbers_wrong = (
                level.level is not None and last_number is not None and level.level <= last_number
            )
            if key <= last_key or numbers_wrong:
                yield ctx.finding(
                    "SOP121",
                    ctx.at(("escalation", index, "at")),
                    f"escalation level at {level.at!r} does not come after the level before it",
                    "list levels from the earliest point to the latest (50%, 75%, breach, "
                    "'2 hours after breach') with increasing level numbers",
                )
        previous[level.metric] = (key, level.level)


def _point_key(text: str) -> tuple[int, int] | None:
    try:
        point = parse_escalation_point(text)
    except TimePhraseError:
        return None
    if point.percent is not None:
        return (0, point.percent)
    if point.after_breach is not None:
        return (2, point.after_breach.minutes)
    return (1, 0)


# --- standards --------------------------------------------------------------------------


def standards_measurable(ctx: LintContext) -> Iterator[Finding]:
    for name, value in ctx.document.meta.standards.items():
        path: YamlPath = ("standards", name)
        metric = _metric_key(name)
        if metric in TIME_METRICS:
            yield from _time_target(ctx, path, name, value)
        elif metric in SCORE_METRICS or metric in RATE_METRICS:
            yield from _comparison_target(ctx, path, metric, value)
        else:
            yield ctx.finding(
                "SOP116",
                ctx.at(path, key=True),
                f"standard {name!r} is not a metric sopdesk can measure",
                _metric_hint(metric),
            )


def _metric_key(name: str) -> str:
    return name.lower().replace("-", "_")


def _metric_hint(metric: str) -> str:
    close = difflib.get_close_matches(metric, sorted(MEASURABLE_METRICS), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"measurable standards: {', '.join(sorted(MEASURABLE_METRICS))}"


def _time_target(ctx: LintContext, path: YamlPath, name: str, value: str) -> Iterator[Finding]:
    if _time_standard(value) is None:
        yield ctx.finding(
            "SOP117",
            ctx.at(path),
            f"standard {name!r} is {value!r}; a time standard is a duration such as "
            "'12 hours' or '24 business hours'",
            f"write e.g. {name}: 24 business hours (no anchor: the metric defines it)",
        )


def _comparison_target(
    ctx: LintContext, path: YamlPath, metric: str, value: str
) -> Iterator[Finding]:
    parsed = parse_comparison(value)
    problem = _comparison_problem(metric, parsed)
    if problem:
        yield ctx.finding(
            "SOP118",
            ctx.at(path),
            f"standard {path[-1]!r} is {value!r}: {problem}",
            "write an operator and a number in quotes, e.g. csat: '>= 4.5' or fcr: '>= 70%'",
        )


def _comparison_problem(metric: str, parsed: tuple[str, float, bool] | None) -> str | None:
    if parsed is None:
        return "not a comparison (>=, <=, >, < or = and a number)"
    _, number, percent = parsed
    if metric in RATE_METRICS:
        if not percent:
            return "a rate is a percentage, e.g. '>= 70%'"
        return None if 0 <= number <= 100 else "a percentage is between 0% and 100%"
    low, high = SCORE_METRICS[metric]
    if percent:
        return None if 0 <= number <= 100 else "a percentage is between 0% and 100%"
    if low <= number <= high:
        return None
    return f"{metric} is on a scale of {low:g} to {high:g}"


# --- language and cadence ---------------------------------------------------------------

_VAGUE = re.compile(
    r"\b(?:"
    + "|".join(
        r"\s+".join(re.escape(word) for word in phrase.split())
        for phrase in sorted(VAGUE_WORDS, key=len, reverse=True)
    )
    + r")\b",
    re.IGNORECASE,
)
_PRECISE_AFTER = re.compile(r"\s+(?:than|as\s+(?!possible|we\s+can|you\s+can|i\s+can))", re.I)
_PRECISE_BEFORE = re.compile(r"(?:\bno|\bnot|\bas)\s+$", re.IGNORECASE)


def vague_spans(text: str) -> list[tuple[int, str]]:
    """(offset, phrase) of each vague time word in prose.

    Precise idioms are not vague: 'as soon as the item arrives', 'no later than Friday'.
    """
    return [
        (match.start(), match.group(0))
        for match in _VAGUE.finditer(text)
        if not _precise_idiom(text, match)
    ]


def _precise_idiom(text: str, match: re.Match[str]) -> bool:
    word = match.group(0).lower()
    if word not in {"soon", "later"}:
        return False
    if not _PRECISE_AFTER.match(text, match.end()):
        return False
    return word == "later" or bool(_PRECISE_BEFORE.search(text[: match.start()][-6:]))


def vague_language(ctx: LintContext) -> Iterator[Finding]:
    for path, text in _front_matter_prose(ctx.document):
        for offset, word in vague_spans(text):
            yield _vague_finding(ctx, ctx.in_text(path, text, offset), word, _describe(path))
    doc = ctx.document
    for offset, word in vague_spans(doc.body):
        before = doc.body[:offset]
        line = doc.body_line + before.count("\n")
        column = offset - (before.rfind("\n") + 1) + 1
        yield _vague_finding(ctx, (line, column), word, "the text")


def _vague_finding(ctx: LintContext, position: Position, word: str, where: str) -> Finding:
    return ctx.finding(
        "SOP106",
        position,
        f"vague time word {word!r} in {where}: nobody can tell when it is late",
        "state a limit, e.g. 'within 12 hours' or 'within 1 business day'",
    )


def _front_matter_prose(doc: SopDocument) -> Iterator[tuple[YamlPath, str]]:
    meta = doc.meta
    if meta.summary:
        yield ("summary",), meta.summary
    for name, role in meta.roles.items():
        for index, line in enumerate(role.responsibilities):
            yield ("roles", name, "responsibilities", index), line
    for index, step in enumerate(meta.steps):
        yield ("steps", index, "title"), step.title
        if step.details:
            yield ("steps", index, "details"), step.details
        for item, line in enumerate(step.checklist):
            yield ("steps", index, "checklist", item), line
    for index, level in enumerate(meta.escalation):
        if level.note:
            yield ("escalation", index, "note"), level.note
    for name, template in meta.templates.items():
        if template.subject:
            yield ("templates", name, "subject"), template.subject
        yield ("templates", name, "body"), template.body


def review_cadence(ctx: LintContext) -> Iterator[Finding]:
    try:
        cadence = parse_cadence(ctx.document.meta.review)
    except TimePhraseError:
        return
    if cadence.months > MAX_REVIEW_MONTHS or cadence.days > 366:
        yield ctx.finding(
            "SOP127",
            ctx.at(("review",)),
            f"review {ctx.document.meta.review!r} is less often than once a year",
            "review customer-facing SOPs quarterly (review: quarterly)",
        )


def _describe(path: YamlPath) -> str:
    parts: list[str] = []
    for item in path:
        if isinstance(item, int) and parts:
            parts[-1] = f"{parts[-1]}[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts)


RULES: tuple[Rule, ...] = (
    missing_components,
    sections_in_order,
    steps_owned_and_timed,
    step_limits_within_standards,
    anchors_known,
    anchors_acyclic,
    events_used,
    templates_exist_and_used,
    templates_compile,
    followup_channels,
    conditions_valid,
    roles_declared,
    roles_used,
    escalation_matrix,
    standards_measurable,
    vague_language,
    review_cadence,
)
"""Every semantic rule, in the order they run."""

__all__ = [
    "MEASURABLE_METRICS",
    "RATE_METRICS",
    "RULES",
    "SCORE_METRICS",
    "TIME_METRICS",
    "LintContext",
    "lint",
    "lint_paths",
    "sop_files",
    "vague_spans",
]
