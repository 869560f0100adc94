"""CSRF tokens: a synchronizer token derived from the secret key and the browser's session.

The token on a form is HMAC-SHA256(secret key, binding), where the binding is the
session id for a signed-in person, or a random pre-session value (its own HttpOnly
cookie) on the sign-in and setup pages. A forged cross-site form cannot know either,
and a token dies with its session: signing in rotates the session, and with it every
token issued before. A form shown in a frame on another site gets a `keyed_token`
instead, bound to the form's own key and the time it was issued. Checking is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_CONTEXT = b"sopdesk.csrf.v1|"
_KEYED_CONTEXT = b"sopdesk.form.v1|"


def new_binding() -> str:
    """A fresh random pre-session value (for visitors who are not signed in yet)."""
    return secrets.token_urlsafe(32)


def csrf_token(secret_key: str, binding: str) -> str:
    if not secret_key or not binding:
        raise ValueError("a CSRF token needs a secret key and a binding")
    digest = hmac.new(secret_key.encode(), _CONTEXT + binding.encode(), hashlib.sha256)
    return digest.hexdigest()


def csrf_valid(secret_key: str, binding: str | None, submitted: str | None) -> bool:
    """True when `submitted` is the token for `binding`; False for anything missing."""
    if not binding or not submitted or not isinstance(submitted, str):
        return False
    expected = csrf_token(secret_key, binding)
    return hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace"))


def keyed_token(secret_key: str, key: str, issued: int) -> str:
    """A form token for a page that cannot keep a cookie: bound to the form's own random
    `key` and the second it was `issued` (Unix time), as `<issued>.<HMAC>`.

    The embedded support form needs it: inside a frame on another site, browsers keep
    no SameSite cookie, so there is no pre-session to bind to. Such a token still proves
    that the form came from this site, and it expires (`keyed_token_valid`).
    """
    if not secret_key or not key:
        raise ValueError("a form token needs a secret key and the form's key")
    message = _KEYED_CONTEXT + f"{issued}|{key}".encode()
    return f"{issued}." + hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def keyed_token_valid(
    secret_key: str, key: str | None, submitted: str | None, now: int, max_age: int
) -> bool:
    """True when `submitted` is this site's token for `key`, issued at most `max_age`
    seconds before `now` (and not later than a minute after it: clocks drift)."""
    if not key or not submitted or not isinstance(submitted, str):
        return False
    issued_text, _, _ = submitted.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if not now - max_age <= issued <= now + 60:
        return False
    expected = keyed_token(secret_key, key, issued)
    return hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace"))
