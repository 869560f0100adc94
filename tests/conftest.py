"""Shared fixtures: a real SQLite file and a real PostgreSQL schema per test.

`db_url` runs a test on both backends; the PostgreSQL variant carries the `postgres`
mark. Each pytest-xdist worker creates its own PostgreSQL database for the session
(dropped at the end) and each test gets a fresh schema in it, so workers and tests
never see each other's rows. PostgreSQL unreachable: the PostgreSQL variants skip,
except under CI=true, where they fail.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sopdesk.settings import normalise_database_url
from sopdesk.store import create_engine_for, session_factory, upgrade

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _unreachable(reason: str) -> None:
    message = f"PostgreSQL is unreachable ({reason}); set SOPDESK_TEST_PG_URL"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _admin_engine() -> Engine:
    base = os.environ.get("SOPDESK_TEST_PG_URL", DEFAULT_PG_URL)
    return create_engine(normalise_database_url(base), isolation_level="AUTOCOMMIT")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo what a test's `sopdesk serve`/`worker` run did to the root logger (its
    handler and level), so later tests, and threads that outlive a test, log as before."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of its own for this test session and xdist worker, dropped after."""
    admin = _admin_engine()
    name = f"sopdesk_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    quoted = admin.dialect.identifier_preparer.quote(name)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {quoted}"))
    except OperationalError as exc:
        admin.dispose()
        _unreachable(str(exc.orig).splitlines()[0] if exc.orig else str(exc))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema (via search_path)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_database).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'sopdesk.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database on each backend."""
    engine = create_engine_for(db_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def now() -> datetime:
    """A fixed, aware clock reading (Monday 2 March 2026, 09:30 UTC)."""
    return NOW


def sop_text(
    sop_id: str = "refunds",
    *,
    title: str = "Handling refunds",
    within: str = "24 business hours",
    review: str = "quarterly",
    purpose: str = "Refunds are paid quickly and the same way every time.",
) -> str:
    """A small valid SOP document; vary the arguments to make versions differ."""
    return f"""---
id: {sop_id}
title: {title}
owner: support-lead
review: {review}
standards:
  first_response: {within}
steps:
  - id: acknowledge
    title: Acknowledge the request
    owner: agent
    within: {within}
    send: ack
  - id: refund
    title: Refund the customer
    owner: agent
    within: 5 business days after acknowledge
templates:
  ack:
    subject: "We have your request"
    body: |
      Dear {{{{ customer.first_name }}}}, we are on it.
---
# Purpose

{purpose}

# Procedure

Acknowledge, then refund.
"""


@dataclass(frozen=True)
class Run:
    """What one `sopdesk` command did: exit code, standard output, standard error."""

    code: int
    out: str
    err: str


Runner = Callable[..., Run]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run `sopdesk ARGS...` in-process through its real entry point."""

    def run(*args: str) -> Run:
        from sopdesk.cli import main  # here: a broken command module fails only CLI tests

        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@contextmanager
def statements_sent(bind: Engine | Connection) -> Iterator[list[str]]:
    """The SQL statements sent on `bind` while the block runs, in order."""
    sent: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(bind, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(bind, "before_cursor_execute", seen)
