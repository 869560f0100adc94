"""The signed-in web UI: inbox, case page, SOP editor and settings (Jinja2 + htmx).

Every route is thin: parse the request, check the permission (`guard(action)`), call
an action, render a template. Every form carries the CSRF token (`ui_page` puts it in
the context) and every POST checks it (`CSRF`). htmx only enhances: each page works
as plain forms and links. `build_router()` collects the sub-routers for `web.app`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from sopdesk.auth.permissions import Principal, allowed
from sopdesk.web.rendering import TEMPLATES
from sopdesk.web.security import CsrfChecked, DbSession, form_page, require_page

CSRF = [CsrfChecked]
"""`dependencies=CSRF` on every route that changes anything."""

UI_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The signed-in pages' policy: the site-wide one plus our own scripts (htmx, shortcuts).
Pages without scripts (sign-in, setup, errors, the rendered SOP) keep the stricter one."""

NAV_ACTIONS = (
    "case.read",
    "case.write",
    "customer.read",
    "customer.write",
    "sop.read",
    "sop.edit",
    "sop.publish",
    "sop.acknowledge",
    "settings.read",
    "settings.write",
    "users.read",
    "users.manage",
    "tokens.manage",
    "report.read",
)


def guard(action: str) -> Any:
    """`Annotated[Principal, guard("case.read")]`: the signed-in person allowed `action`."""
    return Depends(require_page(action))


def person(action: str) -> Any:
    """The type of a route parameter holding the signed-in person allowed `action`."""
    return Annotated[Principal, guard(action)]


def can(principal: Principal) -> dict[str, bool]:
    """What the navigation and the buttons may offer this person."""
    return {action: allowed(principal, action) for action in NAV_ACTIONS}


def ui_page(
    request: Request,
    name: str,
    principal: Principal,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """A UI page: the CSRF token, who is signed in and what they may do, never cached."""
    full = {**context, "me": principal, "can": can(principal)}
    response = form_page(request, name, full, status)
    response.headers["Content-Security-Policy"] = UI_CSP
    return response


def fragment(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """A partial for htmx (no layout)."""
    response = TEMPLATES.TemplateResponse(request, f"ui/{name}", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def back_to(url: str) -> RedirectResponse:
    """Post/redirect/get: after a change, show the page again (303)."""
    return RedirectResponse(url, status_code=303)


def countdown(due: datetime | None, now: datetime) -> str:
    """`in 3 h 20 min`, `overdue by 2 d 4 h`, or an em dash without a due time."""
    if due is None:
        return "—"
    seconds = int((due - now).total_seconds())
    words = _span(abs(seconds))
    return f"in {words}" if seconds >= 0 else f"overdue by {words}"


def _span(seconds: int) -> str:
    minutes = seconds // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


TEMPLATES.env.filters["countdown_from"] = countdown
TEMPLATES.env.filters["short_time"] = lambda moment: (
    f"{moment:%a %d %b %H:%M} UTC" if isinstance(moment, datetime) else "—"
)


def _routers() -> list[APIRouter]:
    from sopdesk.web.ui import cases, customers, inbox, new_case, reports, settings, sops

    # new_case before cases: /cases/new is not a case reference
    routers = [inbox.router, new_case.router, cases.router, customers.router, sops.router]
    return [*routers, settings.router, reports.router]


def favicon() -> RedirectResponse:
    """Browsers ask for /favicon.ico on every page, the SOP renderer's included."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


def build_router() -> APIRouter:
    """Every UI route (mounted before the read-only SOP pages, so /sops/new wins)."""
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/favicon.ico", favicon, methods=["GET"])
    for sub in _routers():
        router.include_router(sub)
    return router


__all__ = ["CSRF", "DbSession", "build_router", "countdown", "guard", "person", "ui_page"]


STATIC_DIR = Path(__file__).parent.parent / "static"


def static_files() -> StaticFiles:
    """/static: the stylesheet, the shortcuts script and the vendored htmx."""
    return StaticFiles(directory=STATIC_DIR)
