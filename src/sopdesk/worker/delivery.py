"""Delivering one batch of e-mail over one SMTP connection (the worker's shell).

`email_out.send` opens a connection per message; a worker draining a backlog sends
a batch over one connection instead (fewer TCP and TLS handshakes, and relays that
rate-limit connections stay happy). The connection lives for one batch: `close()`
ends it, and the worker calls it after every batch, so no connection is left idle.
After any error the connection is dropped and the next message starts a new one.
Errors are mapped with `email_out.smtp.delivery_error`, exactly as `send` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from email.message import EmailMessage
from email.utils import getaddresses
from types import MappingProxyType
from typing import Protocol

import aiosmtplib

from sopdesk.channels.email_out import SendResult, SmtpConfig
from sopdesk.channels.email_out.smtp import delivery_error


class Delivery(Protocol):
    """Send one message (raising `DeliveryError`s); `close()` ends the batch."""

    def __call__(self, message: EmailMessage) -> SendResult: ...

    def close(self) -> None: ...


class SmtpBatch:
    """`Delivery` over SMTP, reusing one connection until `close()` or an error."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: aiosmtplib.SMTP | None = None

    def __call__(self, message: EmailMessage) -> SendResult:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._send(message))

    async def _send(self, message: EmailMessage) -> SendResult:
        try:
            client = await self._connected()
            errors, response = await client.send_message(message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            raise delivery_error(exc) from exc
        refused = {addr: (int(r.code), r.message) for addr, r in errors.items()}
        envelope = getaddresses(
            [str(v) for h in ("To", "Cc", "Bcc") for v in message.get_all(h, [])]
        )
        return SendResult(
            message_id=str(message.get("Message-ID", "")).strip("<> "),
            accepted=tuple(a for _, a in envelope if a and a not in refused),
            refused=MappingProxyType(refused),
            response=response,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        config = self.config
        self._client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout,
            validate_certs=config.validate_certs,
        )
        await self._client.connect()
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        """Say QUIT (best effort) and free the connection and its event loop."""
        if self._loop is None:
            return
        if self._client is not None and self._client.is_connected:
            with suppress(aiosmtplib.SMTPException, OSError):
                self._loop.run_until_complete(self._client.quit())
        self._drop()
        self._loop.close()
        self._loop = None


class OneShot:
    """`Delivery` from a plain function (tests, or `email_out.send_sync`)."""

    def __init__(self, send: Callable[[EmailMessage], SendResult]) -> None:
        self.send = send

    def __call__(self, message: EmailMessage) -> SendResult:
        return self.send(message)

    def close(self) -> None:
        """Nothing to free: each call had its own connection."""
