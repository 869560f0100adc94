"""`GET /metrics`: Prometheus text format, for a bearer token with `reports:read`.

What it holds: the request counters of every process of this server (one process, or
all of `serve --workers N` through prometheus_client's multiprocess files) and the
database's figures (`queue_metrics`), computed once per scrape. Open to anyone only
with `SOPDESK_METRICS_PUBLIC=true` (for a scraper on a private network that cannot
send a token). Refusals are problem+json, like the API's.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import InfoMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

import sopdesk
from sopdesk.actions.base import utcnow
from sopdesk.auth.permissions import require
from sopdesk.errors import SopdeskError
from sopdesk.logs import bind
from sopdesk.settings import Settings
from sopdesk.web.api.deps import Unauthenticated, current_principal
from sopdesk.web.api.errors import sopdesk_problem
from sopdesk.web.observability import MULTIPROCESS_DIR, HttpMetrics, ObservedFastAPI
from sopdesk.web.queue_metrics import DatabaseCollector

ACTION = "report.read"


def install(app: ObservedFastAPI, settings: Settings) -> None:
    """Give `app` its request counters, a registry with the database collector, and
    the /metrics route (call after `app.state.sessions` is set)."""
    disable_created_metrics()  # no `_created` twin per series (multiprocess mode has none)
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR:
        app.http_metrics = HttpMetrics(registry=None)  # values go to the shared files
        MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    else:
        app.http_metrics = HttpMetrics(registry)
    registry.register(BuildInfo())
    registry.register(
        DatabaseCollector(app.state.sessions, utcnow, cache_seconds=settings.metrics_cache_seconds)
    )
    app.state.metrics_registry = registry
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)


def metrics(request: Request) -> Response:
    """The exposition, or 401/403 problem+json for a caller without `reports:read`."""
    try:
        check_access(request)
    except SopdeskError as exc:
        return sopdesk_problem(request, exc)
    body = generate_latest(request.app.state.metrics_registry)
    # Our names are plain [a-z_], so the text is format 0.0.4, which every Prometheus reads.
    headers = {"Cache-Control": "no-store"}
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers=headers)


def check_access(request: Request) -> None:
    """Open when `metrics_public`; else an API token whose scopes cover `report.read`.

    The session cookie does not count: /metrics is for scrapers, and a page a browser
    can be tricked into loading should not expose the operation's figures.
    """
    if request.app.state.settings.metrics_public:
        return
    if "authorization" not in request.headers:
        raise Unauthenticated(
            "/metrics needs an API token with the reports:read scope",
            hint="create one with 'sopdesk tokens create EMAIL --scope reports:read' and "
            "give it to Prometheus as a bearer token (or set SOPDESK_METRICS_PUBLIC=true)",
        )
    with request.app.state.sessions() as session:
        principal = current_principal(request, session)
    bind(user_id=principal.user_id)
    require(principal, ACTION)


class BuildInfo:
    """`sopdesk_build_info{version="..."} 1`: which release answers (joins on upgrades)."""

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("sopdesk_build", "The sopdesk release this server runs.")
        info.add_metric([], {"version": sopdesk.__version__})
        yield info
