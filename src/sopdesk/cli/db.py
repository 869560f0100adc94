"""`sopdesk init` and `sopdesk db ...`: create, upgrade and inspect the database.

Also the one helper every command that needs the database uses, `open_session()`,
which turns connection and schema problems into `SopdeskError`s with a next step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sopdesk.actions.sop_files import Outcome, do_load_library
from sopdesk.cli.app import app
from sopdesk.errors import SopdeskError
from sopdesk.settings import Settings
from sopdesk.store import (
    create_engine_for,
    current_revision,
    head_revision,
    require_current,
    session_factory,
    upgrade,
)

db_app = typer.Typer(help="Create, upgrade and inspect the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def display_url(url: str) -> str:
    """The database URL with any password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def open_engine(*, check: bool = True, create: bool = False) -> Iterator[Engine]:
    """The engine for the configured database; `check` requires the schema at head."""
    url = Settings().resolved_database_url
    _refuse_missing_sqlite(url, create=create)
    engine = create_engine_for(url)
    try:
        if check:
            require_current(engine)
        yield engine
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise SopdeskError(
            f"cannot use the database at {display_url(url)}: {reason}",
            code="database_unavailable",
            status=503,
            hint="check SOPDESK_DATABASE_URL, and that the server is running",
        ) from None
    finally:
        engine.dispose()


@contextmanager
def open_session() -> Iterator[Session]:
    """A session on the configured, up-to-date database."""
    with open_engine() as engine, session_factory(engine)() as session:
        yield session


def _refuse_missing_sqlite(url: str, *, create: bool) -> None:
    parsed = make_url(url)
    if create or parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database != ":memory:" and not Path(parsed.database).exists():
        raise SopdeskError(
            f"there is no database at {parsed.database}",
            code="database_not_initialised",
            hint="run 'sopdesk init' to create it (or set SOPDESK_DATA_DIR / SOPDESK_DATABASE_URL)",
        )


@app.command()
def init(
    library: bool = typer.Option(
        True, "--library/--no-library", help="Load and publish the built-in SOP library."
    ),
) -> None:
    """Create or upgrade the database and publish the built-in SOP library.

    Uses SQLite at SOPDESK_DATA_DIR/sopdesk.db unless SOPDESK_DATABASE_URL is set.
    Safe to run again: SOPs already in the database are never changed.
    """
    with open_engine(check=False, create=True) as engine:
        before, after = upgrade(engine)
        url = display_url(str(engine.url.render_as_string(hide_password=False)))
        typer.echo(f"Database: {url}")
        typer.echo(f"  schema {after}" + _upgrade_note(before, after))
        if not library:
            return
        with session_factory(engine)() as session:
            report = do_load_library(session)
    added, present = report.count(Outcome.ADDED), report.count(Outcome.UNCHANGED)
    noun = "SOP" if added == 1 else "SOPs"
    typer.echo(f"Library: {added} {noun} added and published, {present} already present")
    for item in report.items:
        if item.outcome is Outcome.INVALID:
            typer.echo(f"  not loaded: {item.path}", err=True)
            for finding in item.findings:
                typer.echo(f"    {finding}", err=True)
    if not report.ok:
        raise SopdeskError("some built-in SOPs could not be loaded", hint="report this as a bug")


def _upgrade_note(before: str | None, after: str | None) -> str:
    if before is None:
        return " (created)"
    if before != after:
        return f" (upgraded from {before})"
    return " (up to date)"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply any pending schema migrations (back up the database first)."""
    with open_engine(check=False, create=True) as engine:
        before, after = upgrade(engine)
    if before == after:
        typer.echo(f"Already at {after}; nothing to do.")
    else:
        typer.echo(f"Upgraded from {before or 'an empty database'} to {after}.")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and whether it is up to date."""
    with open_engine(check=False) as engine:
        url = display_url(engine.url.render_as_string(hide_password=False))
        current = current_revision(engine)
    head = head_revision()
    typer.echo(f"Database: {url}")
    if current is None:
        typer.echo(f"Schema: none (empty database; run 'sopdesk init'); latest is {head}")
    elif current == head:
        typer.echo(f"Schema: {current} (up to date)")
    else:
        typer.echo(f"Schema: {current}; latest is {head} (run 'sopdesk db upgrade')")
