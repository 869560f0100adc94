"""Fixtures for the case shell: a migrated database with the built-in library published.

Every test here runs on SQLite and on PostgreSQL (the `db_url` fixture). Time is
explicit: actions take `now`; `fire_due` does the worker's job up to an instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopdesk.actions.intake import do_receive_email
from sopdesk.actions.sop_files import do_load_library
from sopdesk.actions.timers import do_fire_timer
from sopdesk.settings import Settings
from sopdesk.store.tables import CaseEventRow, OutboxRow, TimerRow

MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
"""Monday 2 March 2026, 10:00 UTC: inside the default calendar's opening hours."""

SUPPORT = "support@shop.example"
LEAD = "lead@shop.example"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        company_name="Shop Example",
        support_address=SUPPORT,
        public_base_url="https://help.shop.example",
        role_addresses={"support-lead": LEAD},
        secret_key="test-secret",
    )


@pytest.fixture
def library(session: Session) -> Iterator[Session]:
    """The session, with every built-in SOP published (as `sopdesk init` does)."""
    do_load_library(session, now=MONDAY - timedelta(days=30))
    yield session


def email(
    subject: str,
    body: str,
    *,
    sender: str = "Ann Lee <ann@customer.example>",
    message_id: str = "<m1@customer.example>",
    headers: str = "",
) -> bytes:
    """A plain-text customer e-mail as CRLF bytes."""
    text = (
        f"From: {sender}\nTo: {SUPPORT}\nSubject: {subject}\nMessage-ID: {message_id}\n"
        f"Date: Mon, 2 Mar 2026 10:00:00 +0000\n{headers}"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
    return text.replace("\n", "\r\n").encode()


def start_return(session: Session, settings: Settings) -> int:
    """A return request e-mailed in on Monday 10:00: the returns SOP starts; the case id."""
    raw = email("I want to return my shoes", "Wrong size, I would like a refund please.")
    result = do_receive_email(session, raw, received_at=MONDAY, settings=settings)
    assert result.case_id is not None
    return result.case_id


def fire_due(session: Session, until: datetime, settings: Settings) -> int:
    """The worker's job up to `until`: fire each pending timer at its own due instant."""
    for fired in range(500):
        timer = session.scalar(
            select(TimerRow)
            .where(TimerRow.status == "pending", TimerRow.due_at <= until)
            .order_by(TimerRow.due_at, TimerRow.id)
            .limit(1)
        )
        if timer is None:
            return fired
        do_fire_timer(session, timer.id, now=timer.due_at, worker_id="test", settings=settings)
    raise AssertionError("timers keep firing")


def events(session: Session, case_id: int, kind: str | None = None) -> list[CaseEventRow]:
    query = select(CaseEventRow).where(CaseEventRow.case_id == case_id)
    if kind is not None:
        query = query.where(CaseEventRow.kind == kind)
    return list(session.scalars(query.order_by(CaseEventRow.id)))


def outbox(session: Session, case_id: int | None = None) -> list[OutboxRow]:
    query = select(OutboxRow).order_by(OutboxRow.id)
    if case_id is not None:
        query = query.where(OutboxRow.case_id == case_id)
    return list(session.scalars(query))


def timers(session: Session, case_id: int) -> dict[str, TimerRow]:
    rows = session.scalars(select(TimerRow).where(TimerRow.case_id == case_id))
    return {row.key: row for row in rows}
