"""One worker per SQLite database: an exclusive file lock next to the database file.

SQLite has no `SKIP LOCKED`; two workers would claim the same rows in turn and fight
over the single write lock. The worker (standalone or inside `sopdesk serve`) takes
`flock(LOCK_EX | LOCK_NB)` on `<database>-worker.lock`; the kernel drops the lock when
the process dies, even by SIGKILL, so a restarted worker gets it back at once and, as
the only worker, can reclaim every row left claimed without waiting for leases.
PostgreSQL needs no lock: any number of workers run.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from sopdesk.errors import Conflict


class WorkerLockHeld(Conflict):
    """Another worker already runs on this SQLite database."""

    code = "worker_running"


def lock_path(database_url: str) -> Path | None:
    """The lock file for a SQLite file URL; None for PostgreSQL or in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve().with_name(Path(database).name + "-worker.lock")


@contextmanager
def single_worker_lock(database_url: str) -> Iterator[bool]:
    """Hold the SQLite worker lock while inside; yields True when this process is known
    to be the only worker (SQLite), False when others may run too (PostgreSQL).

    Raises `WorkerLockHeld` when another process holds it.
    """
    path = lock_path(database_url)
    if path is None:
        yield make_url(database_url).get_backend_name() == "sqlite"
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise WorkerLockHeld(
                f"a worker already runs on this SQLite database (pid {holder})",
                hint="SQLite runs one worker; stop the other one or use PostgreSQL for more",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield True
    finally:
        os.close(fd)  # closing drops the lock
