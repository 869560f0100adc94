"""Signed, expiring links sent to customers: the survey, the review request, the case page.

A token carries its purpose, its payload and its expiry, signed with the server secret
(HMAC via itsdangerous). `verify_link` tells a tampered token, a token made for another
purpose and an expired one apart, each a `LinkError` the web layer can show. Pass a
list of secrets (newest last) to rotate the key without breaking links already sent.
Pure: the caller passes `now`; nothing here reads the clock or touches a database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer

from sopdesk.errors import InvalidInput, SopdeskError

LINK_PATH = "/l"
MAX_TOKEN_CHARS = 4096
MAX_TTL = timedelta(days=3 * 366)
_SALT = "sopdesk.links.v1"
_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")

Secret = str | bytes | Sequence[str | bytes]


class LinkError(SopdeskError):
    """A link that cannot be used."""

    code = "link_invalid"
    status = 400


class LinkTampered(LinkError):
    """The token was not signed by us, or was changed after signing."""

    code = "link_invalid"
    status = 400


class LinkWrongPurpose(LinkError):
    """A valid token made for another page (a survey token used for a case page)."""

    code = "link_wrong_purpose"
    status = 400


class LinkExpired(LinkError):
    """A valid token whose time is up."""

    code = "link_expired"
    status = 410


def sign_link(
    secret: Secret, purpose: str, payload: Mapping[str, Any], now: datetime, ttl: timedelta
) -> str:
    """A URL-safe token for `payload` (JSON values), valid for `ttl` from `now`."""
    _check_purpose(purpose)
    if not timedelta(0) < ttl <= MAX_TTL:
        raise InvalidInput(f"a link lifetime must be positive and at most {MAX_TTL.days} days")
    if not isinstance(payload, Mapping) or not all(isinstance(k, str) for k in payload):
        raise InvalidInput("a link payload is a mapping with text keys")
    expires = _timestamp(now) + math.ceil(ttl.total_seconds())
    try:
        return str(_serializer(secret).dumps({"u": purpose, "p": dict(payload), "x": expires}))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"a link payload must be plain JSON values: {exc}") from None


def verify_link(secret: Secret, purpose: str, token: str, now: datetime) -> dict[str, Any]:
    """The payload of a token signed for `purpose` and not expired at `now`.

    Raises `LinkTampered`, `LinkWrongPurpose` or `LinkExpired`, checked in that order.
    """
    _check_purpose(purpose)
    moment = _timestamp(now)
    data = _signed_data(secret, token)
    if data["u"] != purpose:
        raise LinkWrongPurpose(
            "this link is not meant for this page", expected=purpose, found=data["u"]
        )
    if moment >= data["x"]:
        raise LinkExpired("this link has expired", hint="ask us for a new one")
    return dict(data["p"])


def link_url(base_url: str, purpose: str, token: str) -> str:
    """The absolute URL a customer clicks: `{base_url}/l/{purpose}/{token}`."""
    _check_purpose(purpose)
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(f"{base_url!r} is not a base URL", hint="e.g. https://help.example.com")
    if not _TOKEN.fullmatch(token):
        raise InvalidInput("a link token has only URL-safe characters")
    return f"{base_url.rstrip('/')}{LINK_PATH}/{purpose}/{token}"


def _signed_data(secret: Secret, token: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise LinkTampered("this link is not valid")
    try:
        data = _serializer(secret).loads(token)
    except BadData:
        raise LinkTampered("this link is not valid", hint="copy the whole link") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("u"), str)
        and isinstance(data.get("p"), dict)
        and type(data.get("x")) is int
    ):
        raise LinkTampered("this link is not valid")
    return data


def _serializer(secret: Secret) -> URLSafeSerializer:
    keys = [secret] if isinstance(secret, str | bytes) else list(secret)
    if not keys or not all(keys):
        raise InvalidInput("links need a non-empty secret key (SOPDESK_SECRET_KEY)")
    return URLSafeSerializer(keys, salt=_SALT)


def _timestamp(now: datetime) -> int:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInput("`now` must be timezone-aware")
    return math.floor(now.timestamp())


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise InvalidInput(
            f"{purpose!r} is not a link purpose",
            hint="a purpose is a short lower-case word such as survey or review",
        )
