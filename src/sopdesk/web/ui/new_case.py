"""The agent's "New case" page: a case for a phone call, a chat or a letter.

What the customer said goes in as the case's first message, on the channel it came by;
the case is then routed by the SOPs' rules — or by the case type or SOP the agent
chose — and its SOP starts as for an e-mail (an acknowledgement step e-mails the
customer). A refusal (no subject or message, an SOP without a published version) comes
back on the form with everything typed kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from sopdesk.actions import cases as case_actions
from sopdesk.actions.customer_replies import PAGE_FILES
from sopdesk.actions.customers import valid_email
from sopdesk.actions.messages import NewMessage
from sopdesk.actions.published import published_case_sops
from sopdesk.auth.permissions import Principal
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.store.tables import Priority
from sopdesk.web.files import read_uploads, upload_names
from sopdesk.web.ui import CSRF, DbSession, back_to, person, ui_page

router = APIRouter()
CaseWriter = person("case.write")
FormText = Annotated[str, Form()]
CHANNELS = {
    "phone": "Phone call",
    "email": "E-mail",
    "chat": "Chat",
    "sms": "Text message",
    "web": "Web or social media",
    "internal": "Our own follow-up",
}
"""What an agent may log a case as having come by (the others are machine channels)."""


def _form(
    request: Request,
    session: DbSession,
    me: Principal,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
    unsent_files: Sequence[str] = (),
) -> HTMLResponse:
    sops = published_case_sops(session)
    types = sorted({meta.applies_to.case_type for meta, _ in sops if meta.applies_to.case_type})
    context = {
        "values": values or {"channel": "phone", "priority": Priority.NORMAL.value},
        "channels": CHANNELS,
        "types": types,
        "sops": sorted((meta.title, meta.id) for meta, _ in sops),
        "priorities": [p.value for p in Priority],
        "error": error,
        "unsent_files": unsent_files,
        "active": "inbox",
    }
    return ui_page(request, "ui/new_case.html", me, context, status)


@router.get("/cases/new", response_class=HTMLResponse)
def new_case_page(
    request: Request,
    session: DbSession,
    me: CaseWriter,
    email: Annotated[str, Query(max_length=320)] = "",
    name: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The form, for the customer `email` and `name` when given (from their page)."""
    values = {"email": email, "name": name, "channel": "phone", "priority": Priority.NORMAL.value}
    return _form(request, session, me, values)


@router.post("/cases/new", dependencies=CSRF)
def new_case(
    request: Request,
    session: DbSession,
    me: CaseWriter,
    email: FormText = "",
    name: FormText = "",
    channel: FormText = "phone",
    case_type: FormText = "",
    sop: FormText = "",
    priority: FormText = Priority.NORMAL.value,
    subject: FormText = "",
    body: FormText = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    values = {
        "email": email, "name": name, "channel": channel, "case_type": case_type, "sop": sop,
        "priority": priority, "subject": subject, "body": body,
    }  # fmt: skip
    unsent = upload_names(files)
    if not valid_email(email):
        message = "Enter the customer's e-mail address, like name@example.com."
        return _form(request, session, me, values, message, 422, unsent)
    if channel not in CHANNELS:
        refused = "Choose how the customer reached you."
        return _form(request, session, me, values, refused, 422, unsent)
    attached = read_uploads(files)
    request_ = case_actions.CaseRequest(
        customer_email=email,
        customer_name=name,
        subject=subject,
        body=body,
        channel=channel,
        case_type=case_type or None,
        sop_id=sop or None,
        priority=priority,
        message=NewMessage(text=body, attachments=attached) if body or attached else None,
    )
    try:
        PAGE_FILES.check(attached)
        case = case_actions.do_open_request(session, request_, settings=request.app.state.settings)
    except (InvalidInput, Conflict, NotFound) as exc:
        session.rollback()
        return _form(request, session, me, values, exc.message, 422, unsent)
    return back_to(f"/cases/{case.reference}?done=opened")
