"""Signing in and being signed in: the rate-limited password check, browser sessions,
and turning a session cookie or an API token into a `Principal`.

Browser sessions are server-side rows (a random id in an HttpOnly cookie, its SHA-256
in `sessions`), so signing out, a password change or a disabled account ends them at
once on every process. Failed sign-ins are rows in `sign_in_attempts`, so the rate
limit holds across every `sopdesk serve` process sharing one PostgreSQL database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from sopdesk.actions.base import resolve_now, transaction
from sopdesk.actions.users import find_user
from sopdesk.auth import passwords, ratelimit
from sopdesk.auth.permissions import Principal, Role
from sopdesk.auth.tokens import token_matches, token_prefix, token_problem
from sopdesk.errors import SopdeskError
from sopdesk.store.tables import ApiTokenRow, SignInAttemptRow, UserRow, WebSessionRow

SESSION_IDLE = timedelta(days=7)
SESSION_MAX = timedelta(days=30)
TOUCH_EVERY = timedelta(minutes=5)
SIGN_IN_FAILED = "the email or the password is not right"


class SignInFailed(SopdeskError):
    """Wrong email or password; one message for both, so accounts cannot be probed."""

    code = "sign_in_failed"
    status = 401


class TooManyAttempts(SopdeskError):
    code = "too_many_attempts"
    status = 429

    @property
    def retry_after(self) -> int:
        return int(self.data.get("retry_after", 1))


# --- the password check --------------------------------------------------------------


def authenticate(
    session: Session, email: str, password: str, ip: str, now: datetime | None = None
) -> UserRow:
    """The user whose email and password these are, or `SignInFailed`/`TooManyAttempts`.

    The attempt is recorded (committed) before the limit is checked, and the check
    counts every other attempt recorded so far: each of a burst of simultaneous
    attempts sees all those committed before it, so no more than the limit get past
    the check, on any number of processes. A failed attempt's record stays as its
    failure; a refused one's is removed (refusals do not extend a lock-out); a
    successful sign-in clears the email and address's records. An unknown or disabled
    email costs one argon2 verification like a wrong password does, and gives the
    same error.
    """
    now = resolve_now(now)
    key = ratelimit.attempt_key(email, ip)
    attempt = _record_attempt(session, key, ip, now)
    with transaction(session):
        decision = _sign_in_decision(session, key, ip, now, attempt)
        if not decision.allowed:
            session.execute(delete(SignInAttemptRow).where(SignInAttemptRow.id == attempt))
        else:
            user = find_user(session, email)
            if _password_ok(user, password):
                user.last_sign_in_at = now
                session.execute(delete(SignInAttemptRow).where(SignInAttemptRow.key == key))
                return user
    if not decision.allowed:
        raise TooManyAttempts(
            "too many sign-in attempts; wait a while and try again",
            hint=f"retry in {decision.retry_after} seconds",
            retry_after=decision.retry_after,
        )
    raise SignInFailed(SIGN_IN_FAILED)


def _password_ok(user: UserRow | None, password: str) -> TypeGuard[UserRow]:
    if user is None or not user.active or not user.password_hash:
        passwords.dummy_verify(password)
        return False
    if not passwords.verify_password(user.password_hash, password):
        return False
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return True


def _sign_in_decision(
    session: Session, key: str, ip: str, now: datetime, attempt: int
) -> ratelimit.Decision:
    """The limits over every recorded attempt but this one (`attempt`, its row id)."""
    others = SignInAttemptRow.id != attempt
    by_key = _failures(session, SignInAttemptRow.key == key, others, now, ratelimit.PER_ACCOUNT)
    by_ip = _failures(session, SignInAttemptRow.ip == ip, others, now, ratelimit.PER_ADDRESS)
    return ratelimit.combine(
        ratelimit.decide(by_key, now, ratelimit.PER_ACCOUNT),
        ratelimit.decide(by_ip, now, ratelimit.PER_ADDRESS),
    )


def _failures(
    session: Session, where: object, others: object, now: datetime, policy: ratelimit.Policy
) -> list[datetime]:
    """Failure times in the window; attempts recorded after `now` (a simultaneous
    attempt read the clock a moment later) count as made at `now`."""
    query = select(SignInAttemptRow.at).where(
        where, others, SignInAttemptRow.at > now - policy.window
    )
    return [min(at, now) for at in session.scalars(query)]


def _record_attempt(session: Session, key: str, ip: str, now: datetime) -> int:
    """Commit a record of this attempt (pruning the email's and address's old ones)."""
    oldest = now - max(ratelimit.PER_ACCOUNT.window, ratelimit.PER_ADDRESS.window)
    stale = or_(SignInAttemptRow.key == key, SignInAttemptRow.ip == ip)
    with transaction(session):
        session.execute(delete(SignInAttemptRow).where(stale, SignInAttemptRow.at <= oldest))
        row = SignInAttemptRow(key=key, ip=ip, at=now)
        session.add(row)
        session.flush()
        return row.id


# --- browser sessions ----------------------------------------------------------------


@dataclass(frozen=True)
class StartedSession:
    """The id to put in the cookie (shown nowhere else) and when the session ends."""

    session_id: str
    expires_at: datetime


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def do_start_session(
    session: Session,
    user: UserRow,
    *,
    ip: str = "",
    user_agent: str = "",
    previous: str | None = None,
    now: datetime | None = None,
) -> StartedSession:
    """A new session for `user`; `previous` (the browser's old session) ends (rotation)."""
    now = resolve_now(now)
    session_id = secrets.token_urlsafe(32)
    with transaction(session):
        if previous:
            _delete_session(session, previous)
        row = WebSessionRow(
            id_hash=hash_session_id(session_id),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_MAX,
            ip=ip[:64],
            user_agent=user_agent[:200],
        )
        session.add(row)
    return StartedSession(session_id=session_id, expires_at=row.expires_at)


def do_end_session(session: Session, session_id: str) -> None:
    with transaction(session):
        _delete_session(session, session_id)


def _delete_session(session: Session, session_id: str) -> None:
    session.execute(
        delete(WebSessionRow).where(WebSessionRow.id_hash == hash_session_id(session_id))
    )


def session_principal(
    session: Session, session_id: str | None, now: datetime | None = None
) -> Principal | None:
    """Who this session cookie belongs to, or None (unknown, expired, idle, disabled)."""
    if not session_id or len(session_id) > 128:
        return None
    now = resolve_now(now)
    row = session.get(WebSessionRow, hash_session_id(session_id))
    if row is None or row.expires_at <= now or now - row.last_seen_at >= SESSION_IDLE:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with transaction(session):
            row = session.get(WebSessionRow, row.id_hash) or row
            row.last_seen_at = now
    return _principal(user)


def token_principal(session: Session, token: str, now: datetime | None = None) -> Principal | None:
    """Who this API token acts for, or None (malformed, unknown, revoked, expired, disabled)."""
    prefix = token_prefix(token)
    if prefix is None:
        return None
    now = resolve_now(now)
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.prefix == prefix))
    if row is None or not token_matches(row.token_hash, token):
        return None
    if token_problem(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now):
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= timedelta(minutes=1):
        with transaction(session):
            row = session.get(ApiTokenRow, row.id) or row
            row.last_used_at = now
        user = session.get(UserRow, row.user_id) or user
    return _principal(user, scopes=frozenset(row.scopes), token_id=row.id)


def _principal(
    user: UserRow, scopes: frozenset[str] | None = None, token_id: int | None = None
) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        scopes=scopes,
        token_id=token_id,
    )
