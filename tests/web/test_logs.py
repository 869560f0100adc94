"""Structured logs: JSON lines with the request's id and context, one access line per
request, and never a password, token or cookie (SQLite; logging has no backend)."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk import logs
from sopdesk.actions import users
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.web.app import create_app
from sopdesk.web.observability import request_id_from, route_template
from tests.auth.conftest import PASSWORD, csrf_from


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Everything logged during the test, as `sopdesk serve` would write it (JSON)."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("json", "DEBUG", stream=buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    engine = create_engine_for(sqlite_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def settings(sqlite_url: str, session: Session, tmp_path: Path) -> Settings:
    return Settings(database_url=sqlite_url, data_dir=tmp_path, secret_key="test-secret")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def access(stream: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in lines(stream) if line["logger"] == "sopdesk.access"]


def test_every_line_is_json_and_the_access_line_carries_the_request_id(
    client: TestClient, stream: io.StringIO
) -> None:
    answer = client.get(
        "/sops/nope", headers={"X-Request-ID": "trace-42.a:b"}, follow_redirects=False
    )
    assert answer.headers["x-request-id"] == "trace-42.a:b"
    [line] = [line for line in access(stream) if line["request_id"] == "trace-42.a:b"]
    assert line["level"] == "INFO" and line["message"] == "GET /sops/{sop_id} 303"
    assert line["method"] == "GET" and line["route"] == "/sops/{sop_id}"
    assert line["status"] == 303 and line["duration_ms"] >= 0
    assert line["timestamp"].endswith("+00:00") and "T" in line["timestamp"]
    assert all({"timestamp", "level", "logger", "message"} <= set(x) for x in lines(stream))


def test_an_unusable_request_id_is_replaced(client: TestClient, stream: io.StringIO) -> None:
    for sent in ("has spaces", "x" * 65, "new\nline", ""):
        answer = client.get("/healthz", headers={"X-Request-ID": sent})
        made = answer.headers["x-request-id"]
        assert made != sent and len(made) == 32
    first, second = (client.get("/healthz").headers["x-request-id"] for _ in range(2))
    assert first != second
    assert request_id_from(" abc-1 ") == "abc-1"
    assert len(request_id_from("a" * 64)) == 64


def test_probes_log_at_debug_and_the_token_user_is_named(
    client: TestClient, stream: io.StringIO, session: Session
) -> None:
    users.do_create_user(session, "prom@example.com", role="manager", password=None)
    created = users.do_create_token(session, "prom@example.com", scopes=("reports:read",))
    client.get("/healthz")
    client.get("/metrics", headers={"Authorization": f"Bearer {created.token}"})
    healthz, metrics = access(stream)[-2:]
    assert healthz["level"] == "DEBUG" and healthz["route"] == "/healthz"
    assert metrics["status"] == 200 and metrics["user_id"] == created.row.user_id


def test_a_crash_is_logged_with_its_request_id_and_answered_with_it(
    settings: Settings, stream: io.StringIO
) -> None:
    app = create_app(settings)

    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert answer.status_code == 500
    request_id = answer.headers["x-request-id"]
    mine = [line for line in lines(stream) if line.get("request_id") == request_id]
    error = next(line for line in mine if line["level"] == "ERROR")
    assert error["error"] == "RuntimeError" and "boom" in error["traceback"]
    [crash] = [line for line in mine if line["logger"] == "sopdesk.access"]
    assert crash["status"] == 500 and crash["level"] == "WARNING" and crash["route"] == "/boom"


def test_no_password_token_or_cookie_reaches_the_log(
    client: TestClient, stream: io.StringIO, session: Session
) -> None:
    users.do_create_user(session, "ann@example.com", role="owner", password=PASSWORD)
    token = users.do_create_token(session, "ann@example.com").token
    csrf = csrf_from(client.get("/signin").text)
    form = {"email": "ann@example.com", "password": PASSWORD, "csrf_token": csrf}
    assert client.post("/signin", data=form, follow_redirects=False).status_code == 303
    cookie = client.cookies["sopdesk_session"]
    wrong = form | {"password": "Wrong-Secret-Pass-9"}
    client.post("/signin", data=wrong, follow_redirects=False)
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/v1/me", headers={"Authorization": "Bearer sd_abc_Leaked-Bad-Token"})
    logging.getLogger("sopdesk.test").warning(
        "careless call", extra={"password": PASSWORD, "api_token": token, "body": "Dear Ann"}
    )
    written = stream.getvalue()
    assert len(access(stream)) >= 5
    for secret in (PASSWORD, "Wrong-Secret-Pass-9", token, cookie, csrf, "Leaked-Bad-Token"):
        assert secret not in written
    [careless] = [line for line in lines(stream) if line["message"] == "careless call"]
    assert careless["password"] == careless["api_token"] == careless["body"] == "[redacted]"


def test_context_fields_and_the_text_format() -> None:
    buffer = io.StringIO()
    handler = logs.configure("text", "INFO", stream=buffer)
    try:
        with logs.log_context(batch=25):
            logs.bind(worker_id="host:1")
            logging.getLogger("sopdesk.worker").info("fired %d timers", 3, extra={"dead": 0})
        logging.getLogger("sopdesk.worker").info("outside")
    finally:
        logging.getLogger().removeHandler(handler)
    inside, outside = buffer.getvalue().splitlines()
    assert "INFO    sopdesk.worker: fired 3 timers  batch=25 worker_id=host:1 dead=0" in inside
    assert outside.endswith("sopdesk.worker: outside")


def test_the_default_stream_is_stderr_as_it_is_now(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = logs.configure("json", "INFO")
    try:
        later = io.StringIO()
        monkeypatch.setattr(sys, "stderr", later)  # swapped after set-up, as pytest does
        logging.getLogger("sopdesk.test").info("after the swap")
    finally:
        logging.getLogger().removeHandler(handler)
    assert json.loads(later.getvalue())["message"] == "after the swap"


def test_auto_is_text_at_a_terminal_and_json_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert logs.resolve_format("auto", Terminal()) == "text"
    assert logs.resolve_format("auto", io.StringIO()) == "json"
    assert logs.resolve_format("json", Terminal()) == "json"
    with pytest.raises(ValueError, match="log level"):
        logs.configure("json", "LOUD")


def test_route_templates_never_hold_the_path() -> None:
    assert route_template({"path": "/cases/SD-1"}) == "<unmatched>"
    mounted = {"path": "/static/a.css", "root_path": "/static"}
    assert route_template(mounted) == "/static/{path}"
