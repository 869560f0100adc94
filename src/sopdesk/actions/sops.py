"""SOP versions: every write (`do_*`), with the reads of `sop_reads` re-exported.

Each `do_*` runs in one transaction, appends to the `sop_events` audit log, and takes
`now` (an aware datetime; the current time when omitted). The workflow rules are in
`actions.lifecycle`; this module loads rows, asks those rules, and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from sopdesk.actions import lifecycle
from sopdesk.actions.base import atomic, resolve_now
from sopdesk.actions.lifecycle import DRAFT, IN_REVIEW, PUBLISHED, RETIRED
from sopdesk.actions.sop_reads import (
    DueReview,
    LibraryRow,
    due_reviews,
    get_sop,
    get_version,
    list_events,
    list_library,
    list_sops,
    list_versions,
)
from sopdesk.actions.webhook_events import queue_sop_published
from sopdesk.errors import Conflict, InvalidInput
from sopdesk.sop.findings import Finding, Severity, sort_findings
from sopdesk.sop.model import SopDocument
from sopdesk.sop.parser import ParseResult
from sopdesk.sop.parser import parse_sop as _parse_sop
from sopdesk.sop.timephrase import parse_cadence
from sopdesk.store.tables import Sop, SopEvent, SopVersion, VersionStatus

__all__ = [
    "DueReview",
    "LibraryRow",
    "do_create_draft",
    "do_mark_reviewed",
    "do_publish",
    "do_retire",
    "do_submit_for_review",
    "do_update_draft",
    "due_reviews",
    "get_sop",
    "get_version",
    "list_events",
    "list_library",
    "list_sops",
    "list_versions",
]

MAX_LISTED_FINDINGS = 5


@lru_cache(maxsize=128)
def parse_sop(text: str, label: str = "<string>") -> ParseResult:
    """`sop.parser.parse_sop`, remembered: one action asks about the same text often."""
    return _parse_sop(text, label)


# --- writes ------------------------------------------------------------------------


@atomic
def do_create_draft(
    session: Session,
    text: str,
    author: str,
    note: str = "",
    *,
    sop_id: str | None = None,
    now: datetime | None = None,
) -> SopVersion:
    """Save `text` as a new draft version (version 1 of a new SOP, or the next one).

    A new SOP needs text that parses (its id comes from the front matter). A draft of
    an existing SOP may be work in progress that does not parse yet, when `sop_id` says
    which SOP it belongs to; it cannot be submitted or published until it parses.
    """
    return create_draft(session, text, author, note, sop_id=sop_id, now=resolve_now(now))


@atomic
def do_update_draft(
    session: Session,
    sop_id: str,
    version: int,
    text: str,
    author: str,
    note: str | None = None,
    *,
    now: datetime | None = None,
) -> SopVersion:
    """Replace the text of a draft; a version in review goes back to draft."""
    row = get_version(session, sop_id, version, lock=True)
    return update_draft(session, row, text, author, note, now=resolve_now(now))


@atomic
def do_submit_for_review(
    session: Session,
    sop_id: str,
    version: int | None = None,
    *,
    actor: str,
    note: str = "",
    now: datetime | None = None,
) -> SopVersion:
    """Move a draft to review; its text must parse."""
    row = _open_or_given(session, sop_id, version)
    lifecycle.check_transition(sop_id, row.version, VersionStatus(row.status), IN_REVIEW)
    require_document(row)
    moment = resolve_now(now)
    row.status, row.submitted_at, row.updated_at = IN_REVIEW.value, moment, moment
    _log(session, row, "submitted", actor, note, moment)
    _refresh_sop(row.sop, moment)
    return row


@atomic
def do_publish(
    session: Session,
    sop_id: str,
    version: int | None = None,
    *,
    approver: str,
    note: str = "",
    material: bool = True,
    now: datetime | None = None,
) -> SopVersion:
    """Publish a draft or a version in review; it supersedes the version in force."""
    row = _open_or_given(session, sop_id, version)
    return publish(session, row, approver, note, material, now=resolve_now(now))


@atomic
def do_retire(
    session: Session,
    sop_id: str,
    version: int | None = None,
    *,
    actor: str,
    note: str = "",
    now: datetime | None = None,
) -> list[SopVersion]:
    """Retire one version, or without a number the whole SOP (in force and open versions)."""
    return retire(session, sop_id, version, actor=actor, note=note, now=resolve_now(now))


def retire(
    session: Session,
    sop_id: str,
    version: int | None,
    *,
    actor: str,
    note: str,
    now: datetime,
) -> list[SopVersion]:
    """`do_retire` inside the caller's transaction (`sop sync --retire-missing`)."""
    sop = get_sop(session, sop_id, lock=True)
    if version is not None:
        targets = [get_version(session, sop_id, version)]
    else:
        targets = [v for v in sop.versions if v.status != RETIRED.value]
        if not targets:
            raise Conflict(f"{sop_id} is already retired", hint="create a new draft to revive it")
    for row in targets:
        lifecycle.check_transition(sop_id, row.version, VersionStatus(row.status), RETIRED)
        action = "retired" if row.status == PUBLISHED.value else "withdrawn"
        _retire(session, row, action, actor, note, now)
    _refresh_sop(sop, now)
    return targets


@atomic
def do_mark_reviewed(
    session: Session, sop_id: str, *, reviewer: str, note: str = "", now: datetime | None = None
) -> SopVersion:
    """Record that the version in force was reviewed unchanged; the next review is due
    one cadence from now."""
    sop = get_sop(session, sop_id, lock=True)
    if sop.published_version is None:
        raise Conflict(f"{sop_id} has no published version to review")
    row = get_version(session, sop_id, sop.published_version)
    moment = resolve_now(now)
    cadence = parse_cadence(row.review_cadence or require_document(row).meta.review)
    row.reviewed_at, row.review_due = moment, lifecycle.review_due(moment, cadence)
    _log(session, row, "reviewed", _required(reviewer, "reviewer"), note, moment)
    return row


# --- building blocks (no commit; used by the actions above and by sync) ------------


def create_draft(
    session: Session,
    text: str,
    author: str,
    note: str,
    *,
    sop_id: str | None,
    now: datetime,
    parsed: ParseResult | None = None,
) -> SopVersion:
    result = parsed or parse_sop(text, f"{sop_id or 'draft'}.md")
    document = result.document
    if document is not None:
        sop_id = _check_id(sop_id, document)
    elif sop_id is None:
        raise _invalid("the text does not parse, so its SOP id is unknown", result.findings)
    sop = session.get(Sop, sop_id, with_for_update=True)
    if sop is None:
        if document is None:
            raise _invalid(f"a new SOP ({sop_id}) needs text that parses", result.findings)
        sop = _new_sop(session, document, now)
    else:
        _check_can_add_version(sop, text)
    row = SopVersion(
        sop_id=sop.id,
        version=sop.latest_version + 1,
        title=document.title if document else None,
        source=text,
        content_hash=lifecycle.content_hash(text),
        parses=document is not None,
        status=DRAFT.value,
        author=_required(author, "author"),
        note=note,
        material=True,
        created_at=now,
        updated_at=now,
    )
    sop.versions.append(row)
    _log(session, row, "created", author, note, now)
    _refresh_sop(sop, now)
    return row


def update_draft(
    session: Session,
    row: SopVersion,
    text: str,
    author: str,
    note: str | None,
    *,
    now: datetime,
) -> SopVersion:
    lifecycle.check_editable(row.sop_id, row.version, VersionStatus(row.status))
    result = parse_sop(text, f"{row.sop_id}.md")
    if result.document is not None:
        _check_id(row.sop_id, result.document)
    if lifecycle.content_hash(text) == row.content_hash and note in (None, row.note):
        return row
    back_to_draft = row.status == IN_REVIEW.value
    row.source, row.content_hash = text, lifecycle.content_hash(text)
    row.parses = result.document is not None
    row.title = result.document.title if result.document else row.title
    row.author, row.updated_at = _required(author, "author"), now
    row.note = row.note if note is None else note
    if back_to_draft:
        row.status, row.submitted_at = DRAFT.value, None
    _log(session, row, "edited", author, note or "", now, returned_to_draft=back_to_draft)
    _refresh_sop(row.sop, now)
    return row


def publish(
    session: Session,
    row: SopVersion,
    approver: str,
    note: str,
    material: bool,
    *,
    now: datetime,
) -> SopVersion:
    sop = row.sop
    lifecycle.check_transition(sop.id, row.version, VersionStatus(row.status), PUBLISHED)
    document = require_document(row)
    approver = _required(approver, "approver")
    reviewed = row.status == IN_REVIEW.value
    previous = sop.published_version
    if previous is not None:
        old = next(v for v in sop.versions if v.version == previous)
        _retire(session, old, "superseded", approver, f"superseded by version {row.version}", now)
    cadence = parse_cadence(document.meta.review)
    row.status, row.published_at, row.updated_at = PUBLISHED.value, now, now
    row.approved_by, row.approval_note, row.material = approver, note, material
    row.review_cadence, row.review_due = str(cadence), lifecycle.review_due(now, cadence)
    _log(
        session, row, "published", approver, note, now,
        material=material, reviewed=reviewed, supersedes=previous,
    )  # fmt: skip
    _refresh_sop(sop, now)
    queue_sop_published(session, row, approver)
    return row


def require_document(row: SopVersion) -> SopDocument:
    """The parsed document of a version, or `InvalidInput` listing why it does not parse."""
    result = parse_sop(row.source, f"{row.sop_id}.md")
    if result.document is None:
        raise _invalid(f"{row.sop_id} version {row.version} does not parse", result.findings)
    return result.document


# --- helpers -----------------------------------------------------------------------


def _open_or_given(session: Session, sop_id: str, version: int | None) -> SopVersion:
    if version is not None:
        return get_version(session, sop_id, version, lock=True)
    sop = get_sop(session, sop_id, lock=True)
    row = _open_version(sop)
    if row is None:
        raise Conflict(
            f"{sop_id} has no draft or version in review",
            hint="name a version with --version, or create a draft first",
        )
    return row


def _open_version(sop: Sop) -> SopVersion | None:
    return next((v for v in sop.versions if VersionStatus(v.status) in lifecycle.OPEN), None)


def _check_id(sop_id: str | None, document: SopDocument) -> str:
    if sop_id is not None and sop_id != document.id:
        raise InvalidInput(
            f"the text says id {document.id!r} but it was given for SOP {sop_id!r}",
            hint="an SOP's id cannot change; create a new SOP with the new id instead",
        )
    return document.id


def _check_can_add_version(sop: Sop, text: str) -> None:
    open_row = _open_version(sop)
    if open_row is not None:
        raise Conflict(
            f"{sop.id} already has version {open_row.version} open ({open_row.status})",
            hint="edit that version, or publish or retire it first",
        )
    latest = sop.versions[-1]
    if latest.content_hash == lifecycle.content_hash(text):
        raise Conflict(
            f"{sop.id} version {latest.version} already has exactly this text",
            hint="change the text first",
        )


def _new_sop(session: Session, document: SopDocument, now: datetime) -> Sop:
    sop = Sop(
        id=document.id,
        title=document.title,
        owner=document.meta.owner,
        status=DRAFT.value,
        latest_version=0,
        published_version=None,
        created_at=now,
        updated_at=now,
    )
    session.add(sop)
    return sop


def _retire(
    session: Session, row: SopVersion, action: str, actor: str, note: str, now: datetime
) -> None:
    row.status, row.retired_at, row.updated_at = RETIRED.value, now, now
    _log(session, row, action, actor, note, now)


def _refresh_sop(sop: Sop, now: datetime) -> None:
    """Derive the SOP's summary columns from its versions."""
    in_force = next((v for v in sop.versions if v.status == PUBLISHED.value), None)
    open_row = _open_version(sop)
    sop.published_version = in_force.version if in_force else None
    sop.latest_version = max(v.version for v in sop.versions)
    sop.status = lifecycle.sop_status(
        sop.published_version, VersionStatus(open_row.status) if open_row else None
    ).value
    shown = in_force or next((v for v in reversed(sop.versions) if v.parses), None)
    if shown is not None:
        meta = parse_sop(shown.source, f"{sop.id}.md").document
        if meta is not None:
            sop.title, sop.owner = meta.title, meta.meta.owner
    sop.updated_at = now


def _log(
    session: Session,
    row: SopVersion,
    action: str,
    actor: str,
    note: str,
    now: datetime,
    **data: Any,
) -> None:
    session.add(
        SopEvent(
            sop_id=row.sop_id,
            version=row.version,
            action=action,
            actor=actor,
            note=note,
            data=data,
            at=now,
        )
    )


def _required(value: str, name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"the {name} is required", hint=f"give a name, e.g. --{name} jane")
    return value


def _invalid(message: str, findings: Sequence[Finding]) -> InvalidInput:
    errors = sort_findings([f for f in findings if f.severity is Severity.ERROR])
    lines = [str(f).splitlines()[0] for f in errors[:MAX_LISTED_FINDINGS]]
    if len(errors) > MAX_LISTED_FINDINGS:
        lines.append(f"... and {len(errors) - MAX_LISTED_FINDINGS} more")
    return InvalidInput(
        "\n  ".join([f"{message}:", *lines]),
        hint="'sopdesk sop lint FILE' shows every finding with its fix",
        findings=[f.as_dict() for f in errors],
    )
