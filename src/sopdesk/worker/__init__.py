"""Timer and outbox loops: claim due rows, apply engine decisions, retry, dead-letter.

Functional core: `policy` (back-off, retry or dead-letter, from the error class) and
`outbox` (an outbox row → the exact e-mail bytes). Shell: `claim` (batches with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, leases, fencing), `runner` (the loop and its
graceful stop), `lock` (one worker per SQLite file), `status` (depth, lag, dead
letters), `background` (the worker as a thread inside `sopdesk serve`).
See docs/worker.md for what is guaranteed when a worker dies at any instant.
"""

from sopdesk.worker.claim import (
    ClaimedEmail,
    ClaimedTimer,
    claim_outbox,
    claim_timers,
    reclaim_expired,
)
from sopdesk.worker.lock import WorkerLockHeld, single_worker_lock
from sopdesk.worker.policy import RetryPolicy, backoff_delay, classify, decide
from sopdesk.worker.runner import RoundStats, Worker, WorkerConfig
from sopdesk.worker.status import QueueStatus, outbox_status, retry_dead, timer_status

__all__ = [
    "ClaimedEmail",
    "ClaimedTimer",
    "QueueStatus",
    "RetryPolicy",
    "RoundStats",
    "Worker",
    "WorkerConfig",
    "WorkerLockHeld",
    "backoff_delay",
    "claim_outbox",
    "claim_timers",
    "classify",
    "decide",
    "outbox_status",
    "reclaim_expired",
    "retry_dead",
    "single_worker_lock",
    "timer_status",
]
