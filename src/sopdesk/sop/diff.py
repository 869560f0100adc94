"""A readable diff between two SOP texts: what changed in meaning, then the exact lines.

`diff_texts(old, new)` parses both; when both parse, the summary names every change
to what runs (title, owner, review, scope, steps and their fields, time limits,
templates, escalation, follow-ups, standards, roles) and which readable sections were
edited, e.g. `step "acknowledge": time limit 24 business hours → 12 business hours`.
A unified diff of the text follows. Pure: text in, text out.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sopdesk.sop.model import FrontMatter, SopDocument
from sopdesk.sop.parser import parse_sop

ARROW = "→"

STEP_FIELD_LABELS = {
    "title": "title",
    "owner": "owner",
    "within": "time limit",
    "send": "template",
    "when": "condition",
    "critical": "critical",
    "checklist": "checklist",
    "evidence": "evidence",
    "details": "details",
}
SCALAR_LABELS = {
    "title": "title",
    "summary": "summary",
    "owner": "owner",
    "review": "review cadence",
    "calendar": "calendar",
}
LONG_TEXT = 60


@dataclass(frozen=True)
class SopDiff:
    old_label: str
    new_label: str
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unified: str = ""

    @property
    def identical(self) -> bool:
        return not self.unified

    def render(self) -> str:
        """Summary first, then the unified diff; plain text for a terminal or a <pre>."""
        lines = [f"--- {self.old_label}", f"+++ {self.new_label}", ""]
        if self.identical:
            return "\n".join([*lines, "The two texts are identical.", ""])
        if self.changes or self.notes:
            lines.append("Summary of changes:")
        else:
            lines.append("No change in content; only whitespace or layout changed.")
        lines += [f"  • {change}" for change in self.changes]
        lines += [f"  ! {note}" for note in self.notes]
        lines += ["", "Text:", self.unified.rstrip("\n"), ""]
        return "\n".join(lines)


def diff_texts(old: str, new: str, *, old_label: str = "old", new_label: str = "new") -> SopDiff:
    """Compare two SOP texts; unparseable ones get a note and the text diff only."""
    unified = unified_diff(old, new, old_label, new_label)
    if not unified:
        return SopDiff(old_label, new_label)
    old_doc = parse_sop(old, old_label).document
    new_doc = parse_sop(new, new_label).document
    notes = [
        f"{label} does not parse; only its text is compared"
        for label, doc in ((old_label, old_doc), (new_label, new_doc))
        if doc is None
    ]
    changes = summarise(old_doc, new_doc) if old_doc and new_doc else []
    return SopDiff(old_label, new_label, changes, notes, unified)


def unified_diff(old: str, new: str, old_label: str, new_label: str, context: int = 3) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
        n=context,
    )
    missing = "\n\\ No newline at end of file\n"
    return "".join(line if line.endswith("\n") else line + missing for line in lines)


def summarise(old: SopDocument, new: SopDocument) -> list[str]:
    """Every change to the front matter, then the edited body sections."""
    a, b = old.meta, new.meta
    changes = _scalar_changes(a, b)
    changes += _model_changes("scope", a.applies_to, b.applies_to)
    changes += _list_changes("tag", a.tags, b.tags)
    changes += _steps(a, b)
    changes += _keyed("standard", a.standards, b.standards, _value_change)
    changes += _keyed("template", a.templates, b.templates, _model_field_change)
    changes += _indexed("escalation level", a.escalation, b.escalation)
    changes += _indexed("follow-up", a.followups, b.followups)
    changes += _keyed("role", a.roles, b.roles, _model_field_change)
    changes += _keyed("event", a.events, b.events, _value_change)
    changes += _keyed("field", a.fields, b.fields, _value_change)
    changes += _sections(old, new)
    return changes


# --- pieces ------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_show(item) for item in value)
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True, mode="json")
    text = " ".join(str(getattr(value, "value", value)).split())
    return text if len(text) <= LONG_TEXT else text[: LONG_TEXT - 1] + "…"


def _value_change(label: str, old: Any, new: Any) -> list[str]:
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > LONG_TEXT:
        return [f"{label}: text changed"]
    return [f"{label}: {_show(old)} {ARROW} {_show(new)}"]


def _scalar_changes(a: FrontMatter, b: FrontMatter) -> list[str]:
    changes = []
    for name, label in SCALAR_LABELS.items():
        old, new = getattr(a, name), getattr(b, name)
        if old != new:
            changes += _value_change(label, old, new)
    return changes


def _model_changes(prefix: str, old: BaseModel, new: BaseModel) -> list[str]:
    if old == new:
        return []
    changes = []
    for name in type(old).model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        if isinstance(before, list) and isinstance(after, list):
            changes += _list_changes(f"{prefix} {name}", before, after, noun="")
        else:
            changes += _value_change(f"{prefix} {name}", before, after)
    return changes


def _model_field_change(label: str, old: BaseModel, new: BaseModel) -> list[str]:
    changed = [name for name in type(old).model_fields if getattr(old, name) != getattr(new, name)]
    return [f"{label}: {', '.join(changed)} changed"]


def _list_changes(label: str, old: Sequence[Any], new: Sequence[Any], noun: str = "") -> list[str]:
    added = [item for item in new if item not in old]
    removed = [item for item in old if item not in new]
    changes = []
    if added:
        changes.append(f"{label}{noun} added: {_show(added)}")
    if removed:
        changes.append(f"{label}{noun} removed: {_show(removed)}")
    if not added and not removed and list(old) != list(new):
        changes.append(f"{label} reordered")
    return changes


def _keyed(
    noun: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    describe: Callable[[str, Any, Any], list[str]],
) -> list[str]:
    changes = [f'{noun} "{key}" added: {_show(new[key])}' for key in new if key not in old]
    changes += [f'{noun} "{key}" removed' for key in old if key not in new]
    for key in old:
        if key in new and old[key] != new[key]:
            changes += describe(f'{noun} "{key}"', old[key], new[key])
    return changes


def _indexed(noun: str, old: Sequence[BaseModel], new: Sequence[BaseModel]) -> list[str]:
    changes = []
    for index in range(max(len(old), len(new))):
        label = f"{noun} {index + 1}"
        if index >= len(old):
            changes.append(f"{label} added: {_show(new[index])}")
        elif index >= len(new):
            changes.append(f"{label} removed: {_show(old[index])}")
        elif old[index] != new[index]:
            changes += _model_changes(label, old[index], new[index])
    return changes


def _steps(a: FrontMatter, b: FrontMatter) -> list[str]:
    old = {step.id: step for step in a.steps}
    new = {step.id: step for step in b.steps}
    changes = [
        f'step "{sid}" added at position {pos}: {new[sid].title}'
        for pos, sid in enumerate(new, 1)
        if sid not in old
    ]
    changes += [f'step "{sid}" removed: {old[sid].title}' for sid in old if sid not in new]
    for sid, before in old.items():
        after = new.get(sid)
        if after is not None and after != before:
            changes += _step_fields(sid, before, after)
    kept_old = [sid for sid in old if sid in new]
    kept_new = [sid for sid in new if sid in old]
    if kept_old != kept_new:
        changes.append(f"steps reordered: {', '.join(kept_old)} {ARROW} {', '.join(kept_new)}")
    return changes


def _step_fields(sid: str, before: BaseModel, after: BaseModel) -> list[str]:
    changes = []
    for name, label in STEP_FIELD_LABELS.items():
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        prefix = f'step "{sid}": {label}'
        if isinstance(old, list):
            changes += _list_changes(prefix, old, new, noun=" items")
        else:
            changes += _value_change(prefix, old, new)
    return changes


def _sections(old: SopDocument, new: SopDocument) -> list[str]:
    before = _section_texts(old)
    after = _section_texts(new)
    changes = [f'section "{title}" added' for title in after if title not in before]
    changes += [f'section "{title}" removed' for title in before if title not in after]
    changes += [
        f'section "{title}" edited'
        for title in before
        if title in after and before[title] != after[title]
    ]
    return changes


def _section_texts(document: SopDocument) -> dict[str, str]:
    texts: dict[str, str] = {}
    for section in document.sections:
        texts.setdefault(section.title, " ".join(section.markdown.split()))
    return texts


def changed_areas(changes: Iterable[str]) -> list[str]:
    """The distinct first words of a summary (`step`, `template`, …), for a short label."""
    seen: dict[str, None] = {}
    for change in changes:
        seen.setdefault(change.split(" ", 1)[0].rstrip(":"), None)
    return list(seen)
