"""Helpers for the worker tests: rows written as the actions layer writes them, a fake
`do_fire_timer` with a visible effect, and a real aiosmtpd sink on an ephemeral port."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sopdesk.channels.email_out import SmtpConfig
from sopdesk.store.tables import CaseEventRow, OutboxRow, TimerRow, TimerStatus
from sopdesk.worker.runner import WorkerConfig


class Clock:
    """A worker's clock that tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


SECRET = "test-secret"


def add_timers(session: Session, count: int, due_at: datetime, *, prefix: str = "t") -> None:
    session.add_all(
        TimerRow(
            key=f"{prefix}:{i}",
            kind="test",
            due_at=due_at + timedelta(microseconds=i),
            status="pending",
            attempts=0,
            payload={},
            created_at=due_at,
        )
        for i in range(count)
    )
    session.commit()


def email_payload(to: str = "ann@customer.example", subject: str = "Hello") -> dict[str, Any]:
    return {
        "sender": {"address": "support@shop.example", "name": "Shop"},
        "to": [{"address": to, "name": "Ann"}],
        "cc": [],
        "subject": subject,
        "text": "We have your request.",
        "html": None,
        "in_reply_to": "<cust-1@customer.example>",
        "references": ["<cust-1@customer.example>"],
        "case_reference": "SD-1",
        "automatic": True,
        "message_id_domain": "shop.example",
    }


def add_emails(
    session: Session, count: int, created_at: datetime, *, prefix: str = "m", **payload: Any
) -> None:
    session.add_all(
        OutboxRow(
            key=f"{prefix}:{i}",
            kind="email",
            payload=email_payload(**payload),
            status="pending",
            attempts=0,
            next_attempt_at=created_at,
            created_at=created_at,
        )
        for i in range(count)
    )
    session.commit()


def fake_fire_timer(session: Session, timer_id: int, /, *, now: datetime, worker_id: str) -> None:
    """What `do_fire_timer` promises: the effect and `done` in one transaction, and
    nothing for a timer that is not (or no longer) ours to run."""
    timer = session.get(TimerRow, timer_id, with_for_update=True)
    assert timer is not None
    if timer.status != TimerStatus.RUNNING.value or timer.locked_by != worker_id:
        session.rollback()
        return
    session.add(CaseEventRow(at=now, actor=worker_id, kind="timer_fired", data={"key": timer.key}))
    session.execute(
        update(TimerRow)
        .where(TimerRow.id == timer_id)
        .values(status="done", fired_at=now, locked_by=None, locked_until=None)
    )
    session.commit()


def fired_counts(session: Session) -> Counter[str]:
    rows = session.scalars(select(CaseEventRow.data).where(CaseEventRow.kind == "timer_fired"))
    return Counter(str(data["key"]) for data in rows)


def count_status(session: Session, table: Any, status: str) -> int:
    return int(session.scalar(select(func.count()).where(table.status == status)) or 0)


def config(worker_id: str = "w1", **changes: Any) -> WorkerConfig:
    return WorkerConfig(worker_id=worker_id, secret=SECRET, **changes)


# --- a real SMTP sink ---------------------------------------------------------------


@dataclass
class Sink:
    """Counts the Message-IDs it accepts. `replies` are popped one per DATA command
    (e.g. ["451 4.7.1 try later"]) before it starts answering 250."""

    replies: list[str] = field(default_factory=list)
    message_ids: Counter[str] = field(default_factory=Counter)
    messages: list[bytes] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1  # one EHLO per connection from aiosmtplib
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
            content = envelope.original_content or envelope.content
            self.messages.append(content)
            self.message_ids[str(message_from_bytes(content)["Message-ID"])] += 1
        return "250 2.0.0 accepted"


class EphemeralController(Controller):
    """aiosmtpd's Controller on port 0; `port` is the one the OS picked."""

    def _create_server(self) -> Any:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


@contextmanager
def smtp_sink(sink: Sink | None = None) -> Iterator[tuple[Sink, SmtpConfig]]:
    handler = sink or Sink()
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        yield handler, SmtpConfig(host="127.0.0.1", port=controller.port, timeout=5)
    finally:
        controller.stop()
