"""Who is calling the API, and may they: `current_principal` and `require(action)`.

A request authenticates with `Authorization: Bearer sd_...` (an API token) or with the
browser's session cookie. A bearer header that does not hold a usable token is refused
(401); it never falls back to the cookie. Cookie-authenticated calls that change
anything must also send the page's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from sopdesk.actions import signin
from sopdesk.auth import csrf
from sopdesk.auth.permissions import ACTIONS, Principal
from sopdesk.auth.permissions import require as require_permission
from sopdesk.errors import PermissionDenied, SopdeskError
from sopdesk.logs import bind
from sopdesk.web.security import SAFE_METHODS, SESSION_COOKIE, DbSession, csrf_binding

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    bearerFormat="sd_<prefix>_<secret>",
    description="An API token from `sopdesk tokens create EMAIL --scope ...`.",
)


class Unauthenticated(SopdeskError):
    code = "unauthenticated"
    status = 401


def current_principal(request: Request, session: DbSession) -> Principal:
    """The caller, from a bearer token or the session cookie; 401 when neither works."""
    header = request.headers.get("authorization")
    if header is not None:
        return _token_principal(session, header)
    principal = signin.session_principal(session, request.cookies.get(SESSION_COOKIE))
    if principal is None:
        raise Unauthenticated(
            "this call needs authentication",
            hint="send 'Authorization: Bearer <token>'; create one with 'sopdesk tokens create'",
        )
    if request.method not in SAFE_METHODS:
        secret = str(request.app.state.settings.secret_key)
        if not csrf.csrf_valid(secret, csrf_binding(request), request.headers.get(csrf.HEADER)):
            raise PermissionDenied(
                "a call made with the session cookie needs the X-CSRF-Token header",
                code="csrf_failed",
            )
    return principal


def _token_principal(session: DbSession, header: str) -> Principal:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    principal = signin.token_principal(session, token.strip())
    if principal is None:
        raise Unauthenticated(
            "this API token is not valid (unknown, revoked or expired)",
            code="invalid_token",
            hint="create a new one with 'sopdesk tokens create'",
        )
    return principal


def _documented_principal(
    principal: Annotated[Principal, Depends(current_principal)],
    _scheme: Annotated[object, Depends(bearer_scheme)] = None,
) -> Principal:
    bind(user_id=principal.user_id)  # on the request's log lines from here on
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_documented_principal)]


def require(action: str) -> Callable[[Principal], Principal]:
    """A dependency: the caller, if allowed to take `action`; else 403 problem+json."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")

    def dependency(principal: CurrentPrincipal) -> Principal:
        require_permission(principal, action)
        return principal

    dependency.__name__ = f"require_{action.replace('.', '_')}"
    return dependency
