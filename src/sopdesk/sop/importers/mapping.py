"""Map the sections of an imported document to SOP front matter.

Procedure list items become steps (id, title, owner, `within`, `send`, checklist),
the escalation section (a matrix table or a list) becomes escalation levels,
responsibilities become roles, performance standards become measurable `standards`.
Every function returns plain data plus the report entries that explain it. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sopdesk.sop.importers.heuristics import fold, slug, split_label
from sopdesk.sop.importers.outline import Block, Kind, Loc
from sopdesk.sop.importers.phrases import (
    FoundLimit,
    FoundRole,
    find_cadence,
    find_limit,
    find_roles,
    find_standard,
    role_for,
)
from sopdesk.sop.importers.report import EntryKind, ReportEntry
from sopdesk.sop.importers.scripts import Script
from sopdesk.sop.importers.sections import Group
from sopdesk.sop.model import SYSTEM_OWNER
from sopdesk.sop.timephrase import (
    TimePhraseError,
    is_vague,
    parse_escalation_point,
    parse_limit,
)

Entries = list[ReportEntry]


@dataclass
class Roles:
    """Roles met so far: id -> title, in order of first mention."""

    titles: dict[str, str] = field(default_factory=dict)
    duties: dict[str, list[str]] = field(default_factory=dict)

    def add(self, role: FoundRole | tuple[str, str]) -> str:
        role_id, title = (role.role, role.title) if isinstance(role, FoundRole) else role
        self.titles.setdefault(role_id, title)
        return role_id


@dataclass
class Events:
    """Events a time limit counts from, declared under `events`: id -> description."""

    described: dict[str, str] = field(default_factory=dict)


def entry(kind: EntryKind, message: str, where: Loc | None = None, target: str = "") -> ReportEntry:
    return ReportEntry(kind, message, where, target)


# -- steps ------------------------------------------------------------------------------


@dataclass
class RawStep:
    """A step as written: its text, and for a table row the `who` and `when` cells."""

    text: str
    loc: Loc
    checklist: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    who: str = ""
    when: str = ""


def raw_steps(group: Group) -> list[RawStep]:
    """List items at the top depth are steps; deeper items are their checklist. Without
    a list, the rows of a step table; without one, sub-headings; else each paragraph."""
    items = [b for b in group.blocks if b.kind is Kind.ITEM]
    if items:
        top = min(b.level for b in items)
        steps: list[RawStep] = []
        for block in group.blocks:
            if block.kind is Kind.ITEM and block.level == top:
                steps.append(RawStep(block.text, block.loc))
            elif steps and block.kind is Kind.ITEM:
                steps[-1].checklist.append(block.text)
            elif steps and block.kind is Kind.PARAGRAPH:
                steps[-1].notes.append(block.text)
        return steps
    rows = [row for b in group.blocks if b.kind is Kind.TABLE for row in _step_rows(b)]
    if rows:
        return rows
    heads = [b for b in group.blocks if b.kind is Kind.HEADING]
    if heads:
        steps = []
        for block in group.blocks:
            if block.kind is Kind.HEADING:
                steps.append(RawStep(block.text, block.loc))
            elif steps and block.kind is Kind.PARAGRAPH:
                steps[-1].notes.append(block.text)
        return steps
    return [RawStep(b.text, b.loc) for b in group.blocks if b.kind is Kind.PARAGRAPH]


def _cell(row: tuple[str, ...], cols: dict[str, int], name: str) -> str:
    index = cols.get(name)
    return row[index] if index is not None and index < len(row) else ""


_STEP_COLUMNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("action", re.compile(r"\b(action|task|activity|what|description|instruction)")),
    ("who", re.compile(r"\b(who|owner|responsib\w*|role|by whom|person)\b")),
    ("when", re.compile(r"\b(when|time\w*|within|deadline|sla|due|how long)\b")),
    ("step", re.compile(r"\b(step|procedure|process)\b")),
)


def _step_columns(header: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = fold(cell)
        name = next((name for name, pattern in _STEP_COLUMNS if pattern.search(text)), None)
        if name and name not in found:
            found[name] = index
    return found


def _step_rows(block: Block) -> list[RawStep]:
    """`Step | Action | Owner | Time` tables: one step per row with text in it."""
    cols = _step_columns(block.rows[0]) if block.rows else {}
    if "action" not in cols and "step" in cols:
        cols["action"] = cols.pop("step")
    if "action" not in cols or not ({"who", "when"} & set(cols)):
        return []
    steps: list[RawStep] = []
    for number, row in enumerate(block.rows[1:], start=2):
        text = _cell(row, cols, "action")
        if text.strip():
            loc = Loc(block.loc.unit, block.loc.number, number)
            who, when = _cell(row, cols, "who"), _cell(row, cols, "when")
            steps.append(RawStep(text, loc, who=who, when=when))
    return steps


_STOP_WORDS = (
    "the a an to of and or for with within in on at by all any their our your is are be "
    "this that it as from after before into each every then if"
)
_STOP = frozenset(_STOP_WORDS.split())
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'“‘(\[])")


def _title_and_details(text: str) -> tuple[str, str | None]:
    flat = " ".join(text.split())
    label = split_label(flat)
    if label and label[1] and len(label[0].split()) <= 6:
        return label[0], label[1]
    sentences = _SENTENCE.split(flat)
    title = sentences[0].rstrip(".;").strip()
    details = flat if len(sentences) > 1 else None
    if len(title) > 110:
        title = title[:100].rsplit(" ", 1)[0] + "…"
        details = flat
    return title, details


def step_id(title: str, limit: FoundLimit | None, taken: set[str]) -> str:
    text = fold(title)
    if limit is not None:
        text = text.replace(fold(limit.source), " ")
    text = re.sub(r"'s\b", "", text)
    words = [w for w in re.findall(r"[a-z0-9]+", text) if w not in _STOP]
    base = slug(" ".join(words), max_words=3, fallback="step")
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def _stems(text: str) -> set[str]:
    generic = {"custom", "email", "messag", "script", "templa", "sample", "exampl", "initia"}
    words = re.findall(r"[a-z]{4,}", fold(text))
    return {w[:6] for w in words if w not in _STOP} - generic


_SENDS = re.compile(
    r"\b(send|sends|sent|email|e-mail|acknowledg\w*|reply|replies|respond|notify|confirm|"
    r"thank|follow[- ]up|script|template)\b",
    re.IGNORECASE,
)


def link_templates(steps: list[RawStep], scripts: list[Script]) -> dict[int, str]:
    """Step index -> the template it sends: the step sharing most words with the script's
    label, subject and id (e.g. "Acknowledge ..." and "... Acknowledgment")."""
    links: dict[int, str] = {}
    for script in scripts:
        words = _stems(f"{script.label} {script.id.replace('-', ' ')} {script.subject or ''}")
        best, best_score = None, 0
        for index, step in enumerate(steps):
            if index in links:
                continue
            shared = len(words & _stems(step.text))
            score = shared + (2 if shared and _SENDS.search(step.text) else 0)
            if score > best_score:
                best, best_score = index, score
        if best is not None:
            links[best] = script.id
    return links


def _anchor_to_step(limit: FoundLimit, prior: list[str]) -> FoundLimit:
    """`after acknowledging` -> the earlier step `acknowledge-...`."""
    if limit.event is None or not limit.anchor_guessed:
        return limit
    head = limit.event.split("_")[0][:6]
    for step in prior:
        if step.split("-")[0][:6] == head:
            phrase = limit.phrase.rsplit(" after ", 1)[0] + f" after {step}"
            return FoundLimit(phrase, limit.source)
    return limit


@dataclass(frozen=True)
class BuiltStep:
    data: dict[str, Any]
    entries: tuple[ReportEntry, ...]


def build_step(
    raw: RawStep, taken: set[str], send: str | None, roles: Roles, events: Events
) -> BuiltStep:
    full = " ".join([raw.text, *raw.notes])
    title, details = _title_and_details(raw.text)
    limit = (find_limit(f"within {raw.when}") if raw.when else None) or find_limit(full)
    if limit is not None:
        limit = _anchor_to_step(limit, sorted(taken))
    ident = step_id(title, limit, taken)
    target = f"steps.{ident}"
    entries: Entries = [entry(EntryKind.MAPPED, f"step {title!r}", raw.loc, target)]
    data: dict[str, Any] = {"id": ident, "title": title}
    found_roles = find_roles(raw.who) or find_roles(full)
    if found_roles:
        data["owner"] = roles.add(found_roles[0])
        entries.append(
            entry(EntryKind.MAPPED, f"owner from {found_roles[0].words!r}", raw.loc, target)
        )
    elif send:
        data["owner"] = SYSTEM_OWNER
        entries.append(
            entry(
                EntryKind.ASSUMED,
                f"owner 'system' because the step sends template {send!r}; no role was named",
                raw.loc,
                f"{target}.owner",
            )
        )
    entries.extend(_within(data, limit, full, raw.loc, target, events))
    if send:
        data["send"] = send
        entries.append(entry(EntryKind.MAPPED, f"sends template {send!r}", raw.loc, target))
    if raw.checklist:
        data["checklist"] = list(raw.checklist)
    notes = " ".join(raw.notes)
    details = " ".join(part for part in (details, notes) if part) or None
    if details:
        data["details"] = details
    return BuiltStep(data, tuple(entries))


def _within(
    data: dict[str, Any],
    limit: FoundLimit | None,
    text: str,
    loc: Loc,
    target: str,
    events: Events,
) -> Entries:
    if limit is None:
        if is_vague(text):
            return [
                entry(
                    EntryKind.UNMAPPED,
                    f"vague time limit in {_quote(text)}; state a measurable limit such as "
                    "'24 business hours'",
                    loc,
                    f"{target}.within",
                )
            ]
        return []
    data["within"] = limit.phrase
    entries = [entry(EntryKind.MAPPED, f"time limit {limit.source!r}", loc, f"{target}.within")]
    if limit.event:
        events.described.setdefault(limit.event, _event_text(limit))
        kind = EntryKind.ASSUMED if limit.anchor_guessed else EntryKind.MAPPED
        entries.append(
            entry(
                kind,
                f"event {limit.event!r} from {limit.event_text!r}",
                loc,
                f"events.{limit.event}",
            )
        )
    return entries


def _event_text(limit: FoundLimit) -> str:
    name = (limit.event or "event").replace("_", " ")
    return f"{name.capitalize()} (imported from “{limit.event_text}”)"


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


# -- escalation -------------------------------------------------------------------------

_COLUMNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("level", re.compile(r"\b(level|tier|stage|step)\b")),
    ("time", re.compile(r"\b(time|within|respon\w*|sla|deadline|target)\b")),
    ("who", re.compile(r"\b(who|contact|role|escalate to|owner|responsible|person|team|notify)")),
    ("trigger", re.compile(r"\b(when|trigger|condition|situation|criteria|reason|issue|if)\b")),
)


def _columns(header: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = fold(cell)
        for name, pattern in _COLUMNS:
            if name not in found and pattern.search(text):
                found[name] = index
                break
    return found


def _cell_limit(text: str) -> str | None:
    """The duration in a `Respond within` cell (always without an anchor)."""
    try:
        return str(parse_limit(fold(text)).duration)
    except TimePhraseError:
        found = find_limit(text)
        return str(parse_limit(found.phrase).duration) if found else None


_LADDER = (
    "breach",
    "4 business hours after breach",
    "1 business day after breach",
    "2 business days after breach",
    "3 business days after breach",
    "5 business days after breach",
    "10 business days after breach",
)


def _point_key(point: str) -> tuple[int, int]:
    parsed = parse_escalation_point(point)
    if parsed.percent is not None:
        return (0, parsed.percent)
    if parsed.after_breach is not None:
        return (2, parsed.after_breach.minutes)
    return (1, 0)


def _after(last: tuple[int, int] | None, respond: str | None) -> str:
    """The first point later than `last`: the breach, then the previous level's response
    time after the breach, then a ladder of business days after it."""
    options = [f"{respond} after breach"] if respond else []
    for point in [*_LADDER[:1], *options, *_LADDER[1:]]:
        if last is None or _point_key(point) > last:
            return point
    assert last is not None
    return f"{last[1] // 1440 + 1} business days after breach"


_PERCENT = re.compile(r"\b(\d{1,3})\s*%")
_BREACH = re.compile(r"\b(breach|overdue|missed|late|exceed|past due|not met|sla)\w*", re.I)


def _point(trigger: str) -> tuple[str, bool]:
    """An escalation point from trigger words; (point, assumed?)."""
    match = _PERCENT.search(trigger)
    if match:
        try:
            parse_escalation_point(f"{match[1]}%")
            return f"{match[1]}%", False
        except TimePhraseError:
            pass
    if _BREACH.search(trigger):
        return "breach", False
    return "breach", True


@dataclass
class EscalationRow:
    loc: Loc
    level: str = ""
    trigger: str = ""
    who: str = ""
    time: str = ""


def _table_rows(block: Block) -> list[EscalationRow]:
    """Rows of an escalation matrix; with a header the columns are recognised by name."""
    if not block.rows:
        return []
    cols = _columns(block.rows[0])
    body = block.rows[1:] if cols else block.rows
    out: list[EscalationRow] = []
    for number, row in enumerate(body, start=2 if cols else 1):
        loc = Loc(block.loc.unit, block.loc.number, number)
        if cols:
            level, trigger, who, time = (
                _cell(row, cols, name) for name in ("level", "trigger", "who", "time")
            )
            out.append(EscalationRow(loc, level, trigger, who, time))
        else:
            text = " | ".join(row)
            out.append(EscalationRow(loc, "", text, text, text))
    return out


def escalation_rows(group: Group) -> list[EscalationRow]:
    """Table rows, and list items or paragraphs that name a role."""
    rows: list[EscalationRow] = []
    for block in group.blocks:
        if block.kind is Kind.TABLE:
            rows.extend(_table_rows(block))
        elif block.kind in {Kind.ITEM, Kind.PARAGRAPH} and find_roles(block.text):
            rows.append(EscalationRow(block.loc, "", block.text, block.text, block.text))
    return rows


def build_escalation(
    rows: list[EscalationRow], roles: Roles
) -> tuple[list[dict[str, Any]], Entries]:
    levels: list[dict[str, Any]] = []
    entries: Entries = []
    last: tuple[int, int] | None = None
    for row in rows:
        role = role_for(row.who) or role_for(row.trigger)
        if role is None:
            entries.append(
                entry(
                    EntryKind.UNMAPPED,
                    f"escalation row names no role: {_quote(row.who or row.trigger)}",
                    row.loc,
                )
            )
            continue
        number = levels[-1]["level"] + 1 if levels else 1
        level_match = re.search(r"\d+", row.level)
        if level_match and number <= int(level_match[0]) <= 20:
            number = int(level_match[0])
        at, assumed = _point(row.trigger)
        if last is not None and (assumed or _point_key(at) <= last):
            at = _after(last, levels[-1].get("respond_within") if levels else None)
            assumed = True
        last = _point_key(at)
        level: dict[str, Any] = {"level": number, "at": at, "notify": [roles.add(role)]}
        respond = _cell_limit(row.time) if row.time else None
        if respond:
            level["respond_within"] = respond
        note = " ".join(row.trigger.split())
        if note:
            level["note"] = note
        levels.append(level)
        target = f"escalation[{len(levels) - 1}]"
        entries.append(
            entry(
                EntryKind.MAPPED,
                f"escalation level {number}: notify {role.role}"
                + (f", respond within {respond}" if respond else ""),
                row.loc,
                target,
            )
        )
        if assumed:
            entries.append(
                entry(
                    EntryKind.ASSUMED,
                    f"level {number} fires at {at!r}; the trigger "
                    f"{_quote(note or row.who)} is not a later time point",
                    row.loc,
                    f"{target}.at",
                )
            )
    return levels, entries


# -- responsibilities, standards, document details ---------------------------------------


def collect_duties(group: Group, roles: Roles) -> Entries:
    entries: Entries = []
    for block in group.blocks:
        texts = [" — ".join(r) for r in block.rows] if block.kind is Kind.TABLE else [block.text]
        for text in texts:
            if block.kind is Kind.HEADING:
                continue
            entries.extend(_duty(text, block.loc, roles))
    return entries


def _duty(text: str, loc: Loc, roles: Roles) -> Entries:
    label = split_label(text)
    if label and label[1] and (found := role_for(label[0])):
        duty = label[1]
    elif found_list := find_roles(text):
        found, duty = found_list[0], text
    else:
        return []
    role_id = roles.add(found)
    roles.duties.setdefault(role_id, []).append(" ".join(duty.split()))
    return [
        entry(
            EntryKind.MAPPED,
            f"responsibility of {role_id}",
            loc,
            f"roles.{role_id}.responsibilities",
        )
    ]


def collect_standards(group: Group) -> tuple[dict[str, str], Entries]:
    standards: dict[str, str] = {}
    entries: Entries = []
    for block in group.blocks:
        if block.kind is Kind.TABLE:
            texts = [" ".join(row) for row in block.rows]
        elif block.kind in {Kind.ITEM, Kind.PARAGRAPH}:
            texts = [block.text]
        else:
            continue
        for text in texts:
            found = find_standard(text)
            if found is None:
                entries.append(
                    entry(
                        EntryKind.UNMAPPED,
                        f"standard not measurable as written: {_quote(text)}",
                        block.loc,
                        "Performance Standards (kept as text)",
                    )
                )
            elif found[0] not in standards:
                standards[found[0]] = found[1]
                entries.append(
                    entry(
                        EntryKind.MAPPED,
                        f"standard {found[0]}: {found[1]}",
                        block.loc,
                        f"standards.{found[0]}",
                    )
                )
    return standards, entries


_OWNER_LABELS = {
    "owner",
    "sop owner",
    "document owner",
    "process owner",
    "procedure owner",
    "owned by",
    "responsible",
    "author",
}
_REVIEW_LABELS = {
    "review",
    "review cycle",
    "review frequency",
    "review cadence",
    "review period",
    "reviewed",
    "next review",
}


@dataclass
class Details:
    owner: tuple[str, str, Loc] | None = None
    review: tuple[str, Loc] | None = None


def _label_pairs(block: Block) -> list[tuple[str, str]]:
    if block.kind is Kind.TABLE:
        return [(row[0], row[1]) for row in block.rows if len(row) >= 2]
    if block.kind is Kind.PARAGRAPH:
        pairs = [split_label(line) for line in block.text.split("\n")]
        return [pair for pair in pairs if pair]
    return []


def is_detail(block: Block, details: Details) -> bool:
    """A paragraph that only says `Owner: ...` / `Review: ...`, already in the front matter."""
    if block.kind is not Kind.PARAGRAPH:
        return False
    lines = [line for line in block.text.split("\n") if line.strip()]
    pairs = [split_label(line) for line in lines]
    found = {
        loc
        for loc in (
            details.owner[2] if details.owner else None,
            details.review[1] if details.review else None,
        )
        if loc
    }
    labels = _OWNER_LABELS | _REVIEW_LABELS
    return block.loc in found and all(
        pair is not None and fold(pair[0]) in labels for pair in pairs
    )


def document_details(blocks: list[Block]) -> Details:
    """`Owner: Support Manager`, `Review: every 6 months`, or prose `reviewed quarterly`."""
    details = Details()
    for block in blocks:
        for label, value in _label_pairs(block):
            key = fold(label).rstrip(":")
            if key in _OWNER_LABELS and value and details.owner is None:
                role = role_for(value)
                role_id = role.role if role else slug(value, fallback="owner")
                details.owner = (role_id, role.title if role else value, block.loc)
            if key in _REVIEW_LABELS and details.review is None:
                cadence = find_cadence(value)
                if cadence:
                    details.review = (cadence, block.loc)
        if details.review is None and block.kind in {Kind.PARAGRAPH, Kind.ITEM}:
            text = fold(block.text)
            if "review" in text and re.search(r"\b(sop|procedure|document|policy)\b", text):
                cadence = find_cadence(text)
                if cadence:
                    details.review = (cadence, block.loc)
    return details
