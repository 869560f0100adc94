"""send() against a real SMTP server (aiosmtpd on 127.0.0.1, ephemeral port), and the
SMTP URL parser. Error mapping is checked against real server replies, not mocks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from sopdesk.channels.email_out import (
    Mailbox,
    OutgoingEmail,
    PermanentDeliveryError,
    SmtpConfig,
    SmtpConfigurationError,
    SmtpUrlError,
    TransientDeliveryError,
    compose,
    is_retryable,
    send,
    send_sync,
)
from sopdesk.channels.email_out.errors import InvalidMessageError
from sopdesk.channels.email_out.smtp import delivery_error

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
OUTGOING = OutgoingEmail(
    idempotency_key="outbox:7",
    sender=Mailbox("support@shop.example", "Acme Support"),
    to=(Mailbox("ann@customer.example", "Ann Lee"),),
    subject="We're here to help – Rückgabe",
    text="Hello Ann,\n.\n..a line starting with dots\nBye\n",
    in_reply_to="<abc@mail.customer.example>",
    case_reference="SD-1042",
    automatic=True,
)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class Sink:
    """An aiosmtpd handler that stores what it receives and can refuse on request."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content or envelope.content
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class EphemeralController(Controller):
    """aiosmtpd's Controller bound to port 0; `port` is the one the OS picked."""

    def _create_server(self) -> Any:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


def run_server(handler: Sink, **smtp_kwargs: Any) -> EphemeralController:
    controller = EphemeralController(handler, hostname="127.0.0.1", port=0, **smtp_kwargs)
    controller.start()
    return controller


@pytest.fixture
def sink() -> Iterator[tuple[Sink, SmtpConfig]]:
    handler = Sink()
    controller = run_server(handler)
    try:
        yield handler, SmtpConfig(host="127.0.0.1", port=controller.port, timeout=5)
    finally:
        controller.stop()


def composed(**changes: Any) -> Any:
    return compose(replace(OUTGOING, **changes), now=NOW, secret="s")


# --- delivery to a real server ------------------------------------------------------------


def test_the_sink_receives_exactly_the_composed_message(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    message = composed()
    result = send_sync(config, message)

    assert len(handler.received) == 1
    got = handler.received[0]
    assert got.mail_from == "support@shop.example"
    assert got.rcpt_tos == ["ann@customer.example"]
    assert got.content.rstrip(b"\r\n") == message.as_bytes().rstrip(b"\r\n")
    parsed = BytesParser(policy=policy.default).parsebytes(got.content)
    assert parsed["Message-ID"] == message["Message-ID"]
    assert parsed["In-Reply-To"] == "<abc@mail.customer.example>"
    assert parsed["Subject"] == "We're here to help – Rückgabe [SD-1042]"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert result.message_id == message["Message-ID"].strip("<>")
    assert result.accepted == ("ann@customer.example",)
    assert dict(result.refused) == {}


def test_send_is_a_coroutine_for_async_callers(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    message = composed(cc=(Mailbox("bob@customer.example"),))
    result = asyncio.run(send(config, message))
    assert result.accepted == ("ann@customer.example", "bob@customer.example")
    assert handler.received[0].rcpt_tos == ["ann@customer.example", "bob@customer.example"]


def test_a_resend_carries_the_same_message_id(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    send_sync(config, composed())
    send_sync(config, compose(OUTGOING, now=datetime(2026, 3, 3, tzinfo=UTC), secret="s"))
    ids = [
        BytesParser(policy=policy.default).parsebytes(r.content)["Message-ID"]
        for r in handler.received
    ]
    assert len(ids) == 2
    assert ids[0] == ids[1]


def test_a_partly_refused_message_reports_who_was_refused(
    sink: tuple[Sink, SmtpConfig],
) -> None:
    handler, config = sink
    handler.refuse_rcpt["nobody@customer.example"] = "550 5.1.1 No such user"
    message = composed(cc=(Mailbox("nobody@customer.example"),))
    result = send_sync(config, message)
    assert result.accepted == ("ann@customer.example",)
    assert dict(result.refused) == {"nobody@customer.example": (550, "5.1.1 No such user")}
    assert handler.received[0].rcpt_tos == ["ann@customer.example"]


# --- error mapping, with real server replies ----------------------------------------------


def test_451_on_data_is_transient(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    handler.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(TransientDeliveryError) as caught:
        send_sync(config, composed())
    assert caught.value.smtp_code == 451
    assert is_retryable(caught.value)


def test_550_on_data_is_permanent(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    handler.data_reply = "554 5.7.1 Message rejected as spam"
    with pytest.raises(PermanentDeliveryError) as caught:
        send_sync(config, composed())
    assert caught.value.smtp_code == 554
    assert not is_retryable(caught.value)


def test_a_refused_only_recipient_is_permanent(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    handler.refuse_rcpt["ann@customer.example"] = "550 5.1.1 No such user"
    with pytest.raises(PermanentDeliveryError) as caught:
        send_sync(config, composed())
    assert caught.value.smtp_code == 550
    assert caught.value.data["recipients"] == {"ann@customer.example": 550}
    assert handler.received == []


def test_a_greylisted_recipient_is_transient(sink: tuple[Sink, SmtpConfig]) -> None:
    handler, config = sink
    handler.refuse_rcpt["ann@customer.example"] = "451 4.7.1 Greylisted, try later"
    with pytest.raises(TransientDeliveryError) as caught:
        send_sync(config, composed())
    assert caught.value.smtp_code == 451


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = SmtpConfig(host="127.0.0.1", port=port, timeout=5)
    with pytest.raises(TransientDeliveryError, match="cannot reach"):
        send_sync(config, composed())


def test_a_silent_server_times_out_as_transient() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        config = SmtpConfig(host="127.0.0.1", port=silent.getsockname()[1], timeout=0.3)
        with pytest.raises(TransientDeliveryError):
            send_sync(config, composed())


def test_a_wrong_password_is_a_configuration_error() -> None:
    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, login: Any
    ) -> AuthResult:
        ok = isinstance(login, LoginPassword) and login.password == b"right"
        return AuthResult(success=ok, handled=False)

    controller = run_server(Sink(), authenticator=authenticator, auth_require_tls=False)
    try:
        url = f"smtp://support:wrong@127.0.0.1:{controller.port}?timeout=5"
        with pytest.raises(SmtpConfigurationError) as caught:
            send_sync(SmtpConfig.from_url(url), composed())
        assert caught.value.smtp_code == 535
        assert is_retryable(caught.value)
        good = SmtpConfig.from_url(f"smtp://support:right@127.0.0.1:{controller.port}")
        assert send_sync(good, composed()).accepted == ("ann@customer.example",)
    finally:
        controller.stop()


def test_required_starttls_not_offered_is_a_configuration_error(
    sink: tuple[Sink, SmtpConfig],
) -> None:
    _, config = sink
    with pytest.raises(SmtpConfigurationError, match="STARTTLS"):
        send_sync(replace(config, start_tls=True), composed())


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (aiosmtplib.SMTPResponseException(421, "shutting down"), TransientDeliveryError),
        (aiosmtplib.SMTPResponseException(552, "too big"), PermanentDeliveryError),
        (aiosmtplib.SMTPSenderRefused(553, "not allowed", "a@b.example"), PermanentDeliveryError),
        (aiosmtplib.SMTPSenderRefused(530, "auth required", "a@b.example"), SmtpConfigurationError),
        (aiosmtplib.SMTPServerDisconnected("lost"), TransientDeliveryError),
        (aiosmtplib.SMTPReadTimeoutError("slow"), TransientDeliveryError),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8"), PermanentDeliveryError),
        (ConnectionResetError("reset"), TransientDeliveryError),
        (socket.gaierror("no such host"), TransientDeliveryError),
    ],
)
def test_error_classes(exc: BaseException, expected: type[Exception]) -> None:
    assert type(delivery_error(exc)) is expected


def test_mixed_refusals_retry_when_any_is_temporary() -> None:
    exc = aiosmtplib.SMTPRecipientsRefused(
        [
            aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@x.example"),
            aiosmtplib.SMTPRecipientRefused(452, "mailbox full", "b@x.example"),
        ]
    )
    assert type(delivery_error(exc)) is TransientDeliveryError


def test_a_message_without_recipients_is_refused_before_connecting() -> None:
    config = SmtpConfig(host="127.0.0.1", port=9)
    message = composed()
    del message["To"]
    with pytest.raises(InvalidMessageError):
        send_sync(config, message)


# --- SMTP URLs -----------------------------------------------------------------------------


def test_url_with_everything() -> None:
    config = SmtpConfig.from_url(
        "smtp://me%40shop.example:p%40ss%3Aw0rd@mail.shop.example:2525?starttls=true&timeout=12"
    )
    assert config == SmtpConfig(
        host="mail.shop.example",
        port=2525,
        username="me@shop.example",
        password="p@ss:w0rd",
        start_tls=True,
        timeout=12.0,
    )
    assert "p@ss" not in repr(config)


@pytest.mark.parametrize(
    ("url", "port", "use_tls", "start_tls"),
    [
        ("smtp://localhost", 25, False, None),
        ("smtp://localhost?starttls=true", 587, False, True),
        ("smtp://localhost:1025?starttls=false", 1025, False, False),
        ("smtps://localhost", 465, True, False),
        ("SMTPS://localhost:2465/", 2465, True, False),
    ],
)
def test_url_defaults(url: str, port: int, use_tls: bool, start_tls: bool | None) -> None:
    config = SmtpConfig.from_url(url)
    assert (config.port, config.use_tls, config.start_tls) == (port, use_tls, start_tls)


def test_url_verify_false() -> None:
    assert SmtpConfig.from_url("smtps://h.example?verify=false").validate_certs is False


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "no SMTP server is configured"),
        ("", "no SMTP server is configured"),
        ("http://mail.example", "scheme must be smtp or smtps"),
        ("mail.example:25", "scheme must be smtp or smtps"),
        ("smtp://", "no host"),
        ("smtp://:25", "no host"),
        ("smtp://h.example:abc", "port must be a number"),
        ("smtp://h.example:70000", "port must be a number"),
        ("smtp://h.example:0", "port must be a number"),
        ("smtp://h.example/path", "path"),
        ("smtp://h.example?starttls=maybe", "starttls must be true or false"),
        ("smtp://h.example?tls=1", "unknown option 'tls'"),
        ("smtp://h.example?timeout=soon", "timeout must be a number"),
        ("smtp://h.example?timeout=-1", "timeout must be between"),
        ("smtps://h.example?starttls=true", "already TLS"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str | None, message: str) -> None:
    with pytest.raises(SmtpUrlError, match=message):
        SmtpConfig.from_url(url)
