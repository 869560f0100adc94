"""RFC 9457 problem details: every error under /api/v1 as `application/problem+json`.

One shape for every failure — a `SopdeskError` from the actions layer, an HTTP error
from routing (404, 405), a request that fails validation (422, with `errors`), and a
bug (500, logged here, never a traceback in the answer):

    {"type": "urn:sopdesk:problem:not_found", "title": "Not Found", "status": 404,
     "detail": "no SOP with id 'x'", "code": "not_found", "instance": "/api/v1/sops/x"}

Outside /api/v1 the page handlers the app passes in answer instead (an HTML page).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from sopdesk.errors import SopdeskError
from sopdesk.web.rendering import error_page

API_PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:sopdesk:problem:"
log = logging.getLogger("sopdesk.web.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class FieldError(BaseModel):
    """One reason a request was refused: where (a JSON pointer or a parameter) and why."""

    detail: str
    type: str
    pointer: str | None = Field(None, description="JSON pointer into the body, e.g. #/email")
    parameter: str | None = Field(None, description="The query, path or header parameter")
    location: str = Field(description="body, query, path, header or cookie")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="urn:sopdesk:problem:<code>")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable code")
    instance: str | None = None
    hint: str | None = None
    errors: list[FieldError] | None = None


def is_api(request: Request) -> bool:
    path = request.url.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    hint: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    code = code or HTTP_CODES.get(status, "error")
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": _title(status),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    if hint:
        body["hint"] = hint
    if errors is not None:
        body["errors"] = errors
    all_headers = {"Cache-Control": "no-store", **(headers or {})}
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="sopdesk"')
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=all_headers)


RFC_9110_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}
"""Reason phrases renamed by RFC 9110 (Python < 3.13 still has the old ones)."""


def _title(status: int) -> str:
    if status in RFC_9110_TITLES:
        return RFC_9110_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def sopdesk_problem(request: Request, exc: SopdeskError) -> JSONResponse:
    headers = {}
    retry_after = exc.data.get("retry_after")
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    return problem(request, exc.status, exc.message, code=exc.code, hint=exc.hint, headers=headers)


def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
    if exc.status_code == 404:
        detail = f"there is nothing at {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem(request, exc.status_code, detail, headers=dict(exc.headers or {}))


def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_field_error(error) for error in exc.errors()]
    first = errors[0] if errors else None
    where = (first.get("pointer") or first.get("parameter")) if first else None
    detail = f"the request is not valid: {first['detail']}" if first else "the request is not valid"
    if where:
        detail += f" ({where})"
    return problem(request, 422, detail, code="invalid_input", errors=errors)


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    location, *path = [str(part) for part in error.get("loc", ())] or ["body"]
    item: dict[str, Any] = {
        "detail": str(error.get("msg", "invalid")),
        "type": str(error.get("type", "invalid")),
        "location": location,
    }
    if location == "body":
        item["pointer"] = "#/" + "/".join(_escape(part) for part in path)
    else:
        item["parameter"] = path[0] if path else location
    return item


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback, answer 500 without one (problem+json or a page)."""
    log.error(
        "unexpected %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    detail = "something went wrong on our side; it has been logged"
    if is_api(request):
        return problem(request, 500, detail, code="internal_error")
    return error_page(request, 500, detail[0].upper() + detail[1:] + ".", None)


Handler = Callable[[Request, Any], Response]


def dispatch(page_handler: Handler, api_handler: Handler) -> Handler:
    """A handler that answers problem+json under /api/v1 and a page elsewhere."""

    def handle(request: Request, exc: Any) -> Response:
        return api_handler(request, exc) if is_api(request) else page_handler(request, exc)

    return handle


async def page_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """Outside the API, FastAPI's own answer (kept as it was before the API existed)."""
    return await request_validation_exception_handler(request, exc)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    if is_api(request):
        return validation_problem(request, exc)
    return await page_validation_error(request, exc)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": _title(status)}
    for status in (401, 403, 422, 429, 500)
}
"""The error answers every /api/v1 operation documents (moved to problem+json)."""


def problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
