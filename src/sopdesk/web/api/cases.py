"""/api/v1/cases: open, list, read and work on cases.

Thin: each operation checks its action (`case.read` or `case.write`), calls one
`sopdesk.actions` function and answers with the case as the case page shows it. The
person recorded in the case log is the caller's email.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from sopdesk.actions import cases as case_actions
from sopdesk.actions.api_reads import CaseQuery, search_cases
from sopdesk.actions.base import utcnow
from sopdesk.actions.case_merge import do_merge_cases
from sopdesk.actions.case_reads import (
    MAX_LIMIT,
    Timeline,
    case_attachment,
    case_timeline,
    get_case,
    preload_attachments,
)
from sopdesk.actions.case_state import load_case
from sopdesk.auth.permissions import Principal
from sopdesk.channels.email_in import Attachment, case_reference
from sopdesk.channels.email_in.mime import safe_filename
from sopdesk.engine import clock_statuses
from sopdesk.errors import InvalidInput
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseStatusValue, MessageRow
from sopdesk.web.api import models as m
from sopdesk.web.api.deps import require
from sopdesk.web.api.idempotent import IdempotentRoute, idempotency_key
from sopdesk.web.files import attachment_response, is_media_type
from sopdesk.web.security import DbSession

router = APIRouter(
    prefix="/cases", tags=["cases"], responses=m.ERROR_RESPONSES, route_class=IdempotentRoute
)

CaseReader = Annotated[Principal, Depends(require("case.read"))]
CaseWriter = Annotated[Principal, Depends(require("case.write"))]
Reference = Annotated[
    str,
    Path(
        pattern=r"^([Ss][Dd]-)?[0-9]{1,9}$",
        description="The case reference (SD-1042) or its number",
        examples=["SD-1042"],
    ),
]
StepId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
IDEMPOTENT = [Depends(idempotency_key)]
READ = {"x-permission": "case.read"}
WRITE = {"x-permission": "case.write"}


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def case_detail(session: Session, reference: str | int, settings: Settings) -> m.CaseDetail:
    """The case with its thread, steps (titled from the SOP), clocks and events."""
    timeline = case_timeline(session, reference)
    row = timeline.case
    loaded = load_case(session, row.id, settings, lock=False)
    clocks, titles, version = [], {}, None
    if loaded.state is not None and loaded.sop is not None and loaded.calendar is not None:
        statuses = clock_statuses(loaded.state, loaded.sop, loaded.calendar, utcnow())
        clocks = [m.clock_out(clock) for clock in statuses]
        titles = {step.id: step.title for step in loaded.sop.steps}
        version = loaded.run.sop_version.version if loaded.run else None
    return m.CaseDetail(
        **m.case_fields(row),
        fields=dict(row.fields or {}),
        route=dict(row.route or {}),
        merged_into=case_reference(row.merged_into) if row.merged_into else None,
        sop_version=version,
        steps=[m.step_out(step, titles) for step in timeline.steps],
        messages=[m.message_out(message) for message in _with_attachments(session, timeline)],
        clocks=clocks,
        events=[m.event_out(event) for event in timeline.events],
    )


def _with_attachments(session: Session, timeline: Timeline) -> list[MessageRow]:
    preload_attachments(session, timeline.messages)
    return timeline.messages


@router.post(
    "",
    response_model=m.CaseDetail,
    status_code=201,
    summary="Open a case",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def open_case(
    body: m.CaseIn, who: CaseWriter, session: DbSession, request: Request, response: Response
) -> m.CaseDetail:
    """Open a case for a customer (created if new): it is routed to an SOP from the
    published library (or `sop`), whose run starts at once with its steps' due times.
    A case no SOP matches waits in the triage queue (`sop` null)."""
    row = case_actions.do_open_case(
        session,
        customer_email=body.customer.email,
        customer_name=body.customer.name,
        subject=body.subject,
        body=body.body,
        channel=body.channel,
        case_type=body.case_type,
        fields=body.fields,
        priority=body.priority.value,
        sop_id=body.sop,
        settings=_settings(request),
    )
    response.headers["Location"] = f"{request.url.path}/{row.reference}"
    return case_detail(session, row.id, _settings(request))


@router.get("", response_model=m.CaseList, summary="List cases", openapi_extra=READ)
def list_cases(
    who: CaseReader,
    session: DbSession,
    request: Request,
    response: Response,
    status: Annotated[list[CaseStatusValue] | None, Query(description="Any of these")] = None,
    assignee: Annotated[m.Text | None, Query(max_length=120)] = None,
    sop: Annotated[
        m.Text | None, Query(max_length=80, description="Cases running this SOP")
    ] = None,
    channel: Annotated[m.Text | None, Query(max_length=16)] = None,
    customer: Annotated[m.Text | None, Query(max_length=320, description="Customer email")] = None,
    due_before: Annotated[
        m.Instant | None, Query(description="Next due instant earlier than this")
    ] = None,
    breached: Annotated[
        bool | None, Query(description="true: open cases already overdue; false: none overdue")
    ] = None,
    q: Annotated[
        m.Text | None, Query(max_length=200, description="Text in the subject, email or reference")
    ] = None,
    triage: Annotated[
        bool | None, Query(description="true: cases no SOP runs on (the triage queue); false: none")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=m.LIMIT_DESCRIPTION)] = 50,
    cursor: Annotated[
        m.Text | None, Query(max_length=500, description=m.CURSOR_DESCRIPTION)
    ] = None,
) -> m.CaseList:
    """Cases most urgent first (earliest next due instant; cases with none last), a page
    at a time. The next page's URL is also in the `Link` header (`rel="next"`)."""
    query = CaseQuery(
        status=tuple(s.value for s in status or ()),
        assignee=assignee,
        sop_id=sop,
        channel=channel,
        customer_email=customer,
        due_before=due_before,
        breached=breached,
        q=q,
        triage=triage,
    )
    page = search_cases(session, query, now=utcnow(), cursor=cursor, limit=limit)
    set_next_link(request, response, page.next_cursor)
    return m.CaseList(
        items=[m.case_summary(row) for row in page.cases], next_cursor=page.next_cursor
    )


def set_next_link(request: Request, response: Response, next_cursor: str | None) -> None:
    """`Link: <...?cursor=...>; rel="next"` (RFC 8288) when there is a next page."""
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'


@router.get(
    "/{ref}/attachments/{attachment_id}",
    summary="Download an attachment",
    openapi_extra=READ,
    response_class=Response,
    responses={200: {"description": "The file's bytes", "content": {"*/*": {}}}},
)
def attachment(
    ref: Reference, attachment_id: Annotated[int, Path(ge=1)], who: CaseReader, session: DbSession
) -> Response:
    """A file that came with a message on the case, as it was received. Raster images
    are sent inline; every other type as a download (`Content-Disposition`)."""
    return attachment_response(case_attachment(session, ref, attachment_id))


@router.get("/{ref}", response_model=m.CaseDetail, summary="Get a case", openapi_extra=READ)
def read_case(
    ref: Reference, who: CaseReader, session: DbSession, request: Request
) -> m.CaseDetail:
    """One case with its messages, SOP steps with due times, clocks and event log."""
    return case_detail(session, ref, _settings(request))


@router.post(
    "/{ref}/replies",
    response_model=m.MessageOut,
    status_code=201,
    summary="Reply to the customer",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def reply(
    ref: Reference, body: m.ReplyIn, who: CaseWriter, session: DbSession, request: Request
) -> m.MessageOut:
    """Queue a public reply: typed `text`, or `template_id` (one of the SOP's templates,
    filled in for this case). It counts as the first or next response; `status` moves
    the case afterwards (e.g. `pending`)."""
    case = get_case(session, ref)
    message = case_actions.do_reply(
        session,
        case.id,
        author=who.email,
        text=body.text,
        template_id=body.template_id,
        status=body.status.value if body.status else None,
        files=[_file(item) for item in body.attachments],
        settings=_settings(request),
    )
    return m.message_out(message)


def _file(item: m.FileIn) -> Attachment:
    """An API file as an attachment; a name or type that cannot go in a mail header, or
    bytes that are not base64, are refused (422)."""
    try:
        data = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{item.filename}: content_base64 is not base64") from None
    name = item.filename.strip()
    if safe_filename(name) != name:  # as e-mail intake would name it, or refused
        raise InvalidInput(f"{item.filename!r} is not a plain file name")
    kind = item.content_type.strip().lower()
    if not is_media_type(kind):
        raise InvalidInput(f"{item.content_type!r} is not a type/subtype content type")
    return Attachment.of(name, kind, data)


@router.post(
    "/{ref}/notes",
    response_model=m.MessageOut,
    status_code=201,
    summary="Add an internal note",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def add_note(
    ref: Reference, body: m.NoteIn, who: CaseWriter, session: DbSession, request: Request
) -> m.MessageOut:
    """An internal note: never sent to the customer, never counts as a reply."""
    case = get_case(session, ref)
    note = case_actions.do_add_note(
        session, case.id, author=who.email, text=body.text, settings=_settings(request)
    )
    return m.message_out(note)


@router.post(
    "/{ref}/steps/{step_id}/complete",
    response_model=m.CaseDetail,
    summary="Complete a step",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def complete_step(
    ref: Reference, step_id: StepId, who: CaseWriter, session: DbSession, request: Request
) -> m.CaseDetail:
    """Mark a step of the case's SOP done; later steps anchored on it get their due times."""
    case = get_case(session, ref)
    case_actions.do_complete_step(
        session, case.id, step_id, by=who.email, settings=_settings(request)
    )
    return case_detail(session, case.id, _settings(request))


@router.post(
    "/{ref}/steps/{step_id}/skip",
    response_model=m.CaseDetail,
    summary="Skip a step",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def skip_step(
    ref: Reference,
    step_id: StepId,
    body: m.ReasonIn,
    who: CaseWriter,
    session: DbSession,
    request: Request,
) -> m.CaseDetail:
    """Skip a step that does not apply; the reason is required and logged."""
    case = get_case(session, ref)
    case_actions.do_skip_step(
        session, case.id, step_id, reason=body.reason, by=who.email, settings=_settings(request)
    )
    return case_detail(session, case.id, _settings(request))


@router.post(
    "/{ref}/steps/{step_id}/override",
    response_model=m.CaseDetail,
    summary="Override a step",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def override_step(
    ref: Reference,
    step_id: StepId,
    body: m.ReasonIn,
    who: CaseWriter,
    session: DbSession,
    request: Request,
) -> m.CaseDetail:
    """Let the case resolve without a non-critical step; the reason is required and logged."""
    case = get_case(session, ref)
    case_actions.do_override_step(
        session, case.id, step_id, reason=body.reason, by=who.email, settings=_settings(request)
    )
    return case_detail(session, case.id, _settings(request))


@router.post(
    "/{ref}/events/{name}",
    response_model=m.CaseDetail,
    summary="Record an SOP event",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def record_event(
    ref: Reference,
    name: StepId,
    who: CaseWriter,
    session: DbSession,
    request: Request,
    body: Annotated[m.EventIn | None, Body()] = None,
) -> m.CaseDetail:
    """Record an event the SOP declares (e.g. `item_received`); steps waiting on it start."""
    case = get_case(session, ref)
    case_actions.do_record_event(
        session,
        case.id,
        name,
        by=who.email,
        at=body.at if body else None,
        settings=_settings(request),
    )
    return case_detail(session, case.id, _settings(request))


@router.post(
    "/{ref}/status",
    response_model=m.CaseDetail,
    summary="Change the status",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def change_status(
    ref: Reference, body: m.StatusIn, who: CaseWriter, session: DbSession, request: Request
) -> m.CaseDetail:
    """Move the case to a status. Resolving goes through the SOP's completion gate:
    409 names the steps still open."""
    case = get_case(session, ref)
    case_actions.do_change_status(
        session, case.id, body.status.value, by=who.email, settings=_settings(request)
    )
    return case_detail(session, case.id, _settings(request))


@router.post(
    "/{ref}/merge",
    response_model=m.CaseDetail,
    summary="Merge another case into this one",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def merge(
    ref: Reference, body: m.MergeCaseIn, who: CaseWriter, session: DbSession, request: Request
) -> m.CaseDetail:
    """Merge the case named in the body into this one: the customer wrote twice about
    the same thing. Its messages and files move here, with an internal note saying so;
    it is closed with `merged_into` set, and its SOP run, timers and follow-ups stop.
    Mail and links naming it reach this case. This case's SOP and clocks go on as they
    were. Both must be the same customer's (409 otherwise: merge the customers first);
    a closed case, or one merged already, is refused with 409. Answers this case."""
    merged = do_merge_cases(session, ref, body.case, by=who.email, settings=_settings(request))
    return case_detail(session, merged.case.id, _settings(request))


@router.post(
    "/{ref}/sop",
    response_model=m.CaseDetail,
    summary="Take a case out of triage: run an SOP",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def start_sop(
    ref: Reference, body: m.StartSopIn, who: CaseWriter, session: DbSession, request: Request
) -> m.CaseDetail:
    """Run the published SOP named in the body on a case no SOP matched (`sop` null):
    it starts as routing would have started it (its acknowledgement goes out, its clocks
    count from now), and the case's `route` says who chose it. A case that runs an SOP
    already, or is closed, is 409; an unknown SOP is 404, one never published 409.
    Logged as `case.triaged`."""
    case = get_case(session, ref)
    case_actions.do_start_sop(session, case.id, body.sop, by=who.email, settings=_settings(request))
    return case_detail(session, case.id, _settings(request))


@router.post(
    "/{ref}/assign",
    response_model=m.CaseDetail,
    summary="Assign the case",
    dependencies=IDEMPOTENT,
    openapi_extra=WRITE,
)
def assign(
    ref: Reference, body: m.AssignIn, who: CaseWriter, session: DbSession, request: Request
) -> m.CaseDetail:
    """Assign the case to an agent (`assignee` null: unassign)."""
    case = get_case(session, ref)
    case_actions.do_assign(
        session, case.id, body.assignee, by=who.email, settings=_settings(request)
    )
    return case_detail(session, case.id, _settings(request))
