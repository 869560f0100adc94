"""`sopdesk mail serve` (an SMTP listener) and `sopdesk mail poll` (IMAP polling).

Both store every message through `do_receive_email` before they acknowledge it: the
SMTP listener answers 250 only after the message is stored (451 on a storage failure,
so the sender retries); the poller flags a message `\\Seen` only after it is stored.
See docs/mail-setup.md.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from sopdesk.actions.base import utcnow
from sopdesk.actions.intake import IntakeResult, do_receive_email
from sopdesk.channels.imap_poll import ImapAccount, ImapError, connect, poll_once
from sopdesk.channels.imap_poll import token_from_command as oauth2_token_command
from sopdesk.channels.smtp_server import (
    DEFAULT_MAX_SIZE,
    IntakeHandler,
    address_filter,
    start_smtp_server,
)
from sopdesk.cli.app import app
from sopdesk.cli.db import open_engine
from sopdesk.errors import InvalidInput
from sopdesk.process import start_process
from sopdesk.settings import Settings
from sopdesk.store import session_factory

mail_app = typer.Typer(
    help="Receive customer e-mail: an SMTP listener, or IMAP polling.", no_args_is_help=True
)
app.add_typer(mail_app, name="mail")
log = logging.getLogger("sopdesk.mail")


def describe_result(result: IntakeResult) -> str:
    """The reference a sender sees in our 250 reply (and the log)."""
    if result.quarantine_id is not None:
        return f"quarantine #{result.quarantine_id}"
    return f"{result.case_reference or 'case'} ({result.outcome})"


def intake_store(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
) -> Callable[[bytes], IntakeResult]:
    """Store one raw message with `do_receive_email` in its own session."""
    ours = (settings.support_address, *settings.support_addresses)

    def store(raw: bytes) -> IntakeResult:
        with sessions() as session:
            return do_receive_email(
                session, raw, received_at=clock(), our_addresses=ours, settings=settings
            )

    return store


def _wait_for_stop() -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


@mail_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(2525, "--port", min=0, max=65535, help="TCP port (25 needs root)."),
    max_size: int = typer.Option(
        DEFAULT_MAX_SIZE // (1024 * 1024), "--max-size", min=1, help="Largest message, in MB."
    ),
    rcpt: Annotated[
        list[str] | None,
        typer.Option(
            "--rcpt",
            help="Accept mail only for this address or @domain (repeatable); default: any.",
        ),
    ] = None,
) -> None:
    """Accept mail over SMTP and open or update cases; stop with Ctrl-C or SIGTERM."""
    settings = Settings()
    start_process(settings)
    with open_engine() as engine:
        store = intake_store(session_factory(engine), settings)
        threads = 1 if engine.dialect.name == "sqlite" else 4
        handler = IntakeHandler(
            lambda raw, _sender, _rcpts: describe_result(store(raw)),
            accept=address_filter(tuple(rcpt or ())),
            threads=threads,
        )
        controller = start_smtp_server(
            handler, host=host, port=port, max_size=max_size * 1024 * 1024
        )
        typer.echo(f"sopdesk mail: SMTP on {host}:{controller.port} (Ctrl+C to stop)", err=True)
        try:
            _wait_for_stop()
        finally:
            controller.stop()
            handler.close()


@mail_app.command("poll")
def poll(
    host: str = typer.Option(..., "--host", help="IMAP server, e.g. outlook.office365.com."),
    user: str = typer.Option(..., "--user", help="Mailbox login, e.g. support@shop.example."),
    port: int = typer.Option(993, "--port", min=1, max=65535, help="IMAP port."),
    no_ssl: bool = typer.Option(False, "--no-ssl", help="Plain IMAP (a local test server)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    oauth2_token_cmd: str = typer.Option(
        "", "--oauth2-token-cmd", help="Command that prints an OAuth2 access token (XOAUTH2)."
    ),
    folder: str = typer.Option("INBOX", "--folder", help="Folder to read."),
    move_to: str = typer.Option("", "--move-to", help="Move stored mail to this folder."),
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between polls."),
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
) -> None:
    """Fetch unseen mail over IMAP, store it, then flag it Seen (or move it)."""
    if password_stdin == bool(oauth2_token_cmd):
        raise InvalidInput("give exactly one of --password-stdin and --oauth2-token-cmd")
    settings = Settings()
    start_process(settings)
    account = ImapAccount(
        host=host,
        user=user,
        port=port,
        ssl=not no_ssl,
        folder=folder,
        move_to=move_to or None,
        password=sys.stdin.readline().rstrip("\r\n") if password_stdin else None,
        oauth2_token=oauth2_token_command(oauth2_token_cmd) if oauth2_token_cmd else None,
    )
    with open_engine() as engine:
        store = intake_store(session_factory(engine), settings)
        stop = threading.Event()
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        while True:
            try:
                with connect(account) as mailbox:
                    result = poll_once(mailbox, lambda raw: describe_result(store(raw)))
                typer.echo(f"stored {len(result.stored)}, failed {len(result.failed)}", err=True)
            except ImapError as exc:
                if once:
                    raise
                log.warning("%s; trying again in %.0f s", exc.message, interval)
            if once or stop.wait(interval):
                return
