"""Browser security: the session cookie, CSRF on every form, who is signed in, and the
sign-in, sign-out and first-run setup pages.

The session cookie (`sopdesk_session`) holds a random id, HttpOnly, SameSite=Lax,
Secure over https (or when `SOPDESK_COOKIE_SECURE=true`); the row behind it is in the
database. Visitors who are not signed in get a random pre-session cookie instead, so
the sign-in and setup forms carry a CSRF token too. Signing in rotates the session.
Every form posts `csrf_token`; htmx and fetch send the `X-CSRF-Token` header. A route
that changes anything adds `Depends(verify_csrf)`; pages that need a person add
`Depends(require_page(action))`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from sopdesk.actions import signin, users
from sopdesk.auth import csrf
from sopdesk.auth.permissions import Principal, allowed
from sopdesk.errors import InvalidInput, PermissionDenied, SopdeskError
from sopdesk.logs import bind
from sopdesk.web.rendering import page

SESSION_COOKIE = "sopdesk_session"
PRE_SESSION_COOKIE = "sopdesk_presession"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

router = APIRouter(include_in_schema=False)


class SignInRequired(SopdeskError):
    """A page needs a signed-in person; pages answer with a redirect to /signin."""

    code = "unauthenticated"
    status = 401


def db_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


# --- cookies and CSRF ----------------------------------------------------------------


def secure_cookies(request: Request) -> bool:
    configured = request.app.state.settings.cookie_secure
    return bool(configured) if configured is not None else request.url.scheme == "https"


def _set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def _clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def csrf_binding(request: Request) -> str | None:
    """What this browser's CSRF tokens are bound to: its session, else its pre-session."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def form_token(request: Request) -> tuple[str, str | None]:
    """The CSRF token for a form on this page, and a new pre-session value to set (or None)."""
    binding = csrf_binding(request)
    fresh = None
    if binding is None:
        binding = fresh = csrf.new_binding()
    return csrf.csrf_token(_secret(request), binding), fresh


def form_page(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    """A page with a form: its CSRF token in the context, never cached."""
    token, fresh = form_token(request)
    response = page(request, name, {**context, "csrf_token": token}, status)
    if fresh is not None:
        _set_cookie(response, request, PRE_SESSION_COOKIE, fresh, max_age=None)
    response.headers["Cache-Control"] = "no-store"
    return response


async def verify_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    submitted = request.headers.get(csrf.HEADER)
    if submitted is None and _is_form(request):
        value = (await request.form()).get(csrf.FIELD)
        submitted = value if isinstance(value, str) else None
    if not csrf.csrf_valid(_secret(request), csrf_binding(request), submitted):
        raise PermissionDenied(
            "this form has expired or did not come from this site",
            code="csrf_failed",
            hint="go back, reload the page and try again",
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in {"application/x-www-form-urlencoded", "multipart/form-data"}


CsrfChecked = Depends(verify_csrf)


# --- who is signed in ----------------------------------------------------------------


def page_principal(request: Request, session: DbSession) -> Principal | None:
    """The signed-in person, or None (their user id goes on the request's log lines)."""
    principal = signin.session_principal(session, request.cookies.get(SESSION_COOKIE))
    if principal is not None:
        bind(user_id=principal.user_id)
    return principal


def require_page(action: str) -> Callable[..., Principal]:
    """A dependency for pages: the signed-in person allowed `action`, else redirect or 403."""

    def dependency(
        request: Request, principal: Annotated[Principal | None, Depends(page_principal)]
    ) -> Principal:
        if principal is None:
            raise SignInRequired("sign in to see this page", next=_here(request))
        if not allowed(principal, action):
            raise PermissionDenied("your role does not allow this page", action=action)
        return principal

    return dependency


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def sign_in_redirect(_request: Request, exc: SignInRequired) -> RedirectResponse:
    target = safe_next(str(exc.data.get("next", "/")))
    return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another site) becomes /."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 32 for char in value):
        return "/"
    return value


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- the pages -----------------------------------------------------------------------

FormText = Annotated[str, Form()]


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, session: DbSession, next: str = "/") -> Response:
    if users.needs_setup(session):
        return RedirectResponse("/setup", status_code=303)
    if page_principal(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _signin_form(request, next=safe_next(next))


def _signin_form(
    request: Request, *, next: str, email: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    context = {"next": next, "email": email, "error": error, "title": "Sign in"}
    return form_page(request, "auth_signin.html", context, status)


@router.post("/signin", dependencies=[CsrfChecked])
def signin_submit(
    request: Request,
    session: DbSession,
    email: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    target = safe_next(next)
    try:
        user = signin.authenticate(session, email, password, client_ip(request))
    except signin.TooManyAttempts as exc:
        response = _signin_form(request, next=target, email=email, error=exc.message, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except signin.SignInFailed as exc:
        return _signin_form(request, next=target, email=email, error=exc.message, status=401)
    return _signed_in(request, session, user, target)


def _signed_in(request: Request, session: Session, user: Any, target: str) -> Response:
    started = signin.do_start_session(
        session,
        user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        previous=request.cookies.get(SESSION_COOKIE),
    )
    response = RedirectResponse(target, status_code=303)
    max_age = int(signin.SESSION_MAX.total_seconds())
    _set_cookie(response, request, SESSION_COOKIE, started.session_id, max_age=max_age)
    _clear_cookie(response, request, PRE_SESSION_COOKIE)
    return response


@router.post("/signout", dependencies=[CsrfChecked])
def signout(request: Request, session: DbSession) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        signin.do_end_session(session, session_id)
    response = RedirectResponse("/signin", status_code=303)
    _clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, session: DbSession) -> Response:
    if not users.needs_setup(session):
        return RedirectResponse("/signin", status_code=303)
    return _setup_form(request)


def _setup_form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {"values": values or {}, "error": error, "title": "Set up sopdesk"}
    return form_page(request, "auth_setup.html", context, status)


@router.post("/setup", dependencies=[CsrfChecked])
def setup_submit(
    request: Request,
    session: DbSession,
    name: FormText = "",
    email: FormText = "",
    password: FormText = "",
    password_again: FormText = "",
) -> Response:
    values = {"name": name, "email": email}
    try:
        if password != password_again:
            raise InvalidInput("the two passwords are not the same")
        user = users.do_first_run_setup(session, email, password, name=name)
    except InvalidInput as exc:
        return _setup_form(request, values=values, error=str(exc), status=422)
    return _signed_in(request, session, user, "/")
