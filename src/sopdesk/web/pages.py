"""The pages: the SOP library and one SOP's rendered version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sopdesk.actions.base import utcnow
from sopdesk.actions.calendars import find_calendar
from sopdesk.actions.sops import get_sop, get_version, list_library
from sopdesk.sop.parser import parse_sop
from sopdesk.web.rendering import framed_document, page, render_bar

router = APIRouter()


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@router.get("/", response_class=HTMLResponse)
def library(request: Request, session: SessionDep) -> HTMLResponse:
    rows = list_library(session)
    today = utcnow().date()
    overdue = {row.id for row in rows if row.review_due is not None and row.review_due <= today}
    counts = {
        "total": len(rows),
        "published": sum(1 for row in rows if row.status == "published"),
        "overdue": len(overdue),
    }
    context = {"rows": rows, "overdue": overdue, "counts": counts, "today": today}
    return page(request, "library.html", context)


@router.get("/sops/{sop_id}", response_class=HTMLResponse)
def sop_page(
    request: Request,
    session: SessionDep,
    sop_id: str,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    sop = get_sop(session, sop_id)
    row = get_version(session, sop_id, version)
    context = {
        "sop": sop,
        "row": row,
        "versions": list(reversed(sop.versions)),
        "today": utcnow().date(),
    }
    document = parse_sop(row.source, f"{sop_id}.md").document
    if document is None:
        return page(request, "unparsed.html", context)
    calendar = find_calendar(session, document.meta.calendar)
    html = framed_document(document, render_bar(context), calendar=calendar)
    return HTMLResponse(html)
