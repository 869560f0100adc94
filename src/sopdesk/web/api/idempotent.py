"""`Idempotency-Key` on POST: the route class that stores a first answer and replays it.

A POST to a route of a router made with `route_class=IdempotentRoute` that carries an
`Idempotency-Key` header is looked up by (the caller's user, the key). Not seen before:
the route runs, and a 2xx answer is stored with the method, path and a hash of the
body. Seen: the stored answer is sent again, with `Idempotent-Replayed: true`; the same
key with another method, path or body is a 422 problem (`idempotency_key_reused`).
Errors are not stored (a refused request changed nothing, so a retry runs again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from sopdesk.actions import idempotency
from sopdesk.auth.permissions import ACTIONS, Principal, allowed
from sopdesk.errors import SopdeskError
from sopdesk.web.api.deps import current_principal
from sopdesk.web.api.errors import sopdesk_problem

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            max_length=idempotency.MAX_KEY_CHARS,
            description=(
                "Any unique string (a UUID): a retry with the same key and body gets the "
                "first answer again instead of doing the work twice"
            ),
        ),
    ] = None,
) -> str | None:
    """Documents the header in the schema; `IdempotentRoute` does the work."""
    return key


class IdempotentRoute(APIRoute):
    """An APIRoute whose POST honours `Idempotency-Key` (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        if "POST" not in self.methods:
            return handler
        action = str((self.openapi_extra or {}).get("x-permission", ""))

        async def handle(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request)
            return await _idempotent(request, handler, action, key, await request.body())

        return handle


async def _idempotent(
    request: Request,
    handler: Callable[[Request], Awaitable[Response]],
    action: str,
    key: str,
    body: bytes,
) -> Response:
    principal = await run_in_threadpool(_principal, request)
    if principal is None or action not in ACTIONS or not allowed(principal, action):
        return await handler(request)  # the route itself answers 401 or 403
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    digest = idempotency.request_hash(request.method, path, body)
    where = {"method": request.method, "path": path, "body_hash": digest}
    try:
        stored = await run_in_threadpool(_find, request, principal.user_id, key, where)
    except SopdeskError as exc:
        return sopdesk_problem(request, exc)
    if stored is not None:
        return Response(
            stored.body,
            status_code=stored.status,
            media_type=stored.content_type,
            headers={REPLAYED: "true"},
        )
    response = await handler(request)
    content = getattr(response, "body", None)
    if 200 <= response.status_code < 300 and isinstance(content, bytes | memoryview):
        content = bytes(content)
        answer = idempotency.StoredResponse(
            response.status_code,
            content.decode("utf-8"),
            response.headers.get("content-type", "application/json"),
        )
        await run_in_threadpool(_store, request, principal.user_id, key, where, answer)
    return response


def _principal(request: Request) -> Principal | None:
    with request.app.state.sessions() as session:
        try:
            return current_principal(request, session)
        except SopdeskError:
            return None


def _find(
    request: Request, user_id: int, key: str, where: dict[str, str]
) -> idempotency.StoredResponse | None:
    with request.app.state.sessions() as session:
        return idempotency.find_response(session, user_id, key, **where)


def _store(
    request: Request,
    user_id: int,
    key: str,
    where: dict[str, str],
    answer: idempotency.StoredResponse,
) -> None:
    with request.app.state.sessions() as session:
        idempotency.do_store_response(session, user_id, key, **where, response=answer)
