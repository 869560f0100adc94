"""GET /metrics: who may scrape it, the request counters by route template, and the
database's figures (queues, breaches, open cases) read at scrape time. Both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sopdesk.actions import signin, users
from sopdesk.actions.base import utcnow
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseEventRow, CaseRow, CustomerRow, OutboxRow, TimerRow
from sopdesk.web.app import create_app
from sopdesk.web.queue_metrics import DatabaseCollector, families
from tests.api.conftest import bearer, problem

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(text: str) -> Samples:
    """Every sample of an exposition, by name and labels (the parser rejects bad text)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def settings(engine: Engine, db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url, data_dir=tmp_path, secret_key="test", metrics_cache_seconds=0
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def reader(session: Session) -> dict[str, str]:
    """A manager's token with only the reports:read scope (what a scraper should hold)."""
    return bearer(session, "prometheus@example.com", "manager", "reports:read")


def test_refuses_without_a_token(client: TestClient, session: Session) -> None:
    body = problem(client.get("/metrics"), 401, "unauthenticated")
    assert "reports:read" in body["detail"] and body["instance"] == "/metrics"
    assert client.get("/metrics").headers["www-authenticate"].startswith("Bearer")
    problem(client.get("/metrics", headers={"Authorization": "Bearer sd_x_nope"}), 401)
    problem(client.get("/metrics", headers={"Authorization": "Basic abc"}), 401)
    wrong_scope = bearer(session, "ops@example.com", "manager", "cases:read")
    problem(client.get("/metrics", headers=wrong_scope), 403, "forbidden")
    agent = bearer(session, "agent@example.com", "agent", "reports:read")
    problem(client.get("/metrics", headers=agent), 403)  # an agent's role has no report.read


def test_a_session_cookie_is_not_a_token(client: TestClient, session: Session) -> None:
    owner = users.do_create_user(session, "owner@example.com", role="owner", password=None)
    client.cookies.set("sopdesk_session", signin.do_start_session(session, owner).session_id)
    problem(client.get("/metrics"), 401)


def test_accepts_a_reports_read_token(client: TestClient, reader: dict[str, str]) -> None:
    answer = client.get("/metrics", headers=reader)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = scrape(answer.text)
    assert value(samples, "sopdesk_database_up") == 1
    assert ("sopdesk_build_info", frozenset({("version", "0.1.0")})) in samples


def test_metrics_public_opens_it(settings: Settings) -> None:
    public = settings.model_copy(update={"metrics_public": True})
    with TestClient(create_app(public)) as client:
        assert client.get("/metrics").status_code == 200


def test_request_counter_by_route_template(client: TestClient, reader: dict[str, str]) -> None:
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    client.get("/api/v1/cases/SD-4242", headers=reader)  # 403: the token may not read cases
    client.get("/cases/SD-4242", follow_redirects=False)  # a page: to /signin
    client.get("/no/such/place")
    text = client.get("/metrics", headers=reader).text
    samples = scrape(text)
    requests = "sopdesk_http_requests_total"
    assert value(samples, requests, method="GET", route="/healthz", status="2xx") == 3
    assert value(samples, requests, method="GET", route="/api/v1/cases/{ref}", status="4xx") == 1
    assert value(samples, requests, method="GET", route="/cases/{ref}", status="3xx") == 1
    assert value(samples, requests, method="GET", route="<unmatched>", status="4xx") == 1
    duration = "sopdesk_http_request_duration_seconds_count"
    assert value(samples, duration, method="GET", route="/healthz") == 3
    token = reader["Authorization"].split()[1]
    for leaked in ("SD-4242", "/no/such/place", token):
        assert leaked not in text


def _now() -> datetime:
    return utcnow().replace(microsecond=0)


def _customer(session: Session, now: datetime) -> CustomerRow:
    customer = CustomerRow(email="ann@customer.example", created_at=now, updated_at=now)
    session.add(customer)
    session.flush()
    return customer


def test_queue_depth_and_lag_reflect_the_rows(
    client: TestClient, reader: dict[str, str], session: Session
) -> None:
    now = _now()
    hour = timedelta(hours=1)

    def timer(key: str, due: datetime, status: str = "pending") -> TimerRow:
        return TimerRow(key=key, kind="sla", due_at=due, status=status, created_at=now)

    def outbox(key: str, kind: str, status: str = "pending", at: datetime = now) -> OutboxRow:
        return OutboxRow(
            key=key, kind=kind, payload={}, status=status, next_attempt_at=at, created_at=now
        )

    session.add_all(
        [
            timer("t1", now - 2 * hour),
            timer("t2", now - hour),
            timer("t3", now - hour),
            timer("t4", now + hour),
            timer("t5", now - hour, "dead"),
            timer("t6", now - hour, "done"),
            outbox("e1", "email", at=now - hour),
            outbox("e2", "email", "failed", at=now + hour),
            outbox("e3", "email", "dead"),
            outbox("w1", "webhook", at=now - 3 * hour),
            outbox("w2", "webhook", "sending"),
        ]
    )
    session.commit()
    samples = scrape(client.get("/metrics", headers=reader).text)
    depth = "sopdesk_queue_depth"
    assert value(samples, depth, queue="timers", state="due") == 3
    assert value(samples, depth, queue="timers", state="scheduled") == 1
    assert value(samples, "sopdesk_queue_dead", queue="timers") == 1
    assert 2 * 3600 <= value(samples, "sopdesk_queue_lag_seconds", queue="timers") < 3 * 3600
    assert value(samples, depth, queue="email", state="due") == 1
    assert value(samples, depth, queue="email", state="scheduled") == 1
    assert value(samples, "sopdesk_queue_retrying", queue="email") == 1
    assert value(samples, "sopdesk_queue_dead", queue="email") == 1
    assert value(samples, depth, queue="webhook", state="due") == 1
    assert value(samples, depth, queue="webhook", state="running") == 1
    assert 3 * 3600 <= value(samples, "sopdesk_queue_lag_seconds", queue="webhook") < 4 * 3600


def test_breaches_and_open_cases(
    client: TestClient, reader: dict[str, str], session: Session
) -> None:
    now = _now()
    customer = _customer(session, now)

    def case(status: str, due: datetime | None) -> CaseRow:
        row = CaseRow(
            customer_id=customer.id,
            status=status,
            opened_at=now,
            next_due_at=due,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row

    late = case("open", now - timedelta(minutes=5))
    case("open", now + timedelta(hours=2))
    case("pending", None)
    case("resolved", now - timedelta(days=1))  # finished: late, but not breached any more
    for target in ("first_response", "resolution"):
        session.add(
            CaseEventRow(case_id=late.id, at=now, kind="sla.breached", data={"target": target})
        )
    session.add(CaseEventRow(case_id=late.id, at=now, kind="sla.warning", data={}))
    session.commit()
    samples = scrape(client.get("/metrics", headers=reader).text)
    assert value(samples, "sopdesk_cases_breached") == 1
    assert value(samples, "sopdesk_sla_breaches_total") == 2
    assert value(samples, "sopdesk_cases_open", status="open") == 2
    assert value(samples, "sopdesk_cases_open", status="pending") == 1
    assert value(samples, "sopdesk_cases_open", status="new") == 0
    assert ("sopdesk_cases_open", frozenset({("status", "resolved")})) not in samples


def test_the_snapshot_is_cached_for_cache_seconds(engine: Engine) -> None:
    from sopdesk.store import session_factory

    sessions = session_factory(engine)
    opened: list[int] = []

    def counting() -> Session:
        opened.append(1)
        return sessions()

    cached = DatabaseCollector(counting, _now, cache_seconds=60)
    first, second = cached.snapshot(), cached.snapshot()
    assert first is second and len(opened) == 1
    fresh = DatabaseCollector(counting, _now, cache_seconds=0)
    assert fresh.snapshot() is not fresh.snapshot()


def test_a_database_that_does_not_answer_is_up_0_not_a_failed_scrape() -> None:
    def unreachable() -> Session:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    collector = DatabaseCollector(unreachable, _now, cache_seconds=60)
    [up] = list(collector.collect())
    assert up.name == "sopdesk_database_up" and up.samples[0].value == 0
    assert families(None) == [up]
