"""`sopdesk serve`: run the web app with Uvicorn, in one process or `--workers N`.

One process (the default) is what it always was: the app object handed to Uvicorn,
with the in-process worker on SQLite. `--workers N` (N > 1) starts N Uvicorn processes
from the `sopdesk.web.app:app_from_env` factory; it needs PostgreSQL (SQLite has one
writer) and serves the web only, because N in-process workers would be N workers
started and stopped with the web server: the worker runs as `sopdesk worker`, a
service of its own (docs/deploy.md). Prometheus counters of the N processes are summed
through `PROMETHEUS_MULTIPROC_DIR`, a fresh temporary folder unless the operator set
one (then it is emptied at start).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from sopdesk.cli.app import app
from sopdesk.cli.db import open_engine
from sopdesk.errors import InvalidInput
from sopdesk.process import start_process
from sopdesk.settings import Settings, exposed_secret_problem

APP_FACTORY = "sopdesk.web.app:app_from_env"
STARTUP_SECONDS = 30
"""How long Uvicorn's supervisor waits for a process to answer its health ping: a busy
machine can take more than its default 5 s to import the app, and a process that
misses the ping is killed and replaced (again and again)."""
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger("sopdesk.serve")


def workers_problem(workers: int, database_url: str, with_worker: bool | None) -> str | None:
    """Why `--workers N` cannot run with these settings (None: it can)."""
    if workers == 1:
        return None
    if make_url(database_url).get_backend_name() == "sqlite":
        return (
            f"--workers {workers} needs PostgreSQL: SQLite lets one process write at a "
            "time, so several web processes would queue on its lock (and the worker "
            "must be the only one on the file)"
        )
    if with_worker:
        return (
            f"--workers {workers} serves the web only; it cannot run the in-process "
            "worker (--with-worker) once per process"
        )
    return None


def _hint(database_url: str) -> str:
    if make_url(database_url).get_backend_name() == "sqlite":
        return (
            "drop --workers (one process serves a team well on SQLite), or move to "
            "PostgreSQL with SOPDESK_DATABASE_URL (docs/deploy.md)"
        )
    return "drop --with-worker and run 'sopdesk worker' as its own service (docs/worker.md)"


@contextmanager
def metrics_dir(environ: MutableMapping[str, str], workers: int) -> Iterator[str | None]:
    """The folder where every process writes its Prometheus counters, set in `environ`
    before Uvicorn starts its processes (they inherit it).

    An operator's `PROMETHEUS_MULTIPROC_DIR` is emptied of old counter files and kept;
    otherwise, with N > 1, a temporary folder is made and removed when serving stops.
    """
    given = environ.get(METRICS_DIR_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # counters of a previous run would add up
            stale.unlink()
        yield given
        return
    if workers == 1:
        yield None
        return
    made = tempfile.mkdtemp(prefix="sopdesk-metrics-")
    environ[METRICS_DIR_ENV] = made
    try:
        yield made
    finally:
        environ.pop(METRICS_DIR_ENV, None)
        shutil.rmtree(made, ignore_errors=True)


def tcp_socket(sock: socket.socket) -> socket.socket:
    """`sock` as a socket object whose protocol is TCP, so that asyncio turns Nagle's
    algorithm off on every connection it accepts (`TCP_NODELAY`).

    Uvicorn binds the socket of `--workers N` itself with `socket.socket(family=...)`:
    protocol 0, which the kernel treats as TCP but asyncio does not — it sets
    `TCP_NODELAY` only when `sock.proto == IPPROTO_TCP`, and accepted sockets inherit
    the listening object's protocol. Without it a response written as two segments
    (headers, then body) waits for the client's delayed ACK: ≈ 40 ms on every request
    but the first few of a keep-alive connection. One process does not go through
    here: `loop.create_server(host, port)` makes its sockets with the protocol set.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto != 0:
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    return tcp


def run_processes(workers: int, options: dict[str, object]) -> None:
    """`uvicorn.run(APP_FACTORY, factory=True, workers=N)`, with the listening socket
    made a TCP one (`tcp_socket`) before it is handed to the N processes."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=STARTUP_SECONDS,
        **options,  # type: ignore[arg-type]
    )
    sock = tcp_socket(config.bind_socket())
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:  # pragma: no cover - Ctrl+C in a terminal
        pass
    finally:
        sock.close()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    with_worker: bool | None = typer.Option(
        None,
        "--with-worker/--no-worker",
        help="Run timers and the outbox in this process (default: on for SQLite, off for "
        "PostgreSQL, where you run 'sopdesk worker').",
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Web server processes. More than 1 needs PostgreSQL and serves the web only: "
        "run 'sopdesk worker' as its own service.",
    ),
) -> None:
    """Serve the SOP library on http://HOST:PORT (run 'sopdesk init' first)."""
    import uvicorn

    settings = Settings()
    url = settings.resolved_database_url
    problem = workers_problem(workers, url, with_worker)
    if problem is not None:
        raise InvalidInput(problem, hint=_hint(url))
    weak = exposed_secret_problem(settings.secret_key, host, settings.public_base_url)
    if weak is not None:
        raise InvalidInput(
            f"{weak}; it signs customer links and session cookies",
            hint="set SOPDESK_SECRET_KEY to a long random value, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' "
            "(the same value for the web server and the worker)",
        )
    with open_engine():
        pass  # fail fast, with a next step, when the database is missing or outdated
    start_process(settings)
    options = {
        "host": host,
        "port": port,
        "log_config": None,  # logging is ours (sopdesk.logs), in every process
        "access_log": False,  # one access line per request comes from the app
        "log_level": settings.log_level.lower(),
    }
    log.info(  # a log record, so that stderr stays one JSON object per line
        "sopdesk: serving http://%s:%s/  (Ctrl+C to stop)", host, port, extra={"workers": workers}
    )
    with metrics_dir(os.environ, workers):
        if workers > 1:
            run_processes(workers, options)
            return
        from sopdesk.web.app import create_app

        if with_worker is None:
            with_worker = url.startswith("sqlite")
        uvicorn.run(create_app(settings, with_worker=with_worker), **options)
