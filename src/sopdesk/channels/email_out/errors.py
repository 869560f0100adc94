"""Everything that can go wrong sending an email, as one class hierarchy.

A worker decides what to do with a failed outbox row from the exception's class alone::

    SopdeskError
     ├── InvalidInput                    the message or the settings are wrong; fix, don't retry
     │    ├── HeaderInjectionError       a line break (or other control) in a header field
     │    ├── InvalidAddressError        an address that cannot be parsed or IDNA-encoded
     │    ├── InvalidMessageError        anything else compose() refuses (no recipient, ...)
     │    └── SmtpUrlError               SOPDESK_SMTP_URL is not a usable smtp:// URL
     └── DeliveryError                   the SMTP conversation failed
          ├── TransientDeliveryError     retry later, with backoff
          │    └── SmtpConfigurationError  the relay refuses *us* (login, TLS, STARTTLS
          │                                not offered): retry, and tell the admin; every
          │                                message fails alike until the URL is fixed
          └── PermanentDeliveryError     dead-letter: a retry gets the same answer

Transient: connection refused or reset, DNS failure, TLS failure, timeouts, any 4xx reply,
and every recipient refused with at least one 4xx. Permanent: 5xx replies about this
message (sender, recipients, content), and a message the server cannot carry (SMTPUTF8).
`is_retryable` is the one rule.
"""

from __future__ import annotations

from sopdesk.errors import InvalidInput, SopdeskError


class HeaderInjectionError(InvalidInput):
    """A header value with a line break or control character: never sent."""

    code = "header_injection"


class InvalidAddressError(InvalidInput):
    """An email address that cannot be parsed, or whose domain cannot be IDNA-encoded."""

    code = "invalid_address"


class InvalidMessageError(InvalidInput):
    """An outgoing message compose() refuses for another reason."""

    code = "invalid_message"


class SmtpUrlError(InvalidInput):
    """SOPDESK_SMTP_URL cannot be understood."""

    code = "smtp_url"


class DeliveryError(SopdeskError):
    """The SMTP server did not take the message. `smtp_code` is its reply code, if any."""

    code = "delivery_failed"
    status = 502

    def __init__(self, message: str, *, smtp_code: int | None = None, **data: object) -> None:
        super().__init__(message, smtp_code=smtp_code, **data)
        self.smtp_code = smtp_code


class TransientDeliveryError(DeliveryError):
    """Try again later: the same message may well go through."""

    code = "delivery_transient"


class SmtpConfigurationError(TransientDeliveryError):
    """The relay refused our login or TLS setup; fix SOPDESK_SMTP_URL, queued mail waits."""

    code = "smtp_configuration"


class PermanentDeliveryError(DeliveryError):
    """Do not retry: the server rejected this message for good."""

    code = "delivery_permanent"


def is_retryable(error: BaseException) -> bool:
    """True for errors a worker retries with backoff; False means dead-letter."""
    return isinstance(error, TransientDeliveryError)
