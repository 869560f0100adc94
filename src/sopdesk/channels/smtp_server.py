"""The SMTP listener (`sopdesk mail serve`): aiosmtpd in front of the intake action.

Every message is stored before the server answers 250: the handler hands the raw
bytes to a `store` callable (in a worker thread, so the event loop keeps serving) and
only a successful return gives `250 2.0.0`. A storage failure answers `451 4.3.0`, so
the sending server keeps the message and retries later: mail is never lost between
"accepted" and "stored". Messages over `max_size` bytes are refused with aiosmtpd's
552 replies (at `MAIL FROM ... SIZE=` when the client declares it, else after DATA).
With `accept` set, RCPT TO an address that is not ours is refused with 550 5.1.1.
This listener never relays: it only stores.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("sopdesk.mail.smtp")

DEFAULT_MAX_SIZE = 30 * 1024 * 1024  # bytes on the wire; a 20 MB attachment fits
StoreMessage = Callable[[bytes, str, tuple[str, ...]], str]
"""`store(raw, mail_from, rcpt_tos) -> reference` (for the 250 line); raises to refuse."""


class IntakeHandler:
    """aiosmtpd handler: accept RCPT for our addresses, store DATA, then answer."""

    def __init__(
        self,
        store: StoreMessage,
        *,
        accept: Callable[[str], bool] | None = None,
        threads: int = 2,
    ) -> None:
        self.store = store
        self.accept = accept
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="smtp-store")

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.accept is not None and not self.accept(address):
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):  # only with decode_data=True, which we never set
            raw = raw.encode("utf-8", "surrogateescape")
        rcpts = tuple(envelope.rcpt_tos)
        loop = asyncio.get_running_loop()
        try:
            reference = await loop.run_in_executor(
                self.executor, self.store, raw, envelope.mail_from or "", rcpts
            )
        except Exception:
            log.exception("could not store a message from %s; answered 451", envelope.mail_from)
            return "451 4.3.0 Could not store the message now; please try again later"
        return f"250 2.0.0 Stored as {reference}"

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class IntakeController(Controller):
    """aiosmtpd's threaded Controller; with `port=0` the OS picks a free port, which
    `port` holds after `start()`."""

    def _create_server(self) -> Any:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


def start_smtp_server(
    handler: IntakeHandler,
    *,
    host: str = "127.0.0.1",
    port: int = 2525,
    max_size: int = DEFAULT_MAX_SIZE,
    server_hostname: str | None = None,
) -> IntakeController:
    """Start listening in a background thread; call `.stop()` (then `handler.close()`)."""
    controller = IntakeController(
        handler,
        hostname=host,
        port=port,
        data_size_limit=max_size,
        server_hostname=server_hostname,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller


def address_filter(addresses: list[str] | tuple[str, ...]) -> Callable[[str], bool] | None:
    """RCPT filter: the addresses (case-insensitive) and any `@domain` entries given;
    None (accept all) when the list is empty."""
    exact = {a.casefold() for a in addresses if not a.startswith("@")}
    domains = {a.casefold() for a in addresses if a.startswith("@")}
    if not exact and not domains:
        return None

    def accept(address: str) -> bool:
        folded = address.strip("<> ").casefold()
        return folded in exact or "@" + folded.rpartition("@")[2] in domains

    return accept
