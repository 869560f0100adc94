"""Passwords: argon2id hashes, constant-time checks, and the rules for a new password.

`hash_password` and `verify_password` wrap argon2-cffi's `PasswordHasher` (argon2id,
its RFC 9106 low-memory defaults). `needs_rehash` tells the sign-in action to store a
fresh hash when the parameters change. `dummy_verify` spends the same time as a real
check, so that signing in as an unknown email takes as long as a wrong password.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from sopdesk.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps one request from costing a lot

HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; a malformed hash is a mismatch, never an error."""
    try:
        return HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return HASHER.hash("sopdesk: no such account")


def dummy_verify(password: str) -> None:
    """Spend the time of one real verification (for unknown or disabled accounts)."""
    verify_password(_dummy_hash(), password)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("sopdesk.auth").joinpath("common_passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` may not be used as a new password, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    if password != password.strip():
        return "a password may not start or end with a space"
    lowered = password.lower()
    if lowered in common_passwords():
        return "this password is one of the most common ones; choose another"
    if email and lowered in {email.lower(), email.lower().partition("@")[0]}:
        return "a password may not be your email address"
    return None


def check_new_password(password: str, email: str | None = None) -> None:
    """Raise `InvalidInput` when `password_problem` finds one."""
    problem = password_problem(password, email)
    if problem:
        raise InvalidInput(problem, hint="a long passphrase of several words is a good choice")
