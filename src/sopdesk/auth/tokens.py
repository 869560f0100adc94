"""API tokens: `sd_<prefix>_<secret>`, stored only as a SHA-256 hash.

The prefix (8 hex characters) is public: it finds the row and is shown in lists so a
person can tell tokens apart. The secret has 256 bits of entropy, so a fast hash is
enough (a slow password hash protects guessable secrets; this one is not guessable).
The token itself is shown once, when it is created, and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

PREFIX_CHARS = 8
_TOKEN = re.compile(r"sd_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
MAX_TOKEN_CHARS = 64


@dataclass(frozen=True)
class NewToken:
    """A freshly made token: the text to show once, and what to store."""

    token: str
    prefix: str
    token_hash: str


def generate_token() -> NewToken:
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    token = f"sd_{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(token=token, prefix=prefix, token_hash=hash_token(token))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token, or None for anything else."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def token_matches(stored_hash: str, token: str) -> bool:
    """Compare in constant time: the hash of `token` against the stored hash."""
    return hmac.compare_digest(stored_hash, hash_token(token))


def display(prefix: str) -> str:
    """How a stored token is shown: its prefix, the secret elided."""
    return f"sd_{prefix}_…"


def token_problem(
    *, revoked_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a stored token may not be used at `now` (revoked or expired), or None."""
    if revoked_at is not None and revoked_at <= now:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return None
