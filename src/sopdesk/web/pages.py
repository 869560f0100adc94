"""The pages: the SOP library and one SOP's rendered version (signed-in readers)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sopdesk.actions.acknowledgements import acknowledgement_status
from sopdesk.actions.base import utcnow
from sopdesk.actions.calendars import find_calendar
from sopdesk.actions.sops import get_sop, get_version, list_library
from sopdesk.auth.permissions import Principal
from sopdesk.sop.parser import parse_sop
from sopdesk.sop.score import score
from sopdesk.web.rendering import framed_document, render_bar
from sopdesk.web.security import require_page
from sopdesk.web.ui import can, ui_page

router = APIRouter()


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Reader = Annotated[Principal, Depends(require_page("sop.read"))]


@lru_cache(maxsize=512)
def quality(source: str, sop_id: str) -> int:
    """The quality score of one version's text (remembered: texts never change)."""
    return score(parse_sop(source, f"{sop_id}.md")).score


@router.get("/", response_class=HTMLResponse)
def library(request: Request, session: SessionDep, me: Reader) -> HTMLResponse:
    rows = list_library(session)
    today = utcnow().date()
    overdue = {row.id for row in rows if row.review_due is not None and row.review_due <= today}
    scores = {row.id: quality(get_version(session, row.id).source, row.id) for row in rows}
    counts = {
        "total": len(rows),
        "published": sum(1 for row in rows if row.status == "published"),
        "overdue": len(overdue),
    }
    context = {
        "rows": rows,
        "overdue": overdue,
        "counts": counts,
        "today": today,
        "scores": scores,
        "active": "library",
    }
    return ui_page(request, "library.html", me, context)


@router.get("/sops/{sop_id}", response_class=HTMLResponse)
def sop_page(
    request: Request,
    session: SessionDep,
    me: Reader,
    sop_id: str,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    sop = get_sop(session, sop_id)
    row = get_version(session, sop_id, version)
    read, _ = acknowledgement_status(session, sop_id)
    context = {
        "sop": sop,
        "row": row,
        "versions": list(reversed(sop.versions)),
        "today": utcnow().date(),
        "can": can(me),
        "me": me,
        "acknowledged": any(reader.user_id == me.user_id for reader in read),
    }
    document = parse_sop(row.source, f"{sop_id}.md").document
    if document is None:
        return ui_page(request, "unparsed.html", me, context)
    calendar = find_calendar(session, document.meta.calendar)
    html = framed_document(document, render_bar(context), calendar=calendar)
    response = HTMLResponse(html)
    response.headers["Cache-Control"] = "no-store"
    return response
