"""The public pages behind the signed links e-mailed to customers: `/l/{purpose}/{token}`.

No sign-in: the signed, expiring token in the address is the authority, and it opens
only the page it was made for (`sopdesk.links`). A tampered token or one made for
another page answers 404, an expired one 410, each with a page saying what to do —
never a 500 and never the app's sign-in chrome. Forms carry a CSRF token bound to the
visitor's pre-session cookie (as the sign-in form does); the RFC 8058 one-click
unsubscribe POST from a mail client is the one exception, since it has no cookie and
the token alone decides. Pages keep the app's strict CSP (no script at all), are
never cached and ask search engines not to index them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions import surveys
from sopdesk.actions.base import utcnow
from sopdesk.actions.case_reads import case_attachment, preload_attachments, surviving_case
from sopdesk.actions.customer_replies import MAX_REPLY, do_customer_reply
from sopdesk.actions.unsubscribe import do_unsubscribe
from sopdesk.errors import InvalidInput, NotFound, PermissionDenied
from sopdesk.links import LinkError, LinkExpired, verify_link
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseRow, CustomerRow, MessageKindValue, MessageRow
from sopdesk.web.files import attachment_response, read_uploads
from sopdesk.web.rendering import page
from sopdesk.web.security import DbSession, form_page, verify_csrf
from sopdesk.web.ui.cases import message_html

router = APIRouter(prefix="/l", include_in_schema=False)
FormText = Annotated[str, Form()]
ONE_CLICK = "One-Click"
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
CUSTOMER_STATUS = {
    "new": "Open: we have your request",
    "open": "Open: we are working on it",
    "pending": "Waiting for your answer",
    "on_hold": "On hold",
    "resolved": "Resolved",
    "closed": "Closed",
}
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the address holds the token
    "X-Robots-Tag": "noindex, nofollow",
}


class LinkPageError(Exception):
    """A link page that cannot be shown: its status and the page's words."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


async def csrf_ok(request: Request) -> bool:
    """Whether the form's CSRF token is right (the page answers 403 itself if not)."""
    try:
        await verify_csrf(request)
    except PermissionDenied:
        return False
    return True


CsrfOk = Annotated[bool, Depends(csrf_ok)]


# --- shared ---------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _base(request: Request) -> dict[str, Any]:
    settings = _settings(request)
    return {"company": settings.company_name, "support_address": settings.support_address}


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE_HEADERS)
    return response


def _show(
    request: Request, name: str, context: dict[str, Any], status: int = 200, *, form: bool = False
) -> Response:
    full = {**_base(request), **context}
    render = form_page if form else page
    return _private(render(request, f"links/{name}", full, status))


def _payload(request: Request, purposes: tuple[str, ...], token: str) -> dict[str, Any]:
    """The token's payload for the first of `purposes` it was signed for.

    Raises `LinkPageError`: 410 when expired, 404 when tampered or for another page.
    """
    secret, now = _settings(request).secret_key, utcnow()
    failure: LinkError | None = None
    for purpose in purposes:
        try:
            return verify_link(secret, purpose, token, now)
        except LinkExpired:
            raise LinkPageError(410, "This link has expired", "expired") from None
        except LinkError as exc:
            failure = exc
    raise LinkPageError(404, "This link does not work", "invalid") from failure


def _error(request: Request, exc: LinkPageError) -> Response:
    settings = _settings(request)
    write = f"write to {settings.support_address}" if settings.support_address else "contact us"
    if exc.status == 410:
        message = "Links in our e-mails work for a limited time, and this one has run out."
        advice = [
            f"Reply to the e-mail the link came in, or {write}, and we will send you a new one.",
            "Nothing on your case is lost.",
        ]
    elif exc.message == "invalid":
        message = "This link is not complete, or it was changed on the way."
        advice = [
            "Open it again from our e-mail, or copy the whole link into your browser.",
            f"If it still does not work, {write}.",
        ]
    else:
        message = exc.message
        advice = [f"If you think this is a mistake, {write}."]
    context = {"title": exc.title, "message": message, "advice": advice}
    return _show(request, "error.html", context, exc.status)


def _guarded(request: Request, render: Callable[[], Response]) -> Response:
    """Run a page; a bad link or a case that is gone becomes the customer's error page."""
    try:
        return render()
    except LinkPageError as exc:
        return _error(request, exc)
    except NotFound as exc:
        return _error(request, LinkPageError(404, "This link does not work", exc.message))


def _forbidden(request: Request) -> Response:
    message = (
        "This form has expired or did not come from our page. Go back, reload it and try again."
    )
    return _error(request, LinkPageError(403, "Please try again", message))


def _reference(payload: dict[str, Any], what: str) -> str:
    reference = payload.get("case")
    if not isinstance(reference, str) or not reference:
        raise LinkPageError(404, "This link does not work", f"This {what} is not about a case.")
    return reference


# --- survey ---------------------------------------------------------------------------

SURVEY = ("survey",)


def _survey_form(
    request: Request,
    session: Session,
    subject: surveys.SurveySubject,
    *,
    rating: int | None = None,
    resolved: str = "",
    comment: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    earlier = surveys.survey_for(session, subject)
    if earlier is not None and error is None:  # re-answering starts from the last answer
        rating = rating or earlier.rating
        said = "" if earlier.resolved is None else ("yes" if earlier.resolved else "no")
        resolved = resolved or said
        comment = comment or earlier.comment
    context = {
        "action": request.url.path,
        "reference": subject.reference,
        "subject": subject.title,
        "ratings": list(surveys.RATING_LABELS.items()),
        "rating": rating,
        "resolved": resolved,
        "comment": comment,
        "max_comment": surveys.MAX_COMMENT,
        "answered": earlier is not None,
        "error": error,
    }
    return _show(request, "survey.html", context, status, form=True)


@router.get("/survey/{token}", response_class=HTMLResponse)
def survey_page(
    request: Request,
    session: DbSession,
    token: str,
    rating: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """The survey; `?rating=N` (a one-click link in the e-mail) preselects an answer."""

    def render() -> Response:
        subject = surveys.subject_for_link(session, _payload(request, SURVEY, token))
        return _survey_form(request, session, subject, rating=surveys.parse_rating(rating))

    return _guarded(request, render)


@router.post("/survey/{token}", response_class=HTMLResponse)
def survey_answer(
    request: Request,
    session: DbSession,
    token: str,
    checked: CsrfOk,
    rating: FormText = "",
    resolved: FormText = "",
    comment: FormText = "",
) -> Response:
    def render() -> Response:
        link = _payload(request, SURVEY, token)
        subject = surveys.subject_for_link(session, link)
        if not checked:
            return _forbidden(request)
        try:
            answer = surveys.read_answer(rating, resolved, comment)
        except InvalidInput as exc:
            return _survey_form(
                request,
                session,
                subject,
                rating=surveys.parse_rating(rating),
                resolved=resolved if resolved in ("yes", "no") else "",
                comment=comment[: surveys.MAX_COMMENT * 2],
                error=exc.message,
                status=422,
            )
        surveys.do_answer_survey(session, link, answer)
        lines = [
            "Your answer is saved. It helps us see what works and what we should change.",
            "You can open the link again to change your answer.",
        ]
        return _show(request, "thanks.html", {"title": "Thank you!", "lines": lines})

    return _guarded(request, render)


# --- review ---------------------------------------------------------------------------


@router.get("/review/{token}", response_class=HTMLResponse)
def review(request: Request, session: DbSession, token: str) -> Response:
    """Off to the public review page when one is set; else our own thanks."""

    def render() -> Response:
        payload = _payload(request, ("review",), token)
        reference = payload.get("case") if isinstance(payload.get("case"), str) else None
        customer = payload.get("customer") if type(payload.get("customer")) is int else None
        surveys.do_review_clicked(session, reference=reference, customer_id=customer)
        target = _settings(request).review_url
        if target:
            return _private(RedirectResponse(target, status_code=303))
        company = _settings(request).company_name
        lines = [
            f"Thank you for taking the time to review {company}.",
            "Your words help other customers and help us get better.",
        ]
        return _show(request, "thanks.html", {"title": f"Thank you from {company}", "lines": lines})

    return _guarded(request, render)


# --- the customer's case page ---------------------------------------------------------

CASE = ("case", "reply")


def public_thread(session: Session, case_id: int) -> list[MessageRow]:
    """What the customer may see: their messages and our replies; never internal notes
    and never machine mail (bounces, auto-replies) that threaded onto the case."""
    query = (
        select(MessageRow)
        .where(
            MessageRow.case_id == case_id,
            MessageRow.kind.in_((MessageKindValue.INBOUND.value, MessageKindValue.OUTBOUND.value)),
            MessageRow.auto_reply.is_(False),
        )
        .order_by(MessageRow.created_at, MessageRow.id)
    )
    return list(session.scalars(query))


def _case_page(
    request: Request,
    session: Session,
    case: CaseRow,
    *,
    text: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    thread = public_thread(session, case.id)
    preload_attachments(session, thread)
    messages = [(m, message_html(m)) for m in thread]
    context = {
        "action": request.url.path,
        "files_at": request.url.path.rstrip("/") + "/files",
        "case": case,
        "status": CUSTOMER_STATUS.get(case.status, case.status),
        "closed": case.status == "closed",
        "messages": messages,
        "sent": request.query_params.get("sent") == "1" and error is None,
        "key": secrets.token_urlsafe(24),
        "text": text,
        "max_reply": MAX_REPLY,
        "error": error,
    }
    return _show(request, "case.html", context, status, form=True)


def _case_get(request: Request, session: Session, token: str) -> Response:
    def render() -> Response:
        reference = _reference(_payload(request, CASE, token), "link")
        return _case_page(
            request,
            session,
            surviving_case(session, surveys.case_for_reference(session, reference)),
        )

    return _guarded(request, render)


def _case_post(
    request: Request,
    session: Session,
    token: str,
    checked: bool,
    text: str,
    key: str,
    files: list[UploadFile] | None = None,
) -> Response:
    def render() -> Response:
        reference = _reference(_payload(request, CASE, token), "link")
        if not checked:
            return _forbidden(request)
        nonce = key if _KEY.fullmatch(key) else secrets.token_urlsafe(24)
        try:
            do_customer_reply(
                session,
                reference,
                text,
                key=nonce,
                settings=_settings(request),
                files=read_uploads(files),
            )
        except InvalidInput as exc:
            case = surviving_case(session, surveys.case_for_reference(session, reference))
            return _case_page(
                request, session, case, text=text[: MAX_REPLY * 2], error=exc.message, status=422
            )
        return _private(RedirectResponse(f"{request.url.path}?sent=1", status_code=303))

    return _guarded(request, render)


@router.get("/case/{token}", response_class=HTMLResponse)
def case_page(request: Request, session: DbSession, token: str) -> Response:
    return _case_get(request, session, token)


def _public_file(request: Request, session: Session, token: str, file_id: int) -> Response:
    """A file of a message the customer sees on their case (theirs, or one we sent):
    never one on an internal note or on machine mail, served as the agents' are."""

    def render() -> Response:
        reference = _reference(_payload(request, CASE, token), "link")
        case = surviving_case(session, surveys.case_for_reference(session, reference))
        row = case_attachment(session, case.id, file_id)
        if row.message_id not in {m.id for m in public_thread(session, case.id)}:
            raise NotFound("this file is not part of the conversation")
        return _private(attachment_response(row))

    return _guarded(request, render)


@router.get("/case/{token}/files/{file_id}")
def case_file(request: Request, session: DbSession, token: str, file_id: int) -> Response:
    return _public_file(request, session, token, file_id)


@router.get("/reply/{token}/files/{file_id}")
def reply_file(request: Request, session: DbSession, token: str, file_id: int) -> Response:
    return _public_file(request, session, token, file_id)


@router.get("/reply/{token}", response_class=HTMLResponse)
def reply_page(request: Request, session: DbSession, token: str) -> Response:
    return _case_get(request, session, token)


@router.post("/case/{token}", response_class=HTMLResponse)
def case_reply(
    request: Request,
    session: DbSession,
    token: str,
    checked: CsrfOk,
    text: FormText = "",
    key: FormText = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    return _case_post(request, session, token, checked, text, key, files)


@router.post("/reply/{token}", response_class=HTMLResponse)
def reply_reply(
    request: Request,
    session: DbSession,
    token: str,
    checked: CsrfOk,
    text: FormText = "",
    key: FormText = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    return _case_post(request, session, token, checked, text, key, files)


# --- unsubscribe ----------------------------------------------------------------------

UNSUBSCRIBE = ("unsubscribe",)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, session: DbSession, token: str) -> Response:
    """A confirm button: a GET changes nothing (mail scanners open links)."""

    def render() -> Response:
        payload = _payload(request, UNSUBSCRIBE, token)
        customer = session.get(CustomerRow, surveys.customer_for_link(session, payload))
        if customer is None:
            raise NotFound("there is no customer for this link")
        context = {
            "action": request.url.path,
            "email": customer.email,
            "already": customer.unsubscribed_at is not None,
        }
        return _show(request, "unsubscribe.html", context, form=True)

    return _guarded(request, render)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(
    request: Request,
    session: DbSession,
    token: str,
    checked: CsrfOk,
    one_click: Annotated[str, Form(alias="List-Unsubscribe")] = "",
) -> Response:
    """The confirm button (CSRF-checked), or a mail client's RFC 8058 one-click POST
    (`List-Unsubscribe=One-Click`, no cookie, no CSRF token: the signed token decides)."""

    def render() -> Response:
        payload = _payload(request, UNSUBSCRIBE, token)
        clicked = one_click == ONE_CLICK
        if not (checked or clicked):
            return _forbidden(request)
        customer_id = surveys.customer_for_link(session, payload)
        do_unsubscribe(session, customer_id, via="one-click" if clicked else "link")
        company = _settings(request).company_name
        lines = [
            f"{company} will not send you follow-up messages any more.",
            "You will still get our replies about any request you make.",
        ]
        return _show(request, "thanks.html", {"title": "You are unsubscribed", "lines": lines})

    return _guarded(request, render)
