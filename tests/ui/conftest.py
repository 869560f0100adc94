"""Fixtures for the web UI tests: a seeded database, and a TestClient per role.

A person is signed in by starting a session row directly (the sign-in form is tested
by the security tests); `csrf` is the token their forms carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from sopdesk.actions import signin, sops, users
from sopdesk.actions.base import utcnow
from sopdesk.actions.cases import do_open_case
from sopdesk.auth import csrf
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.store.tables import CaseRow
from sopdesk.web.app import create_app
from sopdesk.web.security import SESSION_COOKIE
from tests.conftest import sop_text

SECRET = "ui-test-secret"
PASSWORD = "correct horse battery staple 42"
ROLES = ("owner", "manager", "agent")

CRITICAL_SOP = """---
id: critical-check
title: Identity check
owner: support-lead
review: quarterly
steps:
  - id: verify
    title: Verify the customer's identity
    owner: agent
    within: 4 business hours
    critical: true
  - id: answer
    title: Answer the question
    owner: agent
    within: 8 business hours
---
# Purpose

Nobody gets account details before their identity is checked.

# Procedure

Verify, then answer.
"""


@dataclass
class World:
    """The seeded database, its settings and app, and what is in it."""

    session: Session
    settings: Settings
    case_ref: str
    critical_ref: str
    now: datetime

    def case(self, ref: str) -> CaseRow:
        self.session.expire_all()
        from sopdesk.actions.case_reads import get_case

        return get_case(self.session, ref)


def seed(session: Session, now: datetime) -> tuple[str, str]:
    for role in ROLES:
        users.do_create_user(
            session, f"{role}@example.com", role=role, password=PASSWORD, name=role.title()
        )
    sops.do_create_draft(session, sop_text(), "ann", "first", now=now)
    sops.do_publish(session, "refunds", approver="bob", now=now)
    sops.do_create_draft(session, sop_text(within="12 business hours"), "cy", "faster", now=now)
    sops.do_create_draft(session, CRITICAL_SOP, "ann", now=now)
    sops.do_publish(session, "critical-check", approver="bob", now=now)
    case = do_open_case(
        session,
        customer_email="dana@example.com",
        customer_name="Dana Scully",
        subject="Refund for order 1042",
        body="Please refund my order.",
        sop_id="refunds",
        now=now,
    )
    critical = do_open_case(
        session,
        customer_email="fox@example.com",
        customer_name="Fox Mulder",
        subject="What is my balance?",
        body="Tell me my balance.",
        sop_id="critical-check",
        now=now,
    )
    return str(case.reference), str(critical.reference)


def make_world(url: str, tmp_path: Path) -> Iterator[World]:
    engine = create_engine_for(url)
    upgrade(engine)
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key=SECRET)
    now = utcnow() - timedelta(minutes=5)
    with session_factory(engine)() as session:
        case_ref, critical_ref = seed(session, now)
        yield World(session, settings, case_ref, critical_ref, now)
    engine.dispose()


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    yield from make_world(sqlite_url, tmp_path)


@pytest.fixture
def any_world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """The same world on SQLite and on PostgreSQL."""
    yield from make_world(db_url, tmp_path)


class Browser(TestClient):
    """A TestClient signed in as one person, with the CSRF token of their forms."""

    csrf: str = ""

    def post_form(
        self, url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST a form with this person's CSRF token, as their browser would."""
        return self.post(url, data={"csrf_token": self.csrf, **(data or {})}, headers=headers)


ClientFor = Callable[[str | None], Browser]


def _client_factory(world: World) -> Iterator[ClientFor]:
    opened: list[Browser] = []

    def client_for(role: str | None) -> Browser:
        client = Browser(create_app(world.settings), follow_redirects=False)
        client.__enter__()
        opened.append(client)
        if role is not None:
            user = users.get_user(world.session, f"{role}@example.com")
            started = signin.do_start_session(world.session, user, ip="testclient")
            client.cookies.set(SESSION_COOKIE, started.session_id)
            client.csrf = csrf.csrf_token(SECRET, started.session_id)
        return client

    yield client_for
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client_for(world: World) -> Iterator[ClientFor]:
    yield from _client_factory(world)


@pytest.fixture
def any_client_for(any_world: World) -> Iterator[ClientFor]:
    yield from _client_factory(any_world)
