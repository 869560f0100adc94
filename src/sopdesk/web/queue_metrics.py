"""The database's side of /metrics: queues, breaches and open cases, read at scrape time.

These figures are facts about the shared database, not about one process, so they are
computed by whichever process answers the scrape (once per scrape, even with `serve
--workers N` or several machines) rather than kept as per-process gauges. A snapshot
is cached for `metrics_cache_seconds` (5 s) so a burst of scrapes, or several
Prometheus servers, costs one round of queries.

Every query is a count or a min over an indexed prefix (`ix_timers_status_due_at`,
`ix_outbox_status_next_attempt_at`, `ix_cases_status_next_due_at`,
`ix_case_events_kind_at`); docs/deploy.md has the measured cost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sopdesk.store.tables import (
    CaseEventRow,
    CaseRow,
    CaseStatusValue,
)
from sopdesk.worker.status import QueueStatus, outbox_status, timer_status, webhook_status

log = logging.getLogger("sopdesk.metrics")

FINISHED = (CaseStatusValue.RESOLVED.value, CaseStatusValue.CLOSED.value)
OPEN_STATUSES = tuple(s.value for s in CaseStatusValue if s.value not in FINISHED)
BREACH_EVENT = "sla.breached"


@dataclass(frozen=True)
class Snapshot:
    """What the database says at `now`, for one scrape."""

    now: datetime
    queues: dict[str, QueueStatus]
    cases_open: dict[str, int]
    cases_breached: int
    breaches_total: int


# --- the queries (shell) --------------------------------------------------------------


def read_snapshot(session: Session, now: datetime) -> Snapshot:
    """Run the scrape's queries: three queues, open cases by status, breaches."""
    queues = {
        "timers": timer_status(session, now),
        "email": outbox_status(session, now),
        "webhook": webhook_status(session, now),
    }
    counts = dict(
        session.execute(
            select(CaseRow.status, func.count())
            .where(CaseRow.status.in_(OPEN_STATUSES))
            .group_by(CaseRow.status)
        ).all()
    )
    breached = session.scalar(
        select(func.count())
        .select_from(CaseRow)
        .where(CaseRow.status.in_(OPEN_STATUSES), CaseRow.next_due_at <= now)
    )
    breaches = session.scalar(
        select(func.count()).select_from(CaseEventRow).where(CaseEventRow.kind == BREACH_EVENT)
    )
    return Snapshot(
        now=now,
        queues=queues,
        cases_open={status: int(counts.get(status, 0)) for status in OPEN_STATUSES},
        cases_breached=int(breached or 0),
        breaches_total=int(breaches or 0),
    )


# --- the metric families (pure) -------------------------------------------------------


def families(snapshot: Snapshot | None) -> list[Metric]:
    """The exposition of `snapshot`; None (the database did not answer): `up` 0 only."""
    up = GaugeMetricFamily(
        "sopdesk_database_up", "1 when the database answered this scrape's queries, else 0."
    )
    up.add_metric([], 0.0 if snapshot is None else 1.0)
    if snapshot is None:
        return [up]
    depth = GaugeMetricFamily(
        "sopdesk_queue_depth",
        "Rows waiting in a queue: due (claimable now), scheduled (later or backing off), "
        "running (claimed by a worker).",
        labels=("queue", "state"),
    )
    lag = GaugeMetricFamily(
        "sopdesk_queue_lag_seconds",
        "Now minus the oldest due time among rows claimable now (0 while workers keep up).",
        labels=("queue",),
    )
    retrying = GaugeMetricFamily(
        "sopdesk_queue_retrying",
        "Rows that failed before and wait to be retried.",
        labels=("queue",),
    )
    dead = GaugeMetricFamily(
        "sopdesk_queue_dead",
        "Dead letters: rows given up on ('sopdesk worker retry-dead' requeues them).",
        labels=("queue",),
    )
    for name, queue in snapshot.queues.items():
        depth.add_metric([name, "due"], queue.due)
        depth.add_metric([name, "scheduled"], queue.scheduled)
        depth.add_metric([name, "running"], queue.in_flight)
        lag.add_metric([name], queue.lag_seconds)
        retrying.add_metric([name], queue.retrying)
        dead.add_metric([name], queue.dead)
    open_cases = GaugeMetricFamily(
        "sopdesk_cases_open", "Cases not resolved or closed, by status.", labels=("status",)
    )
    for status, count in snapshot.cases_open.items():
        open_cases.add_metric([status], count)
    breached = GaugeMetricFamily(
        "sopdesk_cases_breached",
        "Open cases whose earliest due time has passed (the inbox's Breached view).",
    )
    breached.add_metric([], snapshot.cases_breached)
    breaches = CounterMetricFamily(
        "sopdesk_sla_breaches",
        "SLA breaches recorded: sla.breached events in the case log.",
    )
    breaches.add_metric([], snapshot.breaches_total)
    return [up, depth, lag, retrying, dead, open_cases, breached, breaches]


# --- the collector --------------------------------------------------------------------


class DatabaseCollector(Collector):
    """A prometheus_client collector that reads a (cached) `Snapshot` per scrape.

    A database that does not answer gives `sopdesk_database_up 0` rather than a failed
    scrape: the request counters still matter most exactly then.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Callable[[], datetime],
        *,
        cache_seconds: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, Snapshot] | None = None

    def snapshot(self) -> Snapshot | None:
        with self._lock:
            tick = time.monotonic()
            if self._cached is not None and tick - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            try:
                with self.sessions() as session:
                    snapshot = read_snapshot(session, self.clock())
            except SQLAlchemyError as exc:
                log.warning("metrics: the database did not answer: %s", type(exc).__name__)
                self._cached = None
                return None
            self._cached = (tick, snapshot)
            return snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self.snapshot())
