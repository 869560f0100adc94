"""Every HTTP request: a request id, one access log line, and the Prometheus counters.

`RequestObserver` is a plain ASGI middleware and the outermost layer of the app
(`ObservedFastAPI`), outside Starlette's 500 handler, so a crash is counted as a 500,
its error log line carries the request id, and the 500 page still has `X-Request-ID`.

Metric labels and log fields name the *route template* (`/cases/{ref}`), never the
path a client sent: paths hold case references and signed-link tokens, and every
distinct label value is a new time series.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sopdesk.logs import bind, log_context

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
"""Read once, like prometheus_client itself does when it is imported: set (by `serve
--workers N`), every process writes its counters to files there and /metrics sums them."""

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
QUIET_ROUTES = frozenset({"/healthz", "/metrics"})
"""Probes and scrapes: their successful requests are logged at DEBUG, not INFO."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

access_log = logging.getLogger("sopdesk.access")


# --- pure helpers ---------------------------------------------------------------------


def request_id_from(header: str | None) -> str:
    """The client's id when it is a sane token (≤ 64 of `A-Z a-z 0-9 . _ : -`), else new.

    Accepting it lets a proxy's or a client's id follow the request through our logs;
    refusing anything else keeps log lines and response headers clean.
    """
    if header is not None and _SANE_REQUEST_ID.fullmatch(header.strip()):
        return header.strip()
    return uuid.uuid4().hex


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def route_template(scope: Mapping[str, Any], root_path: str = "") -> str:
    """The template of the route that answered (`/api/v1/cases/{ref}`), never the path.

    FastAPI keeps a route included through routers with its own relative path; the
    effective route (prefixes applied) is in `scope["fastapi"]`. A mount (`/static`)
    shows as its prefix plus `/{path}`; nothing matched: `<unmatched>`.
    """
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, Mapping):
        effective = fastapi_scope.get("effective_route_context")
        template = getattr(effective, "path_format", None)
        if isinstance(template, str):
            return template
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    mounted = str(scope.get("root_path") or "")
    if mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path) :] + "/{path}"
    return UNMATCHED


# --- the request counters -------------------------------------------------------------


class HttpMetrics:
    """The request counter and latency histogram of one app.

    `registry` None: not registered anywhere, which is what multiprocess mode wants (the
    values live in files; `MultiProcessCollector` reads them at scrape time).
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "sopdesk_http_requests",
            "HTTP requests answered, by method, route template and status class.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "sopdesk_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            registry=registry,
            buckets=BUCKETS,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, status_class(status)).inc()
        self.duration.labels(method, route).observe(seconds)


# --- the middleware -------------------------------------------------------------------


class RequestObserver:
    """Request id in and out, one access log line, the counters; see the module doc."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_header(scope, b"x-request-id"))
        root_path = str(scope.get("root_path") or "")
        status = 500  # what the client gets when the app raises before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                method = method_label(str(scope.get("method", "")))
                route = route_template(scope, root_path)
                self.metrics.observe(method, route, status, seconds)
                bind(method=method, route=route, status=status)
                access_log.log(
                    access_level(route, status),
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={"duration_ms": round(seconds * 1000, 2)},
                )


def access_level(route: str, status: int) -> int:
    """WARNING for a 5xx (something to look at), DEBUG for a probe or scrape that
    worked, INFO for everything else."""
    if status >= 500:
        return logging.WARNING
    if route in QUIET_ROUTES and status < 400:
        return logging.DEBUG
    return logging.INFO


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class ObservedFastAPI(FastAPI):
    """FastAPI with `RequestObserver` around everything, Starlette's error handler too.

    `http_metrics` must be set before the first request (`create_app` does).
    """

    http_metrics: HttpMetrics

    def build_middleware_stack(self) -> ASGIApp:
        return RequestObserver(super().build_middleware_stack(), self.http_metrics)
