"""/api/v1/surveys and /api/v1/cases/{ref}/survey: what customers answered.

Reading answers is reporting (`report.read`) across cases, and part of reading the
case (`case.read`) for one case. The customer's comment is returned as they wrote it
(plain text): a client that shows it must escape it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from sopdesk.actions.case_reads import get_case
from sopdesk.actions.surveys import (
    MAX_LIMIT,
    SurveyFilters,
    SurveyItem,
    list_surveys,
    survey_for_case,
)
from sopdesk.auth.permissions import Principal
from sopdesk.errors import NotFound
from sopdesk.web.api import models as m
from sopdesk.web.api.cases import Reference, set_next_link
from sopdesk.web.api.deps import require
from sopdesk.web.security import DbSession

router = APIRouter(tags=["surveys"], responses=m.ERROR_RESPONSES)

ReportReader = Annotated[Principal, Depends(require("report.read"))]
CaseReader = Annotated[Principal, Depends(require("case.read"))]


class SurveyOut(BaseModel):
    """A customer's answer to a survey (the latest): about one case, or, from a customer
    sequence's e-mail (onboarding, loyalty), about that SOP, with `case` null."""

    id: int
    case: str | None = Field(
        description="The case reference; null for a sequence's survey", examples=["SD-1042"]
    )
    sop: str | None = Field(description="The SOP the case ran or the sequence belongs to")
    customer_id: int | None
    rating: int = Field(ge=1, le=5, description="CSAT: 1 (very dissatisfied) to 5 (very satisfied)")
    resolved: bool | None = Field(description="Did we solve the problem; null: not answered")
    comment: str = Field(description="The customer's comment, plain text (escape it to show it)")
    answered_at: datetime = Field(description="When the customer first answered")
    updated_at: datetime = Field(description="When the answer last changed")


class SurveyList(BaseModel):
    """One page of answers, newest first; `next_cursor` null on the last page."""

    items: list[SurveyOut]
    next_cursor: str | None


def survey_out(item: SurveyItem) -> SurveyOut:
    row = item.response
    return SurveyOut(
        id=row.id,
        case=item.reference or None,
        sop=item.sop_id,
        customer_id=row.customer_id,
        rating=row.rating,
        resolved=row.resolved,
        comment=row.comment,
        answered_at=row.answered_at,
        updated_at=row.updated_at,
    )


@router.get(
    "/surveys",
    response_model=SurveyList,
    summary="List survey answers",
    openapi_extra={"x-permission": "report.read"},
)
def surveys(
    who: ReportReader,
    session: DbSession,
    request: Request,
    response: Response,
    sop: Annotated[
        m.Text | None, Query(max_length=80, description="Answers about cases of this SOP")
    ] = None,
    rating_max: Annotated[
        int | None, Query(ge=1, le=5, description="Only ratings up to this (e.g. 2: the unhappy)")
    ] = None,
    since: Annotated[
        m.Instant | None, Query(description="Answered at or after this instant")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=m.LIMIT_DESCRIPTION)] = 50,
    cursor: Annotated[
        m.Text | None, Query(max_length=500, description=m.CURSOR_DESCRIPTION)
    ] = None,
) -> SurveyList:
    """Survey answers newest first (by first answer), a page at a time; the next page's
    URL is also in the `Link` header (`rel="next"`), as for cases."""
    filters = SurveyFilters(sop_id=sop, rating_max=rating_max, since=since)
    page = list_surveys(session, filters, cursor=cursor, limit=limit)
    set_next_link(request, response, page.next_cursor)
    return SurveyList(items=[survey_out(item) for item in page.items], next_cursor=page.next_cursor)


@router.get(
    "/cases/{ref}/survey",
    response_model=SurveyOut,
    summary="Get a case's survey answer",
    openapi_extra={"x-permission": "case.read"},
)
def case_survey(ref: Reference, who: CaseReader, session: DbSession) -> SurveyOut:
    """The customer's answer about this case; 404 when they have not answered."""
    case = get_case(session, ref)
    row = survey_for_case(session, case.id)
    if row is None:
        raise NotFound(f"the customer has not answered the survey about {case.reference}")
    return survey_out(SurveyItem(row, case.reference or "", case.sop_id))
