"""Send a composed message over SMTP (aiosmtplib): the thin, impure shell.

`SmtpConfig.from_url` reads SOPDESK_SMTP_URL::

    smtp://[user[:password]@]host[:port][?starttls=true|false&timeout=30&verify=true]
    smtps://[user[:password]@]host[:port][?timeout=30&verify=true]

`smtp://` defaults to port 25 (587 when `starttls=true`) and upgrades with STARTTLS
when the server offers it; `starttls=true` requires it, `starttls=false` never tries.
`smtps://` is TLS from the first byte, port 465. User and password are
percent-decoded. `send` maps every failure onto the hierarchy in `errors`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import MappingProxyType
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import aiosmtplib

from sopdesk.channels.email_out.errors import (
    DeliveryError,
    InvalidMessageError,
    PermanentDeliveryError,
    SmtpConfigurationError,
    SmtpUrlError,
    TransientDeliveryError,
)

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_STARTTLS_PORT = 587
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_OPTIONS = frozenset({"starttls", "timeout", "verify"})
_AUTH_CODES = frozenset({530, 534, 535, 538})  # authentication required / failed


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to deliver. `start_tls=None` means "if the server offers it"."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    start_tls: bool | None = None
    timeout: float = 30.0
    validate_certs: bool = True

    @classmethod
    def from_url(cls, url: str | None) -> SmtpConfig:
        """Parse an smtp:// or smtps:// URL; `SmtpUrlError` says what is wrong."""
        if not url:
            raise SmtpUrlError(
                "no SMTP server is configured",
                hint="set SOPDESK_SMTP_URL, e.g. smtp://user:password@mail.example.com:587",
            )
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise _url_error(f"the scheme must be smtp or smtps, not {parts.scheme or 'none'!r}")
        if not parts.hostname:
            raise _url_error("the URL has no host")
        if parts.path not in ("", "/") or parts.fragment:
            raise _url_error("the URL may not have a path or a #fragment")
        options = _options(parts.query)
        start_tls = _flag(options, "starttls")
        if scheme == "smtps" and start_tls:
            raise _url_error("smtps:// is already TLS; drop starttls=true or use smtp://")
        return cls(
            host=parts.hostname,
            port=_port(parts, scheme, start_tls),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=scheme == "smtps",
            start_tls=False if scheme == "smtps" else start_tls,
            timeout=_timeout(options),
            validate_certs=_flag(options, "verify") is not False,
        )


def _url_error(problem: str) -> SmtpUrlError:
    return SmtpUrlError(
        f"SOPDESK_SMTP_URL: {problem}",
        hint="format: smtp://user:password@host:port?starttls=true (see docs/email-out.md)",
    )


def _options(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _url_error(f"cannot read the options {query!r}") from None
    options = {key.lower(): value for key, value in pairs}
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise _url_error(f"unknown option {unknown[0]!r}; known: {', '.join(sorted(_OPTIONS))}")
    return options


def _flag(options: Mapping[str, str], name: str) -> bool | None:
    value = options.get(name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _url_error(f"{name} must be true or false, not {value!r}")


def _port(parts: SplitResult, scheme: str, start_tls: bool | None) -> int:
    try:
        port = parts.port
    except ValueError:
        raise _url_error("the port must be a number from 1 to 65535") from None
    if port is None:
        return _STARTTLS_PORT if start_tls else _DEFAULT_PORTS[scheme]
    if port == 0:
        raise _url_error("the port must be a number from 1 to 65535")
    return int(port)


def _timeout(options: Mapping[str, str]) -> float:
    raw = options.get("timeout", "30")
    try:
        timeout = float(raw)
    except ValueError:
        raise _url_error(f"timeout must be a number of seconds, not {raw!r}") from None
    if not 0 < timeout <= 600:
        raise _url_error("timeout must be between 0 and 600 seconds")
    return timeout


@dataclass(frozen=True)
class SendResult:
    """What the server said. `refused` holds recipients it turned down while accepting
    the message for the others (a retry would duplicate it for those others)."""

    message_id: str
    accepted: tuple[str, ...]
    refused: Mapping[str, tuple[int, str]] = field(default_factory=lambda: MappingProxyType({}))
    response: str = ""


async def send(
    config: SmtpConfig,
    message: EmailMessage,
    *,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
) -> SendResult:
    """Deliver `message`; envelope from its From/To/Cc/Bcc unless given.

    Raises `TransientDeliveryError` (retry) or `PermanentDeliveryError` (dead-letter).
    """
    envelope = list(recipients) if recipients is not None else _recipients(message)
    if not envelope:
        raise InvalidMessageError("the message has no recipient to send to")
    try:
        errors, response = await aiosmtplib.send(
            message,
            sender=sender,
            recipients=envelope,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout,
            validate_certs=config.validate_certs,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise delivery_error(exc) from exc
    refused = {addr: (int(r.code), r.message) for addr, r in errors.items()}
    return SendResult(
        message_id=str(message.get("Message-ID", "")).strip("<> "),
        accepted=tuple(a for a in envelope if a not in refused),
        refused=MappingProxyType(refused),
        response=response,
    )


def send_sync(
    config: SmtpConfig,
    message: EmailMessage,
    *,
    sender: str | None = None,
    recipients: Sequence[str] | None = None,
) -> SendResult:
    """`send` for synchronous callers (CLI, a threaded worker); not inside an event loop."""
    return asyncio.run(send(config, message, sender=sender, recipients=recipients))


def _recipients(message: EmailMessage) -> list[str]:
    found: dict[str, str] = {}
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header, []):
            for address in getattr(value, "addresses", ()):
                found.setdefault(address.addr_spec.casefold(), address.addr_spec)
    return list(found.values())


def delivery_error(exc: BaseException) -> DeliveryError:
    """The `DeliveryError` for an aiosmtplib or socket exception (a pure mapping)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return _all_refused(exc)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SmtpConfigurationError(f"the SMTP login failed: {exc}", smtp_code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):  # e.g. SMTPUTF8 for this message
        return PermanentDeliveryError(f"the SMTP server cannot take this message: {exc}")
    if type(exc) is aiosmtplib.SMTPException:  # STARTTLS or AUTH required but not offered
        return SmtpConfigurationError(f"the SMTP server does not fit our settings: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, f"the SMTP server replied {exc.code} {exc.message}".strip())
    if isinstance(exc, TimeoutError | aiosmtplib.SMTPTimeoutError):
        return TransientDeliveryError(f"the SMTP server timed out: {exc}")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return SmtpConfigurationError(f"TLS with the SMTP server failed: {exc}")
    return TransientDeliveryError(f"cannot reach the SMTP server: {exc}")


def _by_code(code: int, text: str) -> DeliveryError:
    if code in _AUTH_CODES:
        return SmtpConfigurationError(text, smtp_code=code)
    if 500 <= code < 600:
        return PermanentDeliveryError(text, smtp_code=code)
    return TransientDeliveryError(text, smtp_code=code)


def _all_refused(exc: aiosmtplib.SMTPRecipientsRefused) -> DeliveryError:
    codes = {r.recipient: r.code for r in exc.recipients}
    detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
    text = f"the SMTP server refused every recipient ({detail})"
    if any(not 500 <= code < 600 for code in codes.values()):
        return TransientDeliveryError(text, smtp_code=min(codes.values()), recipients=codes)
    return PermanentDeliveryError(text, smtp_code=max(codes.values()), recipients=codes)
