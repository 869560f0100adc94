"""The public support form at `/support`: how customers write in without e-mail.

No sign-in. The page offers the request types of `actions.support_form.request_types`
and up to `MAX_FILES` files; sending it opens a case on the `web` channel, routed and
run like any other, and answers with its reference. The form carries a CSRF token
bound to the visitor's pre-session cookie (as the sign-in form does) and a random key,
so a second click or a reload opens no second case. A hidden field people leave empty
catches the simplest bots: when it is filled the visitor sees the usual thanks and
nothing is stored. A body over `MAX_BODY` bytes is refused before it is parsed.
Pages keep the strict CSP of the customer pages (no script), are never cached, and
`settings.support_form = false` turns the form off (404).

The same form can be shown in a frame on the business's own website: a page there
loads `/support/embed.js`, which adds a frame on `/support/embed` and fits its height
to the form's. Only the sites of `settings.support_embed_origins` may frame it (CSP
`frame-ancestors`). Inside a frame on another site the browser keeps no SameSite
cookie, so the embedded form's token is bound to its own key and the time it was shown
(`csrf.keyed_token`) instead of a pre-session; everything else is the same form.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from sopdesk.actions import support_form as form_actions
from sopdesk.actions.base import utcnow
from sopdesk.actions.customers import MAX_EMAIL
from sopdesk.auth import csrf
from sopdesk.errors import NotFound, SopdeskError
from sopdesk.settings import Settings
from sopdesk.web.customer_pages import PRIVATE_HEADERS
from sopdesk.web.files import attachment_from_upload, chosen_files
from sopdesk.web.rendering import page
from sopdesk.web.security import DbSession, client_ip, csrf_binding, form_page

router = APIRouter(include_in_schema=False)
PATH = "/support"
EMBED_PATH = "/support/embed"
LOADER_PATH = "/support/embed.js"
EMBED_TOKEN_SECONDS = 24 * 3600
"""How long an embedded form may stay open before it must be sent again."""
MAX_BODY = form_actions.MAX_TOTAL_BYTES + 1024 * 1024  # the files, and room for the fields
TRAP = "website"
"""The hidden field only bots fill in."""


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _enabled(request: Request) -> Settings:
    settings = _settings(request)
    if not settings.support_form:
        raise NotFound("there is no support form here")
    return settings


@dataclass(frozen=True)
class Face:
    """Where the form is shown: on its own page, or in a frame on another website."""

    action: str
    embedded: bool = False


PLAIN = Face(PATH)
EMBEDDED = Face(EMBED_PATH, embedded=True)


def embed_policy(settings: Settings) -> str:
    """The embedded pages' Content-Security-Policy: the site's own, plus its one script
    (the frame's height) and the websites allowed to frame it."""
    ancestors = " ".join(["'self'", *settings.support_embed_origins])
    return (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "script-src 'self'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


def _show(
    request: Request, face: Face, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    settings = _settings(request)
    full = {
        "company": settings.company_name,
        "support_address": settings.support_address,
        "embedded": face.embedded,
        "form_address": face.action,
        **context,
    }
    if name != "support.html":
        response = page(request, f"links/{name}", full, status)
    elif face.embedded:
        token = csrf.keyed_token(settings.secret_key, full["key"], _unix_now())
        response = page(request, f"links/{name}", {**full, "csrf_token": token}, status)
    else:
        response = form_page(request, f"links/{name}", full, status)
    response.headers.update(PRIVATE_HEADERS)
    if face.embedded:
        response.headers["Content-Security-Policy"] = embed_policy(settings)
    return response


def _form(
    request: Request,
    face: Face,
    types: list[tuple[str, str]],
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "action": face.action,
        "types": types,
        "values": values or {},
        "errors": errors or {},
        "message": message,
        "key": (values or {}).get("key") or secrets.token_urlsafe(24),
        "limits": {
            "name": form_actions.MAX_NAME,
            "email": MAX_EMAIL,
            "subject": form_actions.MAX_SUBJECT,
            "message": form_actions.MAX_MESSAGE,
            "files": form_actions.MAX_FILES,
            "file_mb": form_actions.MAX_FILE_BYTES // (1024 * 1024),
            "total_mb": form_actions.MAX_TOTAL_BYTES // (1024 * 1024),
        },
        "trap": TRAP,
    }
    return _show(request, face, "support.html", context, status)


@router.get(PATH, response_class=HTMLResponse)
def support_page(
    request: Request,
    session: DbSession,
    kind: Annotated[str, Query(alias="type", max_length=40)] = "",
) -> Response:
    """The form; `?type=return` (a link from a website's returns page) preselects a type."""
    return _first_form(request, session, PLAIN, kind)


@router.get(EMBED_PATH, response_class=HTMLResponse)
def support_embedded(
    request: Request,
    session: DbSession,
    kind: Annotated[str, Query(alias="type", max_length=40)] = "",
) -> Response:
    """The form as the frame `/support/embed.js` puts on a website shows it."""
    return _first_form(request, session, EMBEDDED, kind)


@router.get(LOADER_PATH)
def support_loader(request: Request) -> Response:
    """The script a website includes to show the form: it adds the frame."""
    _enabled(request)
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(_loader(), media_type="text/javascript; charset=utf-8", headers=headers)


@cache
def _loader() -> bytes:
    return files("sopdesk.web").joinpath("static", "support-embed.js").read_bytes()


def _unix_now() -> int:
    return int(utcnow().timestamp())


def _first_form(request: Request, session: Session, face: Face, kind: str) -> Response:
    settings = _enabled(request)
    types = form_actions.request_types(session, settings)
    chosen = kind if kind in {k for k, _ in types} else form_actions.OTHER
    return _form(request, face, types, {"case_type": chosen} if chosen else None)


@router.post(PATH, response_class=HTMLResponse)
async def support_send(request: Request) -> Response:
    return await _receive(request, PLAIN)


@router.post(EMBED_PATH, response_class=HTMLResponse)
async def support_send_embedded(request: Request) -> Response:
    return await _receive(request, EMBEDDED)


async def _receive(request: Request, face: Face) -> Response:
    settings = _enabled(request)
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return _problem(request, face, 411, "Your browser did not say how large the form is.")
    if int(length) > MAX_BODY:
        limit = form_actions.MAX_TOTAL_BYTES // (1024 * 1024)
        return _problem(request, face, 413, f"The files together may be up to {limit} MB.")
    form = await request.form(max_files=form_actions.MAX_FILES + 1, max_fields=20)
    try:
        return await _send(request, face, settings, form)
    finally:
        await form.close()


def _token_valid(request: Request, face: Face, settings: Settings, form: FormData) -> bool:
    submitted = form.get(csrf.FIELD)
    token = submitted if isinstance(submitted, str) else None
    if not face.embedded:
        return csrf.csrf_valid(settings.secret_key, csrf_binding(request), token)
    key = form.get("key")
    return csrf.keyed_token_valid(
        settings.secret_key,
        key if isinstance(key, str) else None,
        token,
        _unix_now(),
        EMBED_TOKEN_SECONDS,
    )


async def _send(request: Request, face: Face, settings: Settings, form: FormData) -> Response:
    values = {
        name: text
        for name in ("name", "email", "subject", "message", "case_type", "key", TRAP)
        if isinstance(text := form.get(name, ""), str)
    }
    if not _token_valid(request, face, settings, form):
        message = "This form has expired. Your text is still here: please send it again."
        return await _again(request, face, settings, values, 403, message=message)
    if values.get(TRAP):
        return _thanks(request, face, None, values.get("email", ""))
    support = form_actions.SupportRequest(
        email=values.get("email", ""),
        subject=values.get("subject", ""),
        message=values.get("message", ""),
        key=values.get("key", ""),
        ip=client_ip(request),
        name=values.get("name", ""),
        case_type=values.get("case_type", form_actions.OTHER),
        files=tuple([await attachment_from_upload(item) for item in chosen_files(form)]),
    )
    try:
        answer = await run_in_threadpool(_open, request, settings, support)
    except form_actions.FormErrors as exc:
        return await _again(request, face, settings, values, 422, errors=exc.errors)
    except form_actions.TooManyRequests as exc:
        response = await _again(request, face, settings, values, 429, message=exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except SopdeskError as exc:
        return await _again(request, face, settings, values, exc.status, message=exc.message)
    return _thanks(request, face, answer.reference, support.email)


async def _again(
    request: Request,
    face: Face,
    settings: Settings,
    values: dict[str, str],
    status: int,
    *,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> Response:
    """The form again with what was typed, and what to fix."""
    types = await run_in_threadpool(_types, request, settings)
    return _form(request, face, types, values, errors, message, status)


def _types(request: Request, settings: Settings) -> list[tuple[str, str]]:
    with request.app.state.sessions() as session:
        return form_actions.request_types(session, settings)


def _open(
    request: Request, settings: Settings, support: form_actions.SupportRequest
) -> form_actions.SupportAnswer:
    with request.app.state.sessions() as session:
        return form_actions.do_send_support_request(session, support, settings=settings)


def _thanks(request: Request, face: Face, reference: str | None, email: str) -> Response:
    lines = ["Thank you for writing to us. We have your request and will answer by e-mail."]
    if reference is not None:
        lines = [
            f"Thank you for writing to us. Your request is {reference}.",
            f"We will answer at {email.strip()}. Please quote {reference} if you write "
            "to us about it again.",
        ]
    context = {"title": "We have your request", "lines": lines, "reference": reference}
    if face.embedded:  # the frame stays on the website: offer the form again in it
        context |= {"back": EMBED_PATH, "back_label": "Send another request"}
    return _show(request, face, "thanks.html", context)


def _problem(request: Request, face: Face, status: int, message: str) -> Response:
    context = {
        "title": "Your request was not sent",
        "message": message,
        "advice": ["Go back, make it smaller and send it again."],
    }
    if face.embedded:
        context |= {"back": EMBED_PATH, "back_label": "Back to the form"}
    return _show(request, face, "error.html", context, status)
