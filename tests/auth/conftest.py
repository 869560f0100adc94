"""Fixtures for the identity tests: users, and the web app on each backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sopdesk.actions import users
from sopdesk.settings import Settings
from sopdesk.store.tables import UserRow
from sopdesk.web.app import create_app

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def add_user(
    session: Session, email: str, role: str = "agent", *, now: datetime | None = None
) -> UserRow:
    return users.do_create_user(session, email, role=role, password=PASSWORD, now=now)


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def settings(engine: Engine, db_url: str, tmp_path: Path) -> Settings:
    """Settings for the migrated database of the `engine` fixture (both backends)."""
    return Settings(database_url=db_url, data_dir=tmp_path, secret_key="test-secret")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> int:
    token = csrf_from(client.get("/signin").text)
    data = {"email": email, "password": password, "csrf_token": token, "next": "/"}
    return client.post("/signin", data=data, follow_redirects=False).status_code
