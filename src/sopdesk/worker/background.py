"""The worker as a background thread of `sopdesk serve` (the SQLite set-up).

On SQLite one worker runs per database, and the simplest place for it is the web
server's process. `BackgroundWorker.start()` takes the SQLite worker lock; when a
standalone `sopdesk worker` already holds it, the web server runs without one and
says so. `stop()` asks the loop to finish its batch and waits for it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import ExitStack

from sqlalchemy import Engine

from sopdesk.channels.email_out import SmtpConfig
from sopdesk.settings import Settings
from sopdesk.store import session_factory
from sopdesk.worker.lock import WorkerLockHeld, single_worker_lock
from sopdesk.worker.runner import (
    Worker,
    WorkerConfig,
    default_fire_timer,
    default_housekeeping,
    smtp_deliver,
)

log = logging.getLogger("sopdesk.worker")


class BackgroundWorker:
    """One `Worker.run()` loop in a daemon thread, holding the SQLite worker lock."""

    def __init__(self, engine: Engine, settings: Settings, *, poll_interval: float = 1.0) -> None:
        self.engine = engine
        self.settings = settings
        self.poll_interval = poll_interval
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._stack = ExitStack()

    def start(self) -> bool:
        """Start the loop; False (and a log line) when another worker holds the lock."""
        url = self.engine.url.render_as_string(hide_password=False)
        try:
            only = self._stack.enter_context(single_worker_lock(url))
        except WorkerLockHeld as exc:
            log.warning("not running the in-process worker: %s", exc.message)
            return False
        smtp = self.settings.smtp_url
        config = WorkerConfig(
            worker_id=f"{socket.gethostname()}:{os.getpid()}:serve",
            secret=self.settings.secret_key,
            poll_interval=self.poll_interval,
            send_timeout=SmtpConfig.from_url(smtp).timeout if smtp else 30.0,
            reclaim_all_at_start=only,
        )
        self.worker = Worker(
            session_factory(self.engine),
            config,
            deliver=smtp_deliver(SmtpConfig.from_url(smtp)) if smtp else None,
            fire_timer=default_fire_timer(self.settings),
            housekeeping=default_housekeeping(self.settings),
        )
        self._thread = threading.Thread(target=self.worker.run, name="sopdesk-worker", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current batch (up to the worker's shutdown grace) and release."""
        if self.worker is not None and self._thread is not None:
            self.worker.request_stop()
            self._thread.join(timeout)
        self._stack.close()
