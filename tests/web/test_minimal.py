"""The minimal web app: health check, the SOP library, one SOP, error pages (SQLite)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import signin, sops, users
from sopdesk.actions.calendars import do_save_calendar
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.web.app import create_app
from tests.conftest import sop_text


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Session]:
    engine = create_engine_for(sqlite_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def client(sqlite_url: str, database: Session, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path)
    reader = users.do_create_user(database, "reader@example.com", role="agent", password=None)
    started = signin.do_start_session(database, reader)  # the pages need a signed-in reader
    with TestClient(create_app(settings)) as client:
        client.cookies.set("sopdesk_session", started.session_id)
        yield client


def _seed(session: Session, now: datetime) -> None:
    sops.do_create_draft(session, sop_text(), "ann", "first", now=now)
    sops.do_publish(session, "refunds", approver="bob", now=now)
    sops.do_create_draft(session, sop_text(within="12 business hours"), "cy", "faster", now=now)
    sops.do_create_draft(session, sop_text("apples", title="Apples & <pears>"), "ann", now=now)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_healthz_checks_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": "0.1.0"}


def test_healthz_reports_an_empty_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "the database is empty"}


def test_library_lists_every_sop(client: TestClient, database: Session, now: datetime) -> None:
    _seed(database, now)
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    text = _text(response.text)
    assert "SOP library" in text and "2 SOPs" in text and "1 published" in text
    assert '<a href="/sops/refunds">Handling refunds</a>' in response.text
    assert "Apples &amp; &lt;pears&gt;" in response.text  # escaped, never markup
    assert "<pears>" not in response.text
    assert "v1 v2 draft" in text  # refunds: v1 in force, v2 open
    assert "2 June 2026" in text and "(overdue)" in text  # review due; today is later


def test_empty_library_says_how_to_fill_it(client: TestClient) -> None:
    text = _text(client.get("/").text)
    assert "No SOPs yet. Run sopdesk init" in text


def test_sop_page_renders_the_version_in_force(
    client: TestClient, database: Session, now: datetime
) -> None:
    _seed(database, now)
    response = client.get("/sops/refunds")
    assert response.status_code == 200
    assert response.text.startswith("<!DOCTYPE html>")
    assert "&lt;" not in response.text  # the renderer's page, not an escaped copy of it
    text = _text(response.text)
    assert "Version 1 · Published 2 March 2026, approved by bob (material change)" in text
    assert "review due 2 June 2026 (overdue)" in text
    assert "Acknowledge the request" in text and "Refund the customer" in text
    assert "All 2 versions" in text
    assert '<a href="/sops/refunds?version=2">v2</a>' in response.text
    assert "not the version in force" not in text


def test_sop_page_shows_other_versions_with_a_warning(
    client: TestClient, database: Session, now: datetime
) -> None:
    _seed(database, now)
    text = _text(client.get("/sops/refunds?version=2").text)
    assert "Version 2 · Draft" in text
    assert "This is not the version in force: version 1 is." in text
    unpublished = _text(client.get("/sops/apples").text)
    assert "No version of this SOP is published yet" in unpublished


def test_an_unparseable_draft_is_shown_as_its_text(
    client: TestClient, database: Session, now: datetime
) -> None:
    _seed(database, now)
    sops.do_retire(database, "refunds", 2, actor="cy", now=now)
    broken = sop_text().replace("review: quarterly", "review: <b>whenever</b>")
    sops.do_create_draft(database, broken, "cy", sop_id="refunds", now=now)
    response = client.get("/sops/refunds?version=3")
    assert response.status_code == 200
    assert "Version 3 (draft) does not parse yet" in _text(response.text)
    assert "review: &lt;b&gt;whenever&lt;/b&gt;" in response.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/sops/nope", "no SOP with id &#39;nope&#39;"),
        ("/sops/refunds?version=9", "refunds has no version 9"),
        ("/no/such/page", "There is no page at this address."),
    ],
)
def test_not_found_is_a_page(
    client: TestClient, database: Session, now: datetime, path: str, message: str
) -> None:
    _seed(database, now)
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text and message in response.text
    assert 'href="/"' in response.text


def test_pages_carry_security_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"


def test_pages_are_accessible_basics(client: TestClient, database: Session, now: datetime) -> None:
    _seed(database, now)
    for path in ("/", "/sops/refunds", "/sops/nope"):
        html = client.get(path).text
        assert '<html lang="en">' in html
        assert 'name="viewport"' in html
        assert "Skip to the content" in html
        assert html.count("<h1") == 1, path


def test_sop_page_uses_the_stored_business_calendar(
    client: TestClient, database: Session, now: datetime
) -> None:
    _seed(database, now)
    assert "Asia/Tokyo" not in _text(client.get("/sops/refunds").text)
    tokyo = {"timezone": "Asia/Tokyo", "hours": "mon-fri 10:00-18:00"}
    do_save_calendar(database, "default", tokyo, now=now)
    text = _text(client.get("/sops/refunds").text)
    assert "Asia/Tokyo" in text  # the worked example of due times uses it
