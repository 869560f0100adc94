"""schemathesis against /api/v1/openapi.json, in-process: no 5xx, and every answer matches
the schema (status code, content type, body) for data generated from that schema.

A small example budget per operation keeps this well under a minute; the database holds
the built-in library, a case and a customer, so reads find real rows as well as 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from sqlalchemy.orm import Session

from sopdesk.actions import users
from sopdesk.actions.cases import do_open_case
from sopdesk.actions.sop_files import do_load_library
from sopdesk.settings import Settings
from sopdesk.store import create_engine_for, session_factory, upgrade
from sopdesk.web.api import build_schema
from sopdesk.web.api import router as api_router
from sopdesk.web.app import create_app
from tests.api.conftest import PASSWORD

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
"""What the API promises. Not `positive_data_acceptance`: a schema cannot say "this text
is an SOP that parses" or "this is an e-mail address", so schema-valid data may still be
a 422 problem, which the schema documents."""


@pytest.fixture(scope="module")
def api_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    """One database for every operation: the app, and an owner's admin token."""
    tmp_path = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{tmp_path / 'data' / 'sopdesk.db'}"
    engine = create_engine_for(url)
    upgrade(engine)
    session: Session
    with session_factory(engine)() as session:
        do_load_library(session)
        do_open_case(session, customer_email="ann@customer.example", subject="Where is my order?")
        users.do_create_user(session, "owner@example.com", role="owner", password=PASSWORD)
        token = users.do_create_token(session, "owner@example.com").token
    app = create_app(Settings(database_url=url, data_dir=tmp_path, secret_key="test-secret"))
    try:
        yield app, token
    finally:
        engine.dispose()
        app.state.engine.dispose()


def _operations() -> list[Any]:
    """(method, path) of every documented operation, from the API router's schema."""
    app = FastAPI()
    app.include_router(api_router)
    paths = build_schema(app)["paths"]
    return [
        pytest.param(method.upper(), path, id=f"{method} {path}")
        for path, methods in sorted(paths.items())
        for method in sorted(methods)
    ]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_the_api_keeps_its_schema(api_token: tuple[object, str], method: str, path: str) -> None:
    app, token = api_token
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    run(schema[path][method], {"Authorization": f"Bearer {token}"})


def run(operation: Any, headers: dict[str, str]) -> None:
    """Generated requests for one operation: valid ones, and for this suite's own
    operations also invalid ones (which must be refused with a documented problem)."""
    wanted = CHECKS
    modes = [GenerationMode.POSITIVE]
    if not operation.path.startswith(("/api/v1/me", "/api/v1/users")):
        modes.append(GenerationMode.NEGATIVE)

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes)))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=wanted)

    check()
