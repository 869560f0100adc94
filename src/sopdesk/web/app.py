"""`create_app(settings)`: the FastAPI factory used by `sopdesk serve` and the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import sopdesk
from sopdesk.errors import SopdeskError
from sopdesk.process import start_process
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, require_current, session_factory
from sopdesk.store.migrate import current_revision, head_revision
from sopdesk.web import api, customer_pages, metrics, pages, security, support_form, ui
from sopdesk.web.observability import ObservedFastAPI
from sopdesk.web.rendering import error_page
from sopdesk.web.ui.inbox import COUNTS_TTL_SECONDS
from sopdesk.web.ui.live_counts import CountCache

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings, *, with_worker: bool = False) -> FastAPI:
    """The web app on the database `settings` names (run `sopdesk init` first).

    `with_worker`: also run timers and the outbox in a background thread (SQLite's
    one worker; see docs/worker.md).
    """
    engine = create_engine_for(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        background = None
        if with_worker:
            from sopdesk.worker.background import BackgroundWorker

            background = BackgroundWorker(engine, settings)
            background.start()
        yield
        if background is not None:
            background.stop()
        engine.dispose()

    app = ObservedFastAPI(  # request ids, access log, counters (web/observability.py)
        title="sopdesk",
        version=sopdesk.__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.inbox_counts = CountCache(COUNTS_TTL_SECONDS)  # web/ui/live_counts.py
    app.include_router(ui.build_router())  # inbox, cases, SOP editor, settings
    app.mount("/static", ui.static_files(), name="static")
    app.include_router(pages.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    metrics.install(app, settings)  # GET /metrics (Prometheus)
    app.include_router(security.router)  # sign-in, sign-out, first-run setup
    app.include_router(customer_pages.router)  # /l/...: the signed links customers click
    app.include_router(support_form.router)  # /support: the public support form
    api.install(app, page_error=_sopdesk_error, page_http_error=_http_error)  # + error handlers
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit)
    return app


def app_from_env() -> FastAPI:
    """The app from `SOPDESK_*` environment settings: the factory `serve --workers N`
    hands Uvicorn, which imports it in each worker process (it configures that
    process's logging first; web only — the worker runs as `sopdesk worker`)."""
    settings = Settings()
    start_process(settings)
    return create_app(settings, with_worker=False)


def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and its schema is current, else 503 with the reason."""
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(select(1))
        if current_revision(engine) != _head_revision():
            require_current(engine)  # the error that says what to do
    except SopdeskError as exc:
        return JSONResponse({"status": "error", "database": exc.message}, status_code=503)
    except SQLAlchemyError as exc:
        reason = type(exc).__name__
        return JSONResponse({"status": "error", "database": reason}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "version": sopdesk.__version__})


@cache
def _head_revision() -> str:
    """The newest migration this code knows: read from the migration scripts once per
    process (parsing them cost more than the rest of a /healthz probe)."""
    return head_revision()


MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""The largest request body any route takes (the biggest: an API reply with 15 MB of
files in base64, a support form with 20 MB of files); routes keep their own limits."""


class BodyLimit:
    """Refuse a request body over `MAX_REQUEST_BYTES` with 413 before a route reads it:
    by its Content-Length, or, sent without one, once that many bytes have arrived."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await _too_large(send, api=str(scope.get("path", "")).startswith("/api/"))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # the app's handlers answer it (page or problem)
                    raise StarletteHTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counted, send)


TOO_LARGE = "the request body is larger than this server takes"


async def _too_large(send: Send, *, api: bool) -> None:
    """The 413 for a declared length: problem+json for the API, a short page otherwise."""
    if api:
        kind = b"application/problem+json"
        body = b'{"type":"about:blank","title":"Content Too Large","status":413,"detail":"%s"}'
    else:
        kind = b"text/html; charset=utf-8"
        body = b"<!DOCTYPE html><title>Too large</title><h1>Too large</h1><p>%s.</p>"
    headers = [(b"content-type", kind), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body % TOO_LARGE.encode()})


class SecurityHeaders:
    """`SECURITY_HEADERS` on every response that does not set its own (a plain ASGI
    middleware: Starlette's `BaseHTTPMiddleware` ran each request in an extra task).

    A response whose own policy lets some sites frame it (the embedded support form)
    gets no `X-Frame-Options`: that header cannot list sites, and its policy decides.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                own_framing = _lists_frame_ancestors(headers.get("content-security-policy", ""))
                for name, value in SECURITY_HEADERS.items():
                    if not (own_framing and name == "X-Frame-Options"):
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _lists_frame_ancestors(policy: str) -> bool:
    """Whether a Content-Security-Policy lets any site frame the page."""
    for directive in policy.split(";"):
        name, _, sources = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors":
            return sources.strip() != "'none'"
    return False


def _sopdesk_error(request: Request, exc: SopdeskError) -> Response:
    hint = None if exc.status == 404 else exc.hint  # CLI hints do not help on a page
    return error_page(request, exc.status, exc.message, hint)


def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404:
        return error_page(request, 404, "There is no page at this address.", None)
    return error_page(request, exc.status_code, str(exc.detail), None)
