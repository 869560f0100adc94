"""`sopdesk serve`: run the web app with Uvicorn."""

from __future__ import annotations

import typer

from sopdesk.cli.app import app
from sopdesk.cli.db import open_engine
from sopdesk.settings import Settings


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
) -> None:
    """Serve the SOP library on http://HOST:PORT (run 'sopdesk init' first)."""
    import uvicorn

    from sopdesk.web.app import create_app

    settings = Settings()
    with open_engine():
        pass  # fail fast, with a next step, when the database is missing or outdated
    typer.echo(f"sopdesk: serving http://{host}:{port}/  (Ctrl+C to stop)", err=True)
    if with_worker is None:
        with_worker = settings.resolved_database_url.startswith("sqlite")
    app_ = create_app(settings, with_worker=with_worker)
    uvicorn.run(app_, host=host, port=port, log_level="info")
