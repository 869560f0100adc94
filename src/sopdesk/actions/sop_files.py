"""SOP files in and out: sync a folder (the git workflow), export it back, load the library.

Files are read as bytes and stored as their exact UTF-8 text, so `export` after `sync`
writes byte-identical files. A folder is parsed completely before anything is written;
invalid files are reported with their findings and never half-loaded; the valid ones
are applied in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk import library
from sopdesk.actions import lifecycle
from sopdesk.actions.base import resolve_now, transaction
from sopdesk.actions.sops import create_draft, list_sops, publish, retire, update_draft
from sopdesk.errors import InvalidInput, NotFound
from sopdesk.sop.findings import Finding, Severity
from sopdesk.sop.parser import ParseResult, parse_sop
from sopdesk.store.tables import Sop, SopStatus, SopVersion, VersionStatus

LIBRARY_AUTHOR = "sopdesk"


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    PUBLISHED = "published"
    UNCHANGED = "unchanged"
    RETIRED = "retired"
    INVALID = "invalid"


@dataclass(frozen=True)
class SyncItem:
    path: str
    outcome: Outcome
    sop_id: str | None = None
    version: int | None = None
    status: str | None = None
    findings: tuple[Finding, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "outcome": self.outcome.value,
            "id": self.sop_id,
            "version": self.version,
            "status": self.status,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class SyncReport:
    items: list[SyncItem] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome is outcome)

    @property
    def ok(self) -> bool:
        return self.count(Outcome.INVALID) == 0

    @property
    def changed(self) -> int:
        return len(self.items) - self.count(Outcome.UNCHANGED) - self.count(Outcome.INVALID)


@dataclass(frozen=True)
class _Source:
    path: str
    text: str | None
    sop_id: str | None
    findings: tuple[Finding, ...]
    parsed: ParseResult | None = None


@dataclass(frozen=True)
class LoadOptions:
    author: str
    publish: bool = False
    approver: str | None = None
    note: str = ""
    only_new: bool = False
    retire_missing: bool = False


def do_sync_directory(
    session: Session,
    directory: str | Path,
    author: str,
    *,
    publish: bool = False,
    approver: str | None = None,
    note: str = "",
    retire_missing: bool = False,
    now: datetime | None = None,
) -> SyncReport:
    """Load every `*.md` file of `directory`: new SOP, new version, or nothing.

    A new file becomes a new SOP; a changed file becomes a new draft version (or
    replaces the open draft); an unchanged file does nothing. With `publish`, what was
    loaded is also published, approved by `approver` (default: the author). With
    `retire_missing`, an SOP whose file is gone from the folder is retired, so the
    folder is the whole library; that step is skipped when a file's id cannot be read
    (it could be the "missing" SOP).
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise NotFound(f"{folder} is not a folder", hint="give the folder that holds the .md files")
    files = sorted(folder.glob("*.md"))
    sources = [(str(path), path.read_bytes()) for path in files]
    options = LoadOptions(
        author,
        publish,
        approver,
        note or f"synced from {folder.name}",
        retire_missing=retire_missing,
    )
    return do_load_sources(session, sources, options, now=now)


def do_load_library(session: Session, *, now: datetime | None = None) -> SyncReport:
    """Add and publish every built-in SOP that is not in the database yet.

    SOPs already present are left alone, even if the built-in text has changed since:
    the database is the owner's, and `init` must be safe to run again.
    """
    options = LoadOptions(LIBRARY_AUTHOR, publish=True, note="built-in library", only_new=True)
    return do_load_sources(session, library_sources(), options, now=now)


def do_load_sources(
    session: Session,
    sources: Iterable[tuple[str, bytes]],
    options: LoadOptions,
    *,
    now: datetime | None = None,
) -> SyncReport:
    """Parse every source first, then apply the valid ones in one transaction."""
    parsed = _dedupe([_read(path, raw) for path, raw in sources])
    moment = resolve_now(now)
    items: list[SyncItem] = []
    with transaction(session):
        for source in parsed:
            if source.text is None or source.sop_id is None:
                items.append(
                    SyncItem(source.path, Outcome.INVALID, source.sop_id, findings=source.findings)
                )
            else:
                items.append(_apply(session, source, options, moment))
        if options.retire_missing and all(source.sop_id for source in parsed):
            present = {source.sop_id for source in parsed}
            items.extend(_retire_missing(session, present, options, moment))
    return SyncReport(items)


def _retire_missing(
    session: Session, present: set[str | None], options: LoadOptions, now: datetime
) -> list[SyncItem]:
    """Retire every SOP not yet retired whose id no file in the folder carries."""
    query = select(Sop.id).where(Sop.status != SopStatus.RETIRED.value).order_by(Sop.id)
    items = []
    for sop_id in session.scalars(query).all():
        if sop_id in present:
            continue
        note = f"{options.note}: its file is no longer in the folder"
        rows = retire(session, sop_id, None, actor=options.author, note=note, now=now)
        last = max(rows, key=lambda row: row.version)
        items.append(SyncItem("", Outcome.RETIRED, sop_id, last.version, last.status))
    return items


def export_directory(
    session: Session, directory: str | Path, *, status: str = "published"
) -> list[SopVersion]:
    """Write each SOP's current version to `directory/<id>.md`, byte for byte.

    `status="published"`: the version in force of every published SOP.
    `status="all"`: the latest version of every SOP, drafts and retired ones included.
    """
    if status not in {"published", "all"}:
        raise InvalidInput(f"unknown status {status!r}", hint="use 'published' or 'all'")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sop in list_sops(session):
        row = _export_version(sop, status)
        if row is not None:
            (folder / f"{sop.id}.md").write_bytes(row.source.encode("utf-8"))
            written.append(row)
    return written


def library_sources() -> list[tuple[str, bytes]]:
    """(path, bytes) of every built-in SOP, from `sopdesk.library.templates()`."""
    return [(str(entry.path), entry.path.read_bytes()) for entry in library.templates()]


# --- pure helpers --------------------------------------------------------------------


def _read(path: str, raw: bytes) -> _Source:
    result = parse_sop(raw, path)
    errors = tuple(f for f in result.findings if f.severity is Severity.ERROR)
    if result.document is None:
        return _Source(path, None, None, errors)
    return _Source(path, raw.decode("utf-8"), result.document.id, (), result)


def _dedupe(sources: list[_Source]) -> list[_Source]:
    """Files that share an id are all invalid: which one should win would be a guess."""
    paths: dict[str, list[str]] = {}
    for source in sources:
        if source.sop_id is not None and source.text is not None:
            paths.setdefault(source.sop_id, []).append(source.path)
    return [_duplicate(s, paths[s.sop_id]) if _shared(s, paths) else s for s in sources]


def _shared(source: _Source, paths: dict[str, list[str]]) -> bool:
    return source.text is not None and len(paths.get(source.sop_id or "", [])) > 1


def _duplicate(source: _Source, paths: list[str]) -> _Source:
    others = ", ".join(p for p in paths if p != source.path)
    finding = Finding(
        "SOP007",
        Severity.ERROR,
        source.path,
        1,
        1,
        f"id {source.sop_id!r} is also used by {others}",
        "give each SOP file its own id; neither file was loaded",
    )
    return _Source(source.path, None, source.sop_id, (finding,))


def _export_version(sop: Sop, status: str) -> SopVersion | None:
    number = sop.published_version if status == "published" else sop.latest_version
    return next((v for v in sop.versions if v.version == number), None)


# --- applying one source -------------------------------------------------------------


def _apply(session: Session, source: _Source, options: LoadOptions, now: datetime) -> SyncItem:
    assert source.text is not None and source.sop_id is not None
    sop = session.get(Sop, source.sop_id, with_for_update=True)
    if sop is None:
        row = create_draft(
            session,
            source.text,
            options.author,
            options.note,
            sop_id=source.sop_id,
            now=now,
            parsed=source.parsed,
        )
        return _maybe_publish(session, source, row, Outcome.ADDED, options, now)
    latest = sop.versions[-1]
    if options.only_new:
        return _item(source, Outcome.UNCHANGED, latest)
    if latest.content_hash == lifecycle.content_hash(source.text):
        return _maybe_publish(session, source, latest, Outcome.UNCHANGED, options, now)
    if VersionStatus(latest.status) in lifecycle.EDITABLE:
        row = update_draft(session, latest, source.text, options.author, options.note, now=now)
    else:
        row = create_draft(
            session,
            source.text,
            options.author,
            options.note,
            sop_id=sop.id,
            now=now,
            parsed=source.parsed,
        )
    return _maybe_publish(session, source, row, Outcome.UPDATED, options, now)


def _maybe_publish(
    session: Session,
    source: _Source,
    row: SopVersion,
    outcome: Outcome,
    options: LoadOptions,
    now: datetime,
) -> SyncItem:
    if not options.publish or VersionStatus(row.status) not in lifecycle.OPEN:
        return _item(source, outcome, row)
    publish(session, row, options.approver or options.author, options.note, True, now=now)
    return _item(source, Outcome.PUBLISHED if outcome is Outcome.UNCHANGED else outcome, row)


def _item(source: _Source, outcome: Outcome, row: SopVersion) -> SyncItem:
    return SyncItem(source.path, outcome, row.sop_id, row.version, row.status)
