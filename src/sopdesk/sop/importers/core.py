"""The import core: an outline in, a draft SOP file and its report out.

`build_draft` is pure: it titles the document, turns email scripts into templates, cuts
the blocks into standard sections, maps procedure items to steps (owners, time limits,
templates), the escalation matrix to levels, standards to measurable targets, and
writes the draft with every word of the source kept in the body, under all ten standard
headings (those the source lacks are left empty for the author to write). The draft
always parses with `sop.parser.parse_sop`.
"""

from __future__ import annotations

import re
from typing import Any

from sopdesk.sop.importers.heuristics import slug
from sopdesk.sop.importers.mapping import (
    Details,
    Entries,
    Events,
    Roles,
    build_escalation,
    build_step,
    collect_duties,
    collect_standards,
    document_details,
    entry,
    escalation_rows,
    is_detail,
    link_templates,
    raw_steps,
)
from sopdesk.sop.importers.outline import Block, Kind, Outline
from sopdesk.sop.importers.render import body_markdown, document
from sopdesk.sop.importers.report import EntryKind, ImportReport, ImportResult
from sopdesk.sop.importers.scripts import Script, extract_scripts
from sopdesk.sop.importers.sections import Group, group_blocks, normalise, pick_title
from sopdesk.sop.model import ID_PATTERN, SECTION_TITLES, SectionKey
from sopdesk.sop.parser import parse_sop

DEFAULT_OWNER = ("support-lead", "Support lead")
DEFAULT_REVIEW = "quarterly"
_MANAGERS = ("support-lead", "team-lead", "support-manager", "manager", "supervisor", "owner")


def sop_id_from(name: str) -> str:
    """A valid SOP id from a file name: `Returns Policy v2.docx` -> `returns-policy-v2`."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name.rsplit("/", 1)[-1])
    return slug(stem, max_words=8, fallback="imported")


def build_draft(outline: Outline, *, sop_id: str, source: str) -> ImportResult:
    """Map an outline to a draft SOP text and a report of what went where."""
    entries: Entries = [entry(EntryKind.IGNORED, note, loc) for loc, note in outline.notes]
    title, blocks = _title(normalise(list(outline.blocks)), outline.title, source, entries)
    details = document_details(blocks)
    blocks = [block for block in blocks if not is_detail(block, details)]
    blocks, scripts = extract_scripts(blocks)
    groups = _settle(group_blocks(blocks), entries)
    roles, events = Roles(), Events()
    front: dict[str, Any] = {"id": sop_id, "title": title}
    front.update(_owner_and_review(details, roles, entries))
    steps = _steps(groups, scripts, roles, events, entries)
    escalation = _escalation(groups, roles, entries)
    standards = _standards(groups, entries)
    for group in groups:
        if group.key is SectionKey.RESPONSIBILITIES:
            entries.extend(collect_duties(group, roles))
    if not front["owner"]:
        front["owner"] = _default_owner(roles, entries)
    templates, fields = _templates(scripts, steps, entries)
    front["roles"] = _roles(roles)
    _put(front, "events", dict(events.described))
    _put(front, "fields", fields)
    _put(front, "standards", standards)
    _put(front, "steps", steps)
    _put(front, "escalation", escalation)
    _put(front, "templates", templates)
    entries.extend(_missing(groups, steps))
    text = document(front, _sections(groups, scripts))
    _check(text, source)
    report = ImportReport(source, outline.format, tuple(entries))
    return ImportResult(sop_id, text, report)


def _title(
    blocks: list[Block], declared: str | None, source: str, entries: Entries
) -> tuple[str, list[Block]]:
    title, loc, rest = pick_title(blocks, declared)
    if title is None or len(title.strip()) < 3:
        title = _title_from(source)
        entries.append(
            entry(EntryKind.ASSUMED, f"title {title!r} from the file name", None, "title")
        )
        return title, rest
    title = " ".join(title.split())[:200]
    entries.append(entry(EntryKind.MAPPED, f"title {title!r}", loc, "title"))
    return title, rest


def _put(front: dict[str, Any], key: str, value: Any) -> None:
    if value:
        front[key] = value


def _title_from(source: str) -> str:
    words = sop_id_from(source).replace("-", " ")
    return (words[:1].upper() + words[1:]) if len(words) >= 3 else "Imported SOP"


def _settle(groups: list[Group], entries: Entries) -> list[Group]:
    """Report each section; the text before the first heading becomes the Purpose when
    there is none, else a Notes section; a list outside any Procedure becomes one."""
    preamble, rest = groups[0], groups[1:]
    keys = {g.key for g in rest}
    if preamble.blocks:
        if SectionKey.PURPOSE not in keys:
            preamble.key, preamble.title = SectionKey.PURPOSE, "Purpose"
            entries.append(
                entry(
                    EntryKind.ASSUMED,
                    "text before the first heading taken as the Purpose",
                    preamble.blocks[0].loc,
                    "# Purpose",
                )
            )
        else:
            preamble.title = "Notes"
            entries.append(
                entry(
                    EntryKind.UNMAPPED,
                    "text before the first heading",
                    preamble.blocks[0].loc,
                    "# Notes",
                )
            )
        rest = [preamble, *rest]
    if SectionKey.PROCEDURE not in {g.key for g in rest}:
        _adopt_procedure(rest, entries)
    for group in rest:
        if group is preamble:
            continue
        if group.key is None and not group.blocks:
            entries.append(
                entry(EntryKind.IGNORED, f"heading {group.title!r} has no text under it", group.loc)
            )
        elif group.key is None:
            entries.append(
                entry(
                    EntryKind.UNMAPPED,
                    f"heading {group.title!r} matches no standard section; kept as written",
                    group.loc,
                    f"# {_clean_title(group.title)}",
                )
            )
        else:
            entries.append(
                entry(
                    EntryKind.MAPPED,
                    f"heading {group.title!r} ({group.how})",
                    group.loc,
                    f"# {SECTION_TITLES[group.key]}",
                )
            )
    return rest


def _adopt_procedure(groups: list[Group], entries: Entries) -> None:
    for group in groups:
        ordered = [b for b in group.blocks if b.kind is Kind.ITEM and b.ordered]
        if group.key in {None, SectionKey.PURPOSE} and len(ordered) >= 2:
            was = group.title or "the text before the first heading"
            entries.append(
                entry(
                    EntryKind.ASSUMED,
                    f"numbered list under {was!r} taken as the Procedure",
                    ordered[0].loc,
                    "# Procedure",
                )
            )
            group.key, group.how = SectionKey.PROCEDURE, "numbered list"
            return


def _owner_and_review(details: Details, roles: Roles, entries: Entries) -> dict[str, str]:
    if details.owner:
        owner_id, owner_title, loc = details.owner
        roles.add((owner_id, owner_title))
        entries.append(entry(EntryKind.MAPPED, f"SOP owner {owner_title!r}", loc, "owner"))
    else:
        owner_id = ""
    if details.review:
        review, loc = details.review
        entries.append(entry(EntryKind.MAPPED, f"review cadence {review!r}", loc, "review"))
    else:
        review = DEFAULT_REVIEW
        entries.append(
            entry(
                EntryKind.ASSUMED,
                "review cadence 'quarterly' (the document names none)",
                None,
                "review",
            )
        )
    return {"owner": owner_id, "review": review}


def _default_owner(roles: Roles, entries: Entries) -> str:
    named = next((role for role in _MANAGERS if role in roles.titles), None)
    if named:
        entries.append(
            entry(
                EntryKind.ASSUMED,
                f"SOP owner {named!r}: the most senior role the document names (it names no owner)",
                None,
                "owner",
            )
        )
        return named
    entries.append(
        entry(
            EntryKind.ASSUMED,
            f"SOP owner {DEFAULT_OWNER[0]!r} (the document names no owner)",
            None,
            "owner",
        )
    )
    return roles.add(DEFAULT_OWNER)


def _steps(
    groups: list[Group], scripts: list[Script], roles: Roles, events: Events, entries: Entries
) -> list[dict[str, Any]]:
    raws = [raw for g in groups if g.key is SectionKey.PROCEDURE for raw in raw_steps(g)]
    links = link_templates(raws, scripts)
    taken: set[str] = set()
    steps: list[dict[str, Any]] = []
    for index, raw in enumerate(raws):
        built = build_step(raw, taken, links.get(index), roles, events)
        taken.add(built.data["id"])
        steps.append(built.data)
        entries.extend(built.entries)
    return steps


def _escalation(groups: list[Group], roles: Roles, entries: Entries) -> list[dict[str, Any]]:
    rows = [row for g in groups if g.key is SectionKey.ESCALATION for row in escalation_rows(g)]
    levels, found = build_escalation(rows, roles)
    entries.extend(found)
    return levels


def _standards(groups: list[Group], entries: Entries) -> dict[str, str]:
    standards: dict[str, str] = {}
    for group in groups:
        if group.key is SectionKey.STANDARDS:
            found, notes = collect_standards(group)
            for key, value in found.items():
                standards.setdefault(key, value)
            entries.extend(notes)
    return standards


def _templates(
    scripts: list[Script], steps: list[dict[str, Any]], entries: Entries
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    sent = {step.get("send") for step in steps}
    templates: dict[str, dict[str, str]] = {}
    fields: dict[str, str] = {}
    for script in scripts:
        data = {"subject": script.subject} if script.subject else {}
        data["body"] = script.body
        data["description"] = f"Imported from “{script.label}”"
        templates[script.id] = data
        target = f"templates.{script.id}"
        entries.append(
            entry(EntryKind.MAPPED, f"email script {script.label!r}", script.loc, target)
        )
        for found in script.placeholders:
            kind = EntryKind.MAPPED if found.known else EntryKind.UNMAPPED
            note = "" if found.known else " (no known value; declared under fields, fill it in)"
            entries.append(
                entry(
                    kind,
                    f"placeholder {found.written} -> {{{{ {found.target} }}}}{note}",
                    script.loc,
                    target,
                )
            )
            if not found.known:
                name = found.target.removeprefix("case.fields.")
                fields.setdefault(name, f"Filled in for each case (was {found.written})")
        if script.id not in sent:
            entries.append(
                entry(
                    EntryKind.UNMAPPED,
                    f"no step sends template {script.id!r}; add `send:` to a step or a follow-up",
                    script.loc,
                    target,
                )
            )
    return templates, fields


def _roles(roles: Roles) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for role_id, title in roles.titles.items():
        data: dict[str, Any] = {"title": title}
        if roles.duties.get(role_id):
            data["responsibilities"] = list(roles.duties[role_id])
        out[role_id] = data
    return out


def _missing(groups: list[Group], steps: list[dict[str, Any]]) -> Entries:
    present = {g.key for g in groups}
    out = [
        entry(
            EntryKind.MISSING, f"no {title} section in the source; left empty", None, f"# {title}"
        )
        for key, title in SECTION_TITLES.items()
        if key not in present
    ]
    if not steps:
        out.append(
            entry(
                EntryKind.MISSING,
                "no procedure steps (a numbered or bulleted list under a Procedure heading)",
                None,
                "steps",
            )
        )
    return out


def _clean_title(title: str) -> str:
    return " ".join(title.split()).rstrip(":").strip() or "Notes"


def _sections(groups: list[Group], scripts: list[Script]) -> list[tuple[str, str]]:
    labels = {script.id: script.label for script in scripts}
    merged: dict[SectionKey, list[Block]] = {}
    first_title: dict[SectionKey, str] = {}
    unmapped: list[tuple[str, str]] = []
    for group in groups:
        if group.key is None and group.blocks:
            unmapped.append((_clean_title(group.title), body_markdown(group.blocks, labels)))
            continue
        if group.key is None:
            continue
        blocks = merged.setdefault(group.key, [])
        if group.key in first_title and group.how != "label":
            blocks.append(Block(Kind.HEADING, _clean_title(group.title), group.loc))
        first_title.setdefault(group.key, group.title)
        blocks.extend(group.blocks)
    ordered = [
        (title, body_markdown(merged[key], labels) if key in merged else "")
        for key, title in SECTION_TITLES.items()
    ]
    return ordered + unmapped


class DraftError(RuntimeError):
    """The importer wrote a draft the parser rejects: a bug in the importer."""


def _check(text: str, source: str) -> None:
    result = parse_sop(text, source)
    if not result.ok:
        problems = "; ".join(f"{f.line}:{f.column} {f.message}" for f in result.findings)
        raise DraftError(f"the draft imported from {source} does not parse: {problems}")


def valid_id(value: str) -> bool:
    return bool(re.match(ID_PATTERN, value)) and len(value) <= 80
