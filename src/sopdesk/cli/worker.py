"""`sopdesk worker`: run timers and the e-mail outbox; `status`; `retry-dead`.

PostgreSQL: run as many workers as you like, on any machines. SQLite: one worker per
database (a file lock enforces it); `sopdesk serve` runs it in-process by default.
SIGTERM or Ctrl-C finishes the current batch (up to --shutdown-grace seconds), gives
back what is left of it, and exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from datetime import timedelta
from types import FrameType
from typing import Annotated

import typer

from sopdesk.actions.base import utcnow
from sopdesk.channels.email_out import SmtpConfig
from sopdesk.cli.app import app
from sopdesk.cli.db import open_engine
from sopdesk.logs import bind as bind_log_context
from sopdesk.process import start_process
from sopdesk.settings import Settings
from sopdesk.store import session_factory
from sopdesk.worker.claim import DEFAULT_BATCH, DEFAULT_TIMER_BATCH
from sopdesk.worker.lock import single_worker_lock
from sopdesk.worker.runner import (
    Worker,
    WorkerConfig,
    default_fire_timer,
    default_housekeeping,
    smtp_deliver,
)
from sopdesk.worker.status import dead_letters, outbox_status, retry_dead, timer_status

worker_app = typer.Typer(
    help="Run timers and the e-mail outbox; show queue depth, lag and dead letters.",
    invoke_without_command=True,
)
app.add_typer(worker_app, name="worker")


def default_worker_id() -> str:
    """`host:pid`: unique among running workers, new after every restart."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_config(
    settings: Settings,
    *,
    worker_id: str,
    batch: int = DEFAULT_BATCH,
    timer_batch: int = DEFAULT_TIMER_BATCH,
    poll_interval: float = 1.0,
    lease: float = 60.0,
    shutdown_grace: float = 10.0,
    only_worker: bool = False,
) -> WorkerConfig:
    """The worker's settings from server settings plus command-line choices."""
    return WorkerConfig(
        worker_id=worker_id,
        secret=settings.secret_key,
        batch=batch,
        timer_batch=timer_batch,
        lease=timedelta(seconds=lease),
        poll_interval=poll_interval,
        shutdown_grace=shutdown_grace,
        send_timeout=SmtpConfig.from_url(settings.smtp_url).timeout if settings.smtp_url else 30,
        reclaim_all_at_start=only_worker,
    )


@worker_app.callback()
def worker(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run one round (one batch each) and exit."),
    batch: int = typer.Option(
        DEFAULT_BATCH,
        "--batch",
        min=1,
        max=10_000,
        help="E-mails and webhook deliveries claimed at a time.",
    ),
    timer_batch: int = typer.Option(
        DEFAULT_TIMER_BATCH,
        "--timer-batch",
        min=1,
        max=10_000,
        help="Due timers claimed at a time (fired in slices of up to 300).",
    ),
    poll_interval: float = typer.Option(
        1.0,
        "--poll-interval",
        min=0.01,
        help="Longest sleep when nothing is due (an idle worker wakes when the next timer is).",
    ),
    worker_id: str = typer.Option(
        "", "--id", help="Name of this worker in leases and logs (default host:pid)."
    ),
    lease: float = typer.Option(
        60.0, "--lease", min=1.0, help="Seconds a claim lasts before a dead worker's rows return."
    ),
    shutdown_grace: float = typer.Option(
        10.0, "--shutdown-grace", min=0.0, help="Seconds to finish a batch after SIGTERM."
    ),
) -> None:
    """Run due timers and send queued e-mail until stopped (SIGTERM / Ctrl-C)."""
    if ctx.invoked_subcommand:
        return
    settings = Settings()
    start_process(settings)
    deliver = smtp_deliver(SmtpConfig.from_url(settings.smtp_url)) if settings.smtp_url else None
    if deliver is None:
        typer.echo("sopdesk worker: SOPDESK_SMTP_URL is not set; e-mail stays queued", err=True)
    url = settings.resolved_database_url
    with open_engine() as engine, single_worker_lock(url) as only_worker:
        config = worker_config(
            settings,
            worker_id=worker_id or default_worker_id(),
            batch=batch,
            timer_batch=timer_batch,
            poll_interval=poll_interval,
            lease=lease,
            shutdown_grace=shutdown_grace,
            only_worker=only_worker,
        )
        bind_log_context(worker_id=config.worker_id)  # on every line this worker logs
        runner = Worker(
            session_factory(engine),
            config,
            deliver=deliver,
            fire_timer=default_fire_timer(settings),
            housekeeping=default_housekeeping(settings),
        )
        if once:
            stats = runner.run_once()
            closed = f", closed {stats.closed} resolved case(s)" if stats.closed else ""
            typer.echo(
                f"fired {stats.fired} timers, sent {stats.sent} e-mails, "
                f"{stats.timer_failures + stats.email_failures} failed, {stats.dead} dead{closed}"
            )
            return
        _install_stop_handlers(runner)
        typer.echo(f"sopdesk worker {config.worker_id}: started", err=True)
        runner.run()
        typer.echo(f"sopdesk worker {config.worker_id}: stopped", err=True)


def _install_stop_handlers(runner: Worker) -> None:
    def stop(signum: int, _frame: FrameType | None) -> None:
        if runner.stopping:  # a second signal: stop now; leases return the rows later
            raise SystemExit(128 + signum)
        typer.echo(f"sopdesk worker: {signal.Signals(signum).name}, finishing batch", err=True)
        runner.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


@worker_app.command("status")
def status(
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Queue depth, lag (now minus the oldest due time) and dead letters."""
    if output not in ("text", "json"):
        raise typer.BadParameter("--format is text or json")
    now = utcnow()
    with open_engine() as engine, session_factory(engine)() as session:
        queues = [timer_status(session, now), outbox_status(session, now)]
        dead = dead_letters(session)
    if output == "json":
        data = {
            "now": now.isoformat(),
            "queues": {q.name: q.as_json() for q in queues},
            "dead_letters": [vars(d) for d in dead],
        }
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{'queue':8} {'due':>7} {'later':>7} {'running':>7} {'retry':>7} {'dead':>6}  lag")
    for q in queues:
        typer.echo(
            f"{q.name:8} {q.due:>7} {q.scheduled:>7} {q.in_flight:>7} {q.retrying:>7} "
            f"{q.dead:>6}  {q.lag_seconds:.0f}s"
        )
    for d in dead:
        typer.echo(f"dead {d.queue} #{d.id} {d.key} after {d.attempts} attempts: {d.last_error}")


@worker_app.command("retry-dead")
def retry_dead_command(
    queue: str = typer.Option("all", "--queue", help="timers, outbox or all."),
    ids: Annotated[
        list[int] | None, typer.Option("--row", help="Only this row id (repeatable).")
    ] = None,
) -> None:
    """Put dead-lettered timers and e-mails back in their queue with fresh attempts."""
    if queue not in ("timers", "outbox", "all"):
        raise typer.BadParameter("--queue is timers, outbox or all")
    with open_engine() as engine, session_factory(engine)() as session:
        counts = retry_dead(session, utcnow(), queue=queue, ids=tuple(ids or ()))
    typer.echo(f"requeued {counts['timers']} timers and {counts['outbox']} e-mails")
