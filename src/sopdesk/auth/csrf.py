"""CSRF tokens: a synchronizer token derived from the secret key and the browser's session.

The token on a form is HMAC-SHA256(secret key, binding), where the binding is the
session id for a signed-in person, or a random pre-session value (its own HttpOnly
cookie) on the sign-in and setup pages. A forged cross-site form cannot know either,
and a token dies with its session: signing in rotates the session, and with it every
token issued before. Checking is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_CONTEXT = b"sopdesk.csrf.v1|"


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
