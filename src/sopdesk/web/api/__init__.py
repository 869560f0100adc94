"""The JSON API under /api/v1: its router, its OpenAPI schema and its reference page.

Every operation declares the action it needs with `Depends(require("case.read"))` (see
`sopdesk.auth.permissions`) and answers errors as RFC 9457 problem+json
(`web.api.errors`). Routers for cases, SOPs and the rest are included into `router`.
The schema is built from the routes under /api/v1 only (the HTML pages are not API).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import sopdesk
from sopdesk.actions.users import user_groups
from sopdesk.auth.permissions import Principal, allowed_actions
from sopdesk.errors import SopdeskError
from sopdesk.web.api import calendars, cases, customers, errors, identity, sops, webhooks
from sopdesk.web.api import reports as report_api
from sopdesk.web.api import surveys as survey_api
from sopdesk.web.api.deps import require
from sopdesk.web.rendering import page
from sopdesk.web.security import DbSession, SignInRequired, sign_in_redirect

router = APIRouter(prefix=errors.API_PREFIX, responses=errors.PROBLEM_RESPONSES)

API_DESCRIPTION = """\
The sopdesk REST API. Authenticate with an API token
(`Authorization: Bearer sd_...`, made by `sopdesk tokens create EMAIL --scope ...`);
a token acts with its user's role, narrowed to its scopes. Every error is an RFC 9457
`application/problem+json` object with a stable `code`. See docs/api.md.
"""


class Me(BaseModel):
    """The caller: the user, how they authenticated, and what they may do."""

    id: int
    email: str
    name: str
    role: str = Field(description="owner, manager or agent")
    groups: list[str]
    via: str = Field(description="token or session")
    token_id: int | None = None
    scopes: list[str] | None = Field(None, description="The token's scopes; null for a session")
    permissions: list[str] = Field(description="Every action the caller may take")


@router.get(
    "/me",
    response_model=Me,
    tags=["account"],
    summary="Who am I",
    openapi_extra={"x-permission": "profile.read"},
)
def me(principal: Annotated[Principal, Depends(require("profile.read"))], session: DbSession) -> Me:
    """The user behind the token or session, with the actions they may take."""
    return Me(
        id=principal.user_id,
        email=principal.email,
        name=principal.name,
        role=principal.role.value,
        groups=user_groups(session, principal.user_id),
        via=principal.via,
        token_id=principal.token_id,
        scopes=sorted(principal.scopes) if principal.scopes is not None else None,
        permissions=allowed_actions(principal),
    )


router.include_router(identity.router)
router.include_router(cases.router)
router.include_router(customers.router)
router.include_router(sops.router)
router.include_router(calendars.router)
router.include_router(webhooks.router)
router.include_router(survey_api.router)
router.include_router(report_api.router)


# --- the schema and the reference page -----------------------------------------------


def build_schema(app: FastAPI) -> dict[str, Any]:
    """OpenAPI 3.1 for the paths under /api/v1, with every error answer as problem+json."""
    schema = get_openapi(
        title="sopdesk API",
        version=sopdesk.__version__,
        description=API_DESCRIPTION,
        routes=app.routes,
    )
    prefix = errors.API_PREFIX + "/"
    paths = schema.get("paths", {})
    schema["paths"] = {path: item for path, item in paths.items() if path.startswith(prefix)}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = errors.problem_content()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def openapi_json(request: Request) -> JSONResponse:
    app = request.app
    if getattr(app.state, "api_schema", None) is None:
        app.state.api_schema = build_schema(app)
    return JSONResponse(app.state.api_schema)


def api_docs(request: Request) -> HTMLResponse:
    """The reference, rendered on the server from the schema (no script: the CSP holds)."""
    app = request.app
    if getattr(app.state, "api_schema", None) is None:
        app.state.api_schema = build_schema(app)
    schema = app.state.api_schema
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, methods in sorted(schema.get("paths", {}).items())
        for method, operation in methods.items()
    ]
    context = {"schema": schema, "operations": operations, "title": "API reference"}
    return page(request, "api_docs.html", context)


def install(app: FastAPI, *, page_error: errors.Handler, page_http_error: errors.Handler) -> None:
    """Mount /api/v1 on `app`: routes, schema, reference page, and the error handlers.

    Errors under /api/v1 become problem+json; elsewhere `page_error` (a `SopdeskError`)
    and `page_http_error` (404, 405...) answer, and a page that needs a signed-in
    person redirects to /signin.
    """
    app.add_exception_handler(
        SopdeskError, errors.dispatch(_page_or_sign_in(page_error), errors.sopdesk_problem)
    )
    app.add_exception_handler(
        StarletteHTTPException, errors.dispatch(page_http_error, errors.http_problem)
    )
    app.add_exception_handler(Exception, errors.unexpected_error)
    app.include_router(router)
    app.add_api_route(
        errors.API_PREFIX + "/openapi.json", openapi_json, methods=["GET"], include_in_schema=False
    )
    app.add_api_route(
        errors.API_PREFIX + "/docs", api_docs, methods=["GET"], include_in_schema=False
    )
    app.add_exception_handler(RequestValidationError, errors.validation_error)  # type: ignore[arg-type]


def _page_or_sign_in(page_error: errors.Handler) -> errors.Handler:
    def handle(request: Request, exc: SopdeskError) -> Response:
        if isinstance(exc, SignInRequired):
            return sign_in_redirect(request, exc)
        return page_error(request, exc)

    return handle
