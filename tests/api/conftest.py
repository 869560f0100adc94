"""Fixtures for the /api/v1 tests: the app on each backend, users with tokens, the library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sopdesk.actions import users
from sopdesk.actions.sop_files import do_load_library
from sopdesk.settings import Settings
from sopdesk.web.app import create_app

PASSWORD = "correct horse battery staple"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "instance"}


def bearer(session: Session, email: str, role: str = "agent", *scopes: str) -> dict[str, str]:
    """Headers for a new token of `email` (created with `role` if new)."""
    if users.find_user(session, email) is None:
        users.do_create_user(session, email, role=role, password=PASSWORD, name=email.split("@")[0])
    token = users.do_create_token(session, email, scopes=scopes).token
    return {"Authorization": f"Bearer {token}"}


def problem(response: object, status: int, code: str | None = None) -> dict[str, object]:
    """Assert an RFC 9457 problem with this status (and code) and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def settings(engine: Engine, db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret_key="test-secret",
        company_name="Shop Example",
        support_address="support@shop.example",
        public_base_url="https://help.shop.example",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def library(session: Session) -> Session:
    """The built-in SOPs, published (as `sopdesk init` does)."""
    do_load_library(session)
    return session


@pytest.fixture
def agent(session: Session) -> dict[str, str]:
    return bearer(session, "agent@example.com", "agent")


@pytest.fixture
def manager(session: Session) -> dict[str, str]:
    return bearer(session, "manager@example.com", "manager")
