"""/api/v1/sops: the SOP library, drafts, lint, the publish workflow, diffs, and
"I have read this version" acknowledgements.

Thin: each operation checks its action (`sop.read`, `sop.edit`, `sop.publish`,
`sop.acknowledge`), calls one `sopdesk.actions` function and shapes the answer. The
author, approver or reader is always the caller.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from sopdesk.actions import sops
from sopdesk.actions.acknowledgements import (
    acknowledgement_status,
    counting_from,
    do_acknowledge,
)
from sopdesk.actions.lifecycle import OPEN
from sopdesk.auth.permissions import Principal
from sopdesk.errors import InvalidInput
from sopdesk.sop.diff import diff_texts
from sopdesk.sop.findings import Severity
from sopdesk.sop.lint import lint
from sopdesk.sop.model import ID_PATTERN
from sopdesk.sop.score import score
from sopdesk.store.tables import VersionStatus
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.api.idempotent import IdempotentRoute, idempotency_key
from sopdesk.web.security import DbSession

router = APIRouter(
    prefix="/sops", tags=["sops"], responses=m.ERROR_RESPONSES, route_class=IdempotentRoute
)

SopReader = Annotated[Principal, Depends(require("sop.read"))]
SopEditor = Annotated[Principal, Depends(require("sop.edit"))]
SopPublisher = Annotated[Principal, Depends(require("sop.publish"))]
SopAcknowledger = Annotated[Principal, Depends(require("sop.acknowledge"))]
SopId = Annotated[str, Path(pattern=ID_PATTERN, max_length=80, examples=["returns-and-refunds"])]
MAX_VERSION = 1_000_000
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]
IDEMPOTENT = [Depends(idempotency_key)]


def _x(action: str) -> dict[str, str]:
    return {"x-permission": action}


@router.get(
    "", response_model=list[m.SopSummary], summary="List SOPs", openapi_extra=_x("sop.read")
)
def list_sops(who: SopReader, session: DbSession) -> list[m.SopSummary]:
    """Every SOP with its version in force, its latest version and the next review date."""
    return [m.SopSummary(**row.as_dict()) for row in sops.list_library(session)]


@router.post(
    "/lint",
    response_model=m.LintOut,
    summary="Lint SOP text without saving it",
    dependencies=IDEMPOTENT,
    openapi_extra=_x("sop.read"),
)
def lint_text(body: m.LintIn, who: SopReader) -> m.LintOut:
    """Every finding (error, warning, info) with its line, column and fix, plus the quality
    score: what the editor shows beside the text. Nothing is stored."""
    result = sops.parse_sop(body.text, "draft.md")
    findings = lint(result)
    quality = score(result)
    return m.LintOut(
        parses=result.document is not None,
        errors=sum(1 for f in findings if f.severity is Severity.ERROR),
        warnings=sum(1 for f in findings if f.severity is Severity.WARNING),
        score=quality.score,
        score_reasons=list(quality.reasons),
        findings=[
            m.FindingOut(
                code=f.code,
                severity=f.severity.value,
                line=f.line,
                column=f.column,
                message=f.message,
                hint=f.hint,
            )
            for f in findings
        ],
    )


@router.post(
    "",
    response_model=m.VersionOut,
    status_code=201,
    summary="Create a draft from Markdown",
    dependencies=IDEMPOTENT,
    openapi_extra=_x("sop.edit"),
)
def create_draft(body: m.SopTextIn, who: SopEditor, session: DbSession) -> m.VersionOut:
    """Save SOP text as a draft: version 1 of a new SOP (its id comes from the front
    matter), or the next version of an existing one. The text must parse (422 lists the
    errors); 409 if the SOP already has an open draft."""
    return m.version_out(sops.do_create_draft(session, body.text, who.email, body.note))


@router.get(
    "/{sop_id}", response_model=m.SopDetail, summary="Get an SOP", openapi_extra=_x("sop.read")
)
def read_sop(sop_id: SopId, who: SopReader, session: DbSession) -> m.SopDetail:
    """The SOP, its version in force with its text, and every version's history."""
    sops.get_sop(session, sop_id)  # 404 first
    row = next(r for r in sops.list_library(session) if r.id == sop_id)
    versions = sops.list_versions(session, sop_id)
    current = next((v for v in versions if v.version == row.published_version), None)
    return m.SopDetail(
        **row.as_dict(),
        current=m.version_out(current) if current else None,
        versions=[m.version_meta(v) for v in versions],
    )


@router.put(
    "/{sop_id}/draft",
    response_model=m.VersionOut,
    summary="Save the draft's text",
    openapi_extra=_x("sop.edit"),
)
def save_draft(sop_id: SopId, body: m.DraftIn, who: SopEditor, session: DbSession) -> m.VersionOut:
    """Replace the text of the open draft (a version in review goes back to draft), or
    start a new draft when none is open. Work in progress that does not parse yet is
    kept; it cannot be submitted or published until it parses."""
    open_row = next(
        (v for v in sops.list_versions(session, sop_id) if VersionStatus(v.status) in OPEN), None
    )
    if open_row is None:
        row = sops.do_create_draft(session, body.text, who.email, body.note or "", sop_id=sop_id)
    else:
        row = sops.do_update_draft(
            session, sop_id, open_row.version, body.text, who.email, body.note
        )
    return m.version_out(row)


@router.post(
    "/{sop_id}/submit",
    response_model=m.VersionOut,
    summary="Submit a draft for review",
    dependencies=IDEMPOTENT,
    openapi_extra=_x("sop.edit"),
)
def submit(sop_id: SopId, body: m.WorkflowIn, who: SopEditor, session: DbSession) -> m.VersionOut:
    """Move the open draft (or `version`) to review; its text must parse."""
    row = sops.do_submit_for_review(session, sop_id, body.version, actor=who.email, note=body.note)
    return m.version_out(row)


@router.post(
    "/{sop_id}/publish",
    response_model=m.VersionOut,
    summary="Publish a version",
    dependencies=IDEMPOTENT,
    openapi_extra=_x("sop.publish"),
)
def publish(
    sop_id: SopId, body: m.PublishIn, who: SopPublisher, session: DbSession
) -> m.VersionOut:
    """Publish the open draft or version in review (or `version`), approved by the caller.
    It supersedes the version in force. `material: false` marks an editorial change:
    acknowledgements of the previous version still count."""
    row = sops.do_publish(
        session, sop_id, body.version, approver=who.email, note=body.note, material=body.material
    )
    return m.version_out(row)


@router.post(
    "/{sop_id}/retire",
    response_model=list[m.VersionMeta],
    summary="Retire an SOP or a version",
    dependencies=IDEMPOTENT,
    openapi_extra=_x("sop.publish"),
)
def retire(
    sop_id: SopId, body: m.WorkflowIn, who: SopPublisher, session: DbSession
) -> list[m.VersionMeta]:
    """Retire `version`, or without one the whole SOP (the version in force and any open
    draft); new cases no longer run it."""
    rows = sops.do_retire(session, sop_id, body.version, actor=who.email, note=body.note)
    return [m.version_meta(row) for row in rows]


@router.get(
    "/{sop_id}/diff",
    response_model=m.DiffOut,
    summary="Compare two versions",
    openapi_extra=_x("sop.read"),
)
def diff(
    sop_id: SopId,
    who: SopReader,
    session: DbSession,
    from_version: Annotated[
        int | None, Query(alias="from", ge=1, le=MAX_VERSION, description="Default: to - 1")
    ] = None,
    to_version: Annotated[
        int | None, Query(alias="to", ge=1, le=MAX_VERSION, description="Default: the latest")
    ] = None,
) -> m.DiffOut:
    """What changed in meaning between two versions (steps, time limits, templates…),
    then the unified diff of the text."""
    to_row = sops.get_version(
        session, sop_id, to_version or sops.get_sop(session, sop_id).latest_version
    )
    start = from_version if from_version is not None else to_row.version - 1
    if start < 1:
        raise InvalidInput(f"{sop_id} has only version 1; name two versions with from and to")
    from_row = sops.get_version(session, sop_id, start)
    result = diff_texts(
        from_row.source,
        to_row.source,
        old_label=f"{sop_id} v{from_row.version}",
        new_label=f"{sop_id} v{to_row.version}",
    )
    return m.DiffOut(
        sop_id=sop_id,
        from_version=from_row.version,
        to_version=to_row.version,
        identical=result.identical,
        changes=list(result.changes),
        notes=list(result.notes),
        unified=result.unified,
    )


@router.get(
    "/{sop_id}/versions/{version}",
    response_model=m.VersionOut,
    summary="Get one version",
    openapi_extra=_x("sop.read"),
)
def read_version(
    sop_id: SopId, version: VersionNumber, who: SopReader, session: DbSession
) -> m.VersionOut:
    """One version with its exact Markdown source and its place in the workflow."""
    return m.version_out(sops.get_version(session, sop_id, version))


@router.post(
    "/{sop_id}/versions/{version}/acknowledge",
    response_model=m.AcknowledgementOut,
    summary="I have read this version",
    dependencies=IDEMPOTENT,
    openapi_extra=_x("sop.acknowledge"),
)
def acknowledge(
    sop_id: SopId, version: VersionNumber, who: SopAcknowledger, session: DbSession
) -> m.AcknowledgementOut:
    """Record that the caller has read the version in force (idempotent: the first
    acknowledgement stays). 409 for a version that is not in force."""
    row = do_acknowledge(session, sop_id, version, who.user_id)
    return m.AcknowledgementOut(
        sop_id=row.sop_id, version=row.version, user_id=row.user_id, at=row.at
    )


@router.get(
    "/{sop_id}/acknowledgements",
    response_model=m.AcknowledgementStatus,
    summary="Who has read the version in force",
    openapi_extra=_x("sop.read"),
)
def acknowledgements(sop_id: SopId, who: SopReader, session: DbSession) -> m.AcknowledgementStatus:
    """Every active user, split into those who have read the version in force and those
    who have not. A material change asks everyone again; an editorial one does not."""
    read, not_read = acknowledgement_status(session, sop_id)
    sop = sops.get_sop(session, sop_id)
    in_force = sop.published_version
    return m.AcknowledgementStatus(
        sop_id=sop_id,
        version=in_force,
        counting_from=counting_from(list(sop.versions), in_force) if in_force else None,
        read=[m.ReaderOut(**vars(r)) for r in read],
        not_read=[m.ReaderOut(**vars(r)) for r in not_read],
    )
