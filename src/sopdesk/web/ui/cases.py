"""The case page: thread, reply (SOP templates filled in), notes, the SOP checklist with
its clocks, status and resolve, escalation history and the customer's other cases.

Customer HTML is only ever shown after `sanitise_html` (nh3); text is escaped by the
templates. A refusal from the engine (the completion gate, a finished step) comes back
as a message on the case page, not as an error page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from sopdesk.actions import cases as case_actions
from sopdesk.actions.base import utcnow
from sopdesk.actions.case_merge import do_merge_cases
from sopdesk.actions.case_reads import (
    Timeline,
    case_attachment,
    case_timeline,
    customer_case_count,
    customer_cases,
    get_case,
    preload_attachments,
)
from sopdesk.actions.case_state import LoadedCase, find_case_id, load_case
from sopdesk.actions.context import (
    Agent,
    KnownConversation,
    Thread,
    case_description,
    render_template_payload,
)
from sopdesk.actions.delivery import awaiting_delivery, unsent_messages
from sopdesk.actions.outbound import case_rendering
from sopdesk.actions.published import published_sops
from sopdesk.assist.routing import Suggestion, triage_suggestions
from sopdesk.auth.permissions import Principal
from sopdesk.channels.email_in import case_reference, sanitise_html
from sopdesk.channels.email_out import text_to_html
from sopdesk.engine import clock_statuses
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, CaseStatusValue, MessageRow
from sopdesk.web.files import attachment_response, read_uploads, upload_names
from sopdesk.web.ui import CSRF, DbSession, back_to, fragment, is_htmx, person, ui_page
from sopdesk.web.ui.delivery import deliveries

router = APIRouter()
CaseReader = person("case.read")
CaseWriter = person("case.write")
FormText = Annotated[str, Form()]

DONE_MESSAGES = {
    "opened": "The case is open and its SOP has started.",
    "replied": "Your reply is queued and will be sent by the outbox.",
    "triaged": "The SOP has started on this case: its steps and clocks are below.",
    "noted": "The internal note is added.",
    "completed": "The step is marked done.",
    "skipped": "The step is skipped; the reason is recorded.",
    "overridden": "The step is overridden; the reason is recorded.",
    "status": "The status is changed.",
    "resolved": "The case is resolved.",
    "assigned": "The assignment is changed.",
    "merged": "The other case is merged into this one: its messages are in the conversation.",
}
ESCALATION_EVENTS = frozenset({"sla.warning", "sla.breached", "escalated", "case.assigned"})
STATUSES = [status.value for status in CaseStatusValue]
OTHER_CASES_SHOWN = 10
"""The customer's other cases the case page lists, newest first; the customer's page
has them all."""


@dataclass(frozen=True)
class StepView:
    id: str
    title: str
    owner: str | None
    critical: bool
    status: str
    due_at: datetime | None
    actor: str | None
    reason: str | None
    checklist: list[str]


@dataclass(frozen=True)
class TemplateView:
    id: str
    subject: str
    text: str
    error: str | None

    @property
    def digest(self) -> str:
        return text_digest(self.text)


def text_digest(text: str) -> str:
    """What says "this reply is the template, unedited" (line endings and edges ignored)."""
    normal = text.replace("\r\n", "\n").strip()
    return hashlib.sha256(normal.encode()).hexdigest()


def message_html(message: MessageRow) -> Markup | None:
    """A message's HTML, sanitised by nh3, or None to show its text (escaped)."""
    if message.kind == "inbound" and message.html:
        return Markup(sanitise_html(message.html))  # noqa: S704 - nh3 allow-list output
    return None


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _steps(timeline: Timeline, loaded: LoadedCase) -> list[StepView]:
    defined = {step.id: step for step in loaded.sop.steps} if loaded.sop else {}
    views = []
    for row in timeline.steps:
        step = defined.get(row.step_id)
        views.append(
            StepView(
                id=row.step_id,
                title=step.title if step else row.step_id,
                owner=row.owner or (step.owner if step else None),
                critical=bool(step and step.critical),
                status=row.status,
                due_at=row.due_at,
                actor=row.actor,
                reason=row.reason,
                checklist=list(step.checklist) if step else [],
            )
        )
    return views


def _templates(
    session: Session,
    loaded: LoadedCase,
    me: Principal,
    now: datetime,
    known: KnownConversation | None = None,
) -> list[TemplateView]:
    """Every template of the case's SOP filled in for the case. `known`: the description
    and the customer's number of cases, when the page has read them already."""
    if loaded.sop is None or not loaded.sop.templates:
        return []
    version = loaded.version_number()  # known from load_case: no lazy load of the version
    rendering = case_rendering(
        session,
        loaded.case,
        loaded.settings,
        now,
        sop=loaded.sop,
        sop_version=version,
        agent=Agent(name=me.name),
        known=known,
    )
    views = []
    for template_id, template in loaded.sop.templates.items():
        try:
            subject, text, _html = render_template_payload(template, rendering, loaded.case.subject)
        except InvalidInput as exc:
            views.append(TemplateView(template_id, "", "", exc.message))
            continue
        views.append(TemplateView(template_id, subject, text, None))
    return views


def _conversation(timeline: Timeline, customer_cases: int) -> KnownConversation:
    """What `case_rendering` would otherwise read again: the description and how many
    cases the customer has (the page renders templates; it threads nothing)."""
    return KnownConversation(case_description(timeline.messages), Thread(), customer_cases)


def _clocks(loaded: LoadedCase, now: datetime) -> list[Any]:
    if loaded.state is None or loaded.sop is None or loaded.calendar is None:
        return []
    return list(clock_statuses(loaded.state, loaded.sop, loaded.calendar, now))


def case_context(
    request: Request, session: Session, me: Principal, ref: str, **extra: Any
) -> dict[str, Any]:
    """Everything the case page shows, read fresh from the database."""
    now = utcnow()
    # the case and its run once (load_case), the timeline without the queues the page
    # does not show, the customer's cases without their events
    loaded = load_case(session, find_case_id(session, ref), _settings(request), lock=False)
    case = loaded.case
    timeline = case_timeline(session, case, run=loaded.run, queues=False)
    preload_attachments(session, timeline.messages)
    theirs = customer_cases(session, case.customer_id, limit=OTHER_CASES_SHOWN + 1)
    other_cases = [c for c in theirs if c.id != case.id][:OTHER_CASES_SHOWN]
    total = customer_case_count(session, case.customer_id)
    templates = _templates(session, loaded, me, now, _conversation(timeline, total))
    chosen = next((t for t in templates if t.id == extra.get("template")), None)
    unsent = unsent_messages(session, case.id) if awaiting_delivery(timeline.messages) else {}
    delivery_map = deliveries(timeline.messages, unsent, now)
    return {
        "case": case,
        "customer": case.customer,
        "timeline": timeline,
        "messages": [(m, message_html(m)) for m in timeline.messages],
        "deliveries": delivery_map,
        "undelivered": [m for m in timeline.messages if (d := delivery_map.get(m.id)) and d.failed],
        "steps": _steps(timeline, loaded),
        "clocks": _clocks(loaded, now),
        "templates": templates,
        "chosen": chosen,
        "reply_text": extra.get("reply_text", chosen.text if chosen else ""),
        "escalations": [e for e in timeline.events if e.kind in ESCALATION_EVENTS],
        "other_cases": other_cases,
        "other_count": total - 1,
        "sop_version": loaded.version_number(),
        "statuses": STATUSES,
        "now": now,
        "active": "inbox",
        "done": DONE_MESSAGES.get(str(extra.get("done") or "")),
        "error": extra.get("error"),
        "preview": extra.get("preview"),
        # a page sent back cannot hold the files chosen before: say which to choose again
        "unsent_files": extra.get("unsent_files", ()),
        "merge_other": extra.get("merge_other", ""),
        "merged_into": case_reference(case.merged_into) if case.merged_into else None,
        "triage": _triage(session, case),
    }


def _triage(session: Session, case: CaseRow) -> list[Suggestion]:
    """The SOPs a person may start on a case in triage, suggested ones first; none for
    a case that runs an SOP, is closed or was merged."""
    if case.sop_id is not None or case.status == CaseStatusValue.CLOSED.value:
        return []
    candidates = [(str(label), float(p)) for label, p in (case.route or {}).get("candidates", [])]
    return triage_suggestions(candidates, [meta for meta, _ in published_sops(session)])


def _case_page(
    request: Request, session: Session, me: Principal, ref: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = case_context(request, session, me, ref, **extra)
    return ui_page(request, "ui/case.html", me, {**context, "shortcuts": "case"}, status)


@router.get("/cases/{ref}/attachments/{attachment_id}")
def attachment(session: DbSession, me: CaseReader, ref: str, attachment_id: int) -> Response:
    """A file a message on the case brought (see `web.files` for how it is sent)."""
    return attachment_response(case_attachment(session, ref, attachment_id))


@router.get("/cases/{ref}", response_class=HTMLResponse)
def case_page(
    request: Request,
    session: DbSession,
    me: CaseReader,
    ref: str,
    template: str | None = None,
    done: str | None = None,
) -> HTMLResponse:
    return _case_page(request, session, me, ref, template=template, done=done)


def _act(
    request: Request,
    session: Session,
    me: Principal,
    ref: str,
    done: str,
    change: Callable[[int], object],
    **on_error: Any,
) -> Response:
    """Run one case action; back to the case page with a message, or with the refusal
    and what to do about it (its hint)."""
    case_id = get_case(session, ref).id
    try:
        change(case_id)
    except (Conflict, InvalidInput) as exc:
        session.rollback()
        status = 409 if isinstance(exc, Conflict) else 422
        error = f"{exc.message}: {exc.hint}" if exc.hint else exc.message
        return _case_page(request, session, me, ref, status, error=error, **on_error)
    reference = get_case(session, case_id).reference
    return back_to(f"/cases/{reference}?done={done}")


@router.post("/cases/{ref}/reply", dependencies=CSRF)
def reply(
    request: Request,
    session: DbSession,
    me: CaseWriter,
    ref: str,
    text: FormText = "",
    template_id: FormText = "",
    template_digest: FormText = "",
    status: FormText = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Send the template itself when its text is unedited, else the agent's text; with
    the files chosen."""
    unedited = bool(template_id) and text_digest(text) == template_digest
    settings = _settings(request)
    attached = read_uploads(files)

    def change(case_id: int) -> object:
        return case_actions.do_reply(
            session,
            case_id,
            author=me.name,
            text="" if unedited else text,
            template_id=template_id if unedited else None,
            status=status or None,
            files=attached,
            settings=settings,
        )

    unsent = upload_names(files)
    return _act(request, session, me, ref, "replied", change, reply_text=text, unsent_files=unsent)


@router.post("/cases/{ref}/preview", dependencies=CSRF)
def preview(
    request: Request,
    session: DbSession,
    me: CaseWriter,
    ref: str,
    text: FormText = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """The reply as the customer's mail client shows it, rendered here and sanitised.

    Without JavaScript the whole page comes back, without the files chosen: it names
    them. With htmx only the preview is swapped and the form keeps them."""
    shown = Markup(sanitise_html(text_to_html(text))) if text.strip() else None  # noqa: S704
    if is_htmx(request):
        return fragment(request, "_preview.html", {"preview": shown})
    unsent = upload_names(files)
    return _case_page(
        request, session, me, ref, reply_text=text, preview=shown, unsent_files=unsent
    )


@router.post("/cases/{ref}/note", dependencies=CSRF)
def note(
    request: Request, session: DbSession, me: CaseWriter, ref: str, text: FormText = ""
) -> Response:
    settings = _settings(request)

    def change(case_id: int) -> object:
        return case_actions.do_add_note(
            session, case_id, author=me.name, text=text, settings=settings
        )

    return _act(request, session, me, ref, "noted", change)


@router.post("/cases/{ref}/steps/{step_id}/{verb}", dependencies=CSRF)
def step(
    request: Request,
    session: DbSession,
    me: CaseWriter,
    ref: str,
    step_id: str,
    verb: str,
    reason: FormText = "",
) -> Response:
    """complete, skip or override one step of the case's SOP run."""
    settings = _settings(request)
    if verb not in {"complete", "skip", "override"}:
        raise NotFound(f"there is no step action {verb!r}")

    def change(case_id: int) -> object:
        if verb == "complete":
            return case_actions.do_complete_step(
                session, case_id, step_id, by=me.email, settings=settings
            )
        if not reason.strip():
            raise InvalidInput(f"say why you {verb} this step")
        act = case_actions.do_skip_step if verb == "skip" else case_actions.do_override_step
        return act(session, case_id, step_id, reason=reason.strip(), by=me.email, settings=settings)

    done = {"complete": "completed", "skip": "skipped", "override": "overridden"}[verb]
    return _act(request, session, me, ref, done, change)


@router.post("/cases/{ref}/status", dependencies=CSRF)
def change_status(
    request: Request, session: DbSession, me: CaseWriter, ref: str, status: FormText = ""
) -> Response:
    settings = _settings(request)

    def change(case_id: int) -> object:
        return case_actions.do_change_status(
            session, case_id, status, by=me.email, settings=settings
        )

    return _act(request, session, me, ref, "resolved" if status == "resolved" else "status", change)


@router.post("/cases/{ref}/sop", dependencies=CSRF)
def start_sop(
    request: Request, session: DbSession, me: CaseWriter, ref: str, sop: FormText = ""
) -> Response:
    settings = _settings(request)

    def change(case_id: int) -> object:
        if not sop.strip():
            raise InvalidInput("choose the SOP to run on this case")
        try:
            return case_actions.do_start_sop(
                session, case_id, sop.strip(), by=me.email, settings=settings
            )
        except NotFound:
            raise InvalidInput(f"there is no SOP {sop.strip()!r}") from None

    return _act(request, session, me, ref, "triaged", change)


@router.post("/cases/{ref}/resolve", dependencies=CSRF)
def resolve(request: Request, session: DbSession, me: CaseWriter, ref: str) -> Response:
    settings = _settings(request)

    def change(case_id: int) -> object:
        return case_actions.do_resolve(session, case_id, by=me.email, settings=settings)

    return _act(request, session, me, ref, "resolved", change)


@router.post("/cases/{ref}/assign", dependencies=CSRF)
def assign(
    request: Request, session: DbSession, me: CaseWriter, ref: str, assignee: FormText = ""
) -> Response:
    settings = _settings(request)
    wanted = me.email if assignee == "me" else (assignee.strip() or None)

    def change(case_id: int) -> object:
        return case_actions.do_assign(session, case_id, wanted, by=me.email, settings=settings)

    return _act(request, session, me, ref, "assigned", change)


@router.post("/cases/{ref}/merge", dependencies=CSRF)
def merge(
    request: Request,
    session: DbSession,
    me: CaseWriter,
    ref: str,
    other: FormText = "",
    confirm: FormText = "",
) -> Response:
    settings = _settings(request)

    def change(case_id: int) -> object:
        if not other.strip():
            raise InvalidInput("name the case to merge into this one, e.g. SD-15")
        if confirm != "yes":
            raise InvalidInput("tick the box to confirm: a merge cannot be undone")
        try:
            return do_merge_cases(session, case_id, other.strip(), by=me.email, settings=settings)
        except NotFound as exc:
            raise InvalidInput(f"there is {exc.message}") from None

    return _act(request, session, me, ref, "merged", change, merge_other=other)
