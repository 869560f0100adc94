"""The SOP library's working pages: new SOP from a built-in template, the editor with
live lint and score, the versions page (submit for review, publish with an approver)
and the diff between two versions. Reading an SOP is `web.pages`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from sopdesk import library
from sopdesk.actions import sops as sop_actions
from sopdesk.actions.acknowledgements import acknowledgement_status, do_acknowledge
from sopdesk.actions.lifecycle import OPEN
from sopdesk.auth.permissions import Principal
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.sop.diff import diff_texts
from sopdesk.sop.findings import Finding, Severity, sort_findings
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import parse_sop
from sopdesk.sop.score import Score, score
from sopdesk.store.tables import Sop, SopVersion, VersionStatus
from sopdesk.web.ui import CSRF, DbSession, back_to, fragment, is_htmx, person, ui_page

router = APIRouter()
SopReader = person("sop.read")
SopEditor = person("sop.edit")
SopPublisher = person("sop.publish")
SopAcknowledger = person("sop.acknowledge")
FormText = Annotated[str, Form()]
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


def check_text(sop_id: str, text: str) -> dict[str, Any]:
    """Lint findings (errors first) and the quality score of `text`."""
    result = parse_sop(text, f"{sop_id}.md")
    findings: list[Finding] = sort_findings(lint(result))
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    quality: Score = score(result)
    return {
        "findings": findings,
        "errors": errors,
        "score": quality,
        "parses": result.document is not None,
    }


def open_version(sop: Sop) -> SopVersion | None:
    return next((v for v in sop.versions if VersionStatus(v.status) in OPEN), None)


# --- new SOP from a template ---------------------------------------------------------


def from_template(template_id: str, sop_id: str, title: str) -> str:
    """A built-in SOP's text with a new id (and title, if given) in its front matter."""
    if not _ID.match(sop_id):
        raise InvalidInput(
            f"{sop_id!r} is not an SOP id", hint="lower-case letters, digits and dashes"
        )
    text = library.template_text(template_id)
    text = re.sub(r"(?m)^id:.*$", f"id: {sop_id}", text, count=1)
    if title.strip():
        safe = title.strip().replace('"', "'")
        text = re.sub(r"(?m)^title:.*$", f'title: "{safe}"', text, count=1)
    return text


@router.get("/sops/new", response_class=HTMLResponse)
def new_sop_page(request: Request, me: SopEditor) -> HTMLResponse:
    return _new_form(request, me, {})


def _new_form(
    request: Request, me: Principal, values: dict[str, str], error: str | None = None
) -> HTMLResponse:
    context = {
        "templates": library.templates(),
        "values": values,
        "error": error,
        "active": "library",
    }
    return ui_page(request, "ui/sop_new.html", me, context, 422 if error else 200)


@router.post("/sops/new", dependencies=CSRF)
def new_sop(
    request: Request,
    session: DbSession,
    me: SopEditor,
    template: FormText = "",
    sop_id: FormText = "",
    title: FormText = "",
) -> Response:
    values = {"template": template, "sop_id": sop_id.strip().lower(), "title": title}
    try:
        text = from_template(template, values["sop_id"], title)
        sop_actions.do_create_draft(session, text, me.email, f"new from template {template}")
    except (InvalidInput, Conflict, NotFound) as exc:
        session.rollback()
        return _new_form(request, me, values, exc.message)
    return back_to(f"/sops/{values['sop_id']}/edit?saved=created")


# --- the editor ----------------------------------------------------------------------

SAVED = {
    "created": "The new SOP is saved as a draft (version 1).",
    "saved": "The draft is saved.",
    "submitted": "The draft is submitted for review: someone who may publish can approve it.",
}


def _editor(
    request: Request,
    session: DbSession,
    me: Principal,
    sop_id: str,
    *,
    text: str | None = None,
    note: str = "",
    error: str | None = None,
    saved: str | None = None,
) -> HTMLResponse:
    sop = sop_actions.get_sop(session, sop_id)
    editing = open_version(sop)
    base = editing or sop_actions.get_version(session, sop_id)
    source = base.source if text is None else text
    context = {
        "sop": sop,
        "editing": editing,
        "base": base,
        "text": source,
        "note": note if text is not None else (editing.note if editing else ""),
        "error": error,
        "saved": SAVED.get(saved or ""),
        "active": "library",
        **check_text(sop_id, source),
    }
    return ui_page(request, "ui/sop_edit.html", me, context, 422 if error else 200)


@router.get("/sops/{sop_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, session: DbSession, me: SopEditor, sop_id: str, saved: str | None = None
) -> HTMLResponse:
    return _editor(request, session, me, sop_id, saved=saved)


@router.post("/sops/{sop_id}/edit", dependencies=CSRF)
def save(
    request: Request,
    session: DbSession,
    me: SopEditor,
    sop_id: str,
    text: FormText = "",
    note: FormText = "",
    action: FormText = "save",
) -> Response:
    """Save the draft (a new version when none is open); `action=submit` also submits it."""
    text = text.replace("\r\n", "\n")
    try:
        row = _save_draft(session, sop_id, text, note, me.email)
        if action == "submit":
            sop_actions.do_submit_for_review(session, sop_id, row.version, actor=me.email)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _editor(request, session, me, sop_id, text=text, note=note, error=exc.message)
    return back_to(f"/sops/{sop_id}/edit?saved={'submitted' if action == 'submit' else 'saved'}")


def _save_draft(session: DbSession, sop_id: str, text: str, note: str, author: str) -> SopVersion:
    editing = open_version(sop_actions.get_sop(session, sop_id))
    if editing is None:
        return sop_actions.do_create_draft(session, text, author, note, sop_id=sop_id)
    return sop_actions.do_update_draft(session, sop_id, editing.version, text, author, note)


@router.post("/sops/{sop_id}/lint", dependencies=CSRF, response_class=HTMLResponse)
def lint_fragment(
    request: Request, session: DbSession, me: SopEditor, sop_id: str, text: FormText = ""
) -> HTMLResponse:
    """The lint panel for the text as typed (htmx, debounced); without JS, the editor."""
    text = text.replace("\r\n", "\n")
    if not is_htmx(request):
        return _editor(request, session, me, sop_id, text=text)
    sop_actions.get_sop(session, sop_id)
    return fragment(request, "_lint.html", {"sop_id": sop_id, **check_text(sop_id, text)})


# --- versions, review, publish and acknowledgements ----------------------------------

DONE = {
    "published": "Published: this version is now in force.",
    "acknowledged": "Thank you: you have read the version in force.",
}


def _versions(
    request: Request,
    session: DbSession,
    me: Principal,
    sop_id: str,
    error: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    sop = sop_actions.get_sop(session, sop_id)
    read, not_read = acknowledgement_status(session, sop_id)
    context = {
        "sop": sop,
        "read": read,
        "not_read": not_read,
        "i_have_read": any(reader.user_id == me.user_id for reader in read),
        "versions": list(reversed(sop.versions)),
        "open": open_version(sop),
        "events": list(reversed(sop_actions.list_events(session, sop_id)))[:30],
        "error": error,
        "done": DONE.get(done or ""),
        "active": "library",
    }
    return ui_page(request, "ui/sop_versions.html", me, context, 409 if error else 200)


@router.get("/sops/{sop_id}/versions", response_class=HTMLResponse)
def versions_page(
    request: Request, session: DbSession, me: SopReader, sop_id: str, done: str | None = None
) -> HTMLResponse:
    return _versions(request, session, me, sop_id, done=done)


@router.post("/sops/{sop_id}/submit", dependencies=CSRF)
def submit(
    request: Request, session: DbSession, me: SopEditor, sop_id: str, note: FormText = ""
) -> Response:
    try:
        sop_actions.do_submit_for_review(session, sop_id, actor=me.email, note=note)
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _versions(request, session, me, sop_id, error=exc.message)
    return back_to(f"/sops/{sop_id}/versions")


@router.post("/sops/{sop_id}/publish", dependencies=CSRF)
def publish(
    request: Request,
    session: DbSession,
    me: SopPublisher,
    sop_id: str,
    version: Annotated[int, Form()],
    note: FormText = "",
    material: FormText = "",
) -> Response:
    """Approve and publish one version; the approver is the signed-in person."""
    try:
        sop_actions.do_publish(
            session, sop_id, version, approver=me.email, note=note, material=material != "no"
        )
    except (InvalidInput, Conflict) as exc:
        session.rollback()
        return _versions(request, session, me, sop_id, error=exc.message)
    return back_to(f"/sops/{sop_id}/versions?done=published")


@router.post("/sops/{sop_id}/acknowledge", dependencies=CSRF)
def acknowledge(
    request: Request,
    session: DbSession,
    me: SopAcknowledger,
    sop_id: str,
    version: Annotated[int, Form()],
) -> Response:
    """ "I have read this version": only the version in force can be acknowledged."""
    try:
        do_acknowledge(session, sop_id, version, me.user_id)
    except Conflict as exc:
        session.rollback()
        return _versions(request, session, me, sop_id, error=exc.message)
    return back_to(f"/sops/{sop_id}/versions?done=acknowledged")


@router.get("/sops/{sop_id}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request,
    session: DbSession,
    me: SopReader,
    sop_id: str,
    a: int | None = None,
    b: int | None = None,
) -> HTMLResponse:
    """What changed between two versions (default: the previous one and the latest)."""
    sop = sop_actions.get_sop(session, sop_id)
    new = b or sop.latest_version
    old = a or max(1, new - 1)
    old_row = sop_actions.get_version(session, sop_id, old)
    new_row = sop_actions.get_version(session, sop_id, new)
    diff = diff_texts(old_row.source, new_row.source, old_label=f"v{old}", new_label=f"v{new}")
    context = {
        "sop": sop,
        "old": old_row,
        "new": new_row,
        "diff": diff,
        "lines": diff.unified.splitlines(),
        "numbers": [v.version for v in sop.versions],
        "active": "library",
    }
    return ui_page(request, "ui/sop_diff.html", me, context)
