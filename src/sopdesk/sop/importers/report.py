"""The import report: what went where, what was assumed, and what could not be mapped.

Every entry names the place in the source (`paragraph 12`, `line 40`) so the author can
check the draft against their own document.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sopdesk.sop.importers.outline import Loc


class EntryKind(StrEnum):
    MAPPED = "mapped"
    ASSUMED = "assumed"
    UNMAPPED = "unmapped"
    IGNORED = "ignored"
    MISSING = "missing"


@dataclass(frozen=True)
class ReportEntry:
    kind: EntryKind
    message: str
    where: Loc | None = None
    target: str = ""

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        arrow = f" -> {self.target}" if self.target else ""
        return f"{place}{self.message}{arrow}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind.value,
            "where": str(self.where) if self.where else None,
            "message": self.message,
            "target": self.target or None,
        }


def _order(entry: ReportEntry) -> tuple[int, str, int, int]:
    where = entry.where
    if where is None:
        return (0, "", 0, 0)
    return (1, where.unit, where.number, where.row or 0)


_NOUNS = {
    "steps": ("step", "steps"),
    "templates": ("template", "templates"),
    "escalation": ("escalation level", "escalation levels"),
    "standards": ("standard", "standards"),
    "roles": ("role with duties", "roles with duties"),
    "events": ("event", "events"),
    "section": ("section", "sections"),
}


@dataclass(frozen=True)
class ImportReport:
    source: str
    format: str
    entries: tuple[ReportEntry, ...]

    def of(self, kind: EntryKind) -> list[ReportEntry]:
        """Entries of one kind, in document order (entries without a place first)."""
        return sorted((entry for entry in self.entries if entry.kind is kind), key=_order)

    @property
    def mapped(self) -> list[ReportEntry]:
        return self.of(EntryKind.MAPPED)

    @property
    def assumed(self) -> list[ReportEntry]:
        return self.of(EntryKind.ASSUMED)

    @property
    def unmapped(self) -> list[ReportEntry]:
        return self.of(EntryKind.UNMAPPED)

    @property
    def ignored(self) -> list[ReportEntry]:
        return self.of(EntryKind.IGNORED)

    @property
    def missing(self) -> list[ReportEntry]:
        return self.of(EntryKind.MISSING)

    def summary(self) -> str:
        """One line: `5 steps, 1 template, 2 escalation levels, 4 sections, title, review`."""
        found: dict[str, set[str]] = {}
        for entry in self.mapped:
            target = entry.target
            if target.startswith("# "):
                found.setdefault("section", set()).add(target)
            elif target:
                head, _, rest = target.replace("[", ".").replace("]", "").partition(".")
                found.setdefault(head, set()).add(rest.split(".")[0])
        parts: list[str] = []
        for key, (one, many) in _NOUNS.items():
            count = len(found.get(key, ()))
            if count:
                parts.append(f"{count} {one if count == 1 else many}")
        parts.extend(key for key in ("title", "owner", "review") if key in found)
        return ", ".join(parts) or "nothing"

    def render(self) -> str:
        """The report as text, grouped: could not map, assumed, ignored, mapped."""
        parts = [f"Import report for {self.source} ({self.format})"]
        groups = (
            ("Could not map", self.unmapped),
            ("Assumed (check these)", self.assumed),
            ("Not in the source (write these)", self.missing),
            ("Ignored", self.ignored),
            ("Mapped", self.mapped),
        )
        for title, entries in groups:
            if entries:
                parts.append(f"{title}:")
                parts.extend(f"  - {entry}" for entry in entries)
        return "\n".join(parts)


@dataclass(frozen=True)
class ImportResult:
    """The draft SOP text, the id it was given, and the report."""

    sop_id: str
    text: str
    report: ImportReport
