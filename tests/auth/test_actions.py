"""Users, tokens, first-run setup, sign-in and sessions on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sopdesk.actions import signin, users
from sopdesk.auth.permissions import Role
from sopdesk.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sopdesk.store import session_factory
from sopdesk.store.tables import ApiTokenRow, SignInAttemptRow, UserRow
from tests.auth.conftest import PASSWORD, add_user

IP = "192.0.2.7"


def test_users_are_stored_lower_cased_with_an_argon2_hash(session: Session, now: datetime) -> None:
    user = users.do_create_user(
        session, " Ann@Example.COM ", role="manager", password=PASSWORD, name="Ann", now=now
    )
    assert (user.email, user.role, user.name, user.active) == (
        "ann@example.com",
        "manager",
        "Ann",
        True,
    )
    assert user.password_hash and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert users.get_user(session, "ANN@example.com").id == user.id
    with pytest.raises(Conflict, match="already a user"):
        add_user(session, "ann@EXAMPLE.com")
    with pytest.raises(InvalidInput, match="not an email"):
        add_user(session, "ann")
    with pytest.raises(InvalidInput, match="not a role"):
        users.do_create_user(session, "b@example.com", role="admin", password=PASSWORD)
    with pytest.raises(InvalidInput, match="most common"):
        users.do_create_user(session, "b@example.com", role="agent", password="password123")
    assert [u.email for u in users.list_users(session)] == ["ann@example.com"]


def test_first_run_setup_happens_once(session: Session, now: datetime) -> None:
    assert users.needs_setup(session)
    owner = users.do_first_run_setup(session, "Owner@example.com", PASSWORD, name="O", now=now)
    assert owner.role == Role.OWNER.value and not users.needs_setup(session)
    with pytest.raises(PermissionDenied, match="already set up") as info:
        users.do_first_run_setup(session, "eve@example.com", PASSWORD, now=now)
    assert info.value.code == "already_set_up"
    assert users.find_user(session, "eve@example.com") is None


def test_setup_is_closed_once_any_user_exists(session: Session) -> None:
    add_user(session, "agent@example.com", "agent")
    assert not users.owner_exists(session) and not users.needs_setup(session)
    with pytest.raises(PermissionDenied):
        users.do_first_run_setup(session, "eve@example.com", PASSWORD)


def test_tokens_store_only_a_hash(session: Session, now: datetime) -> None:
    add_user(session, "ann@example.com", "owner")
    created = users.do_create_token(
        session, "ann@example.com", name="zapier", scopes=["cases"], expires_days=30, now=now
    )
    row = session.scalars(select(ApiTokenRow)).one()
    stored = " ".join(str(value) for value in vars(row).values())
    secret = created.token.split("_", 2)[2]  # the secret itself may hold underscores
    assert created.token not in stored and secret not in stored
    assert row.prefix == created.token.split("_")[1] and row.scopes == ["cases"]
    assert row.expires_at == now + timedelta(days=30) and row.name == "zapier"
    who = signin.token_principal(session, created.token, now=now)
    assert who is not None and who.scopes == frozenset({"cases"}) and who.token_id == row.id
    assert session.get(ApiTokenRow, row.id).last_used_at == now


def test_revoked_expired_wrong_and_disabled_tokens_are_refused(
    session: Session, now: datetime
) -> None:
    add_user(session, "ann@example.com", "owner")
    add_user(session, "bob@example.com", "agent")
    token = users.do_create_token(session, "ann@example.com", expires_days=1, now=now).token
    assert signin.token_principal(session, token, now=now) is not None
    assert signin.token_principal(session, token, now=now + timedelta(days=1)) is None
    tampered = token[:-2] + ("yy" if token.endswith("xx") else "xx")
    assert signin.token_principal(session, tampered, now=now) is None
    assert signin.token_principal(session, "sd_00000000_" + "a" * 43, now=now) is None
    bob = users.do_create_token(session, "bob@example.com", now=now)
    with pytest.raises(NotFound):
        users.do_revoke_token(session, bob.row.id, user_id=bob.row.user_id + 99)
    users.do_revoke_token(session, bob.row.id, now=now)
    assert signin.token_principal(session, bob.token, now=now) is None
    live = users.do_create_token(session, "bob@example.com", now=now).token
    users.do_set_active(session, "bob@example.com", False)
    assert signin.token_principal(session, live, now=now) is None
    with pytest.raises(InvalidInput, match="from 1 to"):
        users.do_create_token(session, "ann@example.com", expires_days=0)
    with pytest.raises(InvalidInput, match="unknown token scope"):
        users.do_create_token(session, "ann@example.com", scopes=["root"])


def test_the_last_owner_cannot_be_disabled(session: Session) -> None:
    add_user(session, "ann@example.com", "owner")
    with pytest.raises(Conflict, match="last owner"):
        users.do_set_active(session, "ann@example.com", False)


def test_groups(session: Session) -> None:
    user = add_user(session, "ann@example.com")
    users.do_add_to_group(session, "ann@example.com", "Support-Lead")
    users.do_add_to_group(session, "ann@example.com", "support-lead")
    users.do_add_to_group(session, "ann@example.com", "tier-2")
    assert users.user_groups(session, user.id) == ["support-lead", "tier-2"]
    with pytest.raises(InvalidInput, match="not a group name"):
        users.do_add_to_group(session, "ann@example.com", "a b")


def test_authenticate_succeeds_and_rehashes_old_hashes(session: Session, now: datetime) -> None:
    user = add_user(session, "ann@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user.password_hash = weak
    session.commit()
    signed_in = signin.authenticate(session, "ANN@example.com", PASSWORD, IP, now=now)
    assert signed_in.id == user.id and signed_in.last_sign_in_at == now
    stored = session.get(UserRow, user.id).password_hash
    assert stored != weak and stored.startswith("$argon2id$v=19$m=65536")


def test_the_sixth_wrong_password_is_refused_known_or_not(session: Session, now: datetime) -> None:
    add_user(session, "ann@example.com")
    for email in ("ann@example.com", "nobody@example.com"):
        for attempt in range(5):
            with pytest.raises(signin.SignInFailed) as failed:
                signin.authenticate(session, email, "wrong password!", IP, now=now)
            assert failed.value.message == signin.SIGN_IN_FAILED, attempt
        with pytest.raises(signin.TooManyAttempts) as refused:
            signin.authenticate(session, email, PASSWORD, IP, now=now + timedelta(minutes=1))
        assert refused.value.retry_after == 14 * 60
    # the right password from another address, or after the window, still works
    assert signin.authenticate(session, "ann@example.com", PASSWORD, "192.0.2.8", now=now)
    assert len(session.scalars(select(SignInAttemptRow.key)).all()) == 10  # 5 + 5 failures
    later = now + timedelta(minutes=15, seconds=1)
    assert signin.authenticate(session, "ann@example.com", PASSWORD, IP, now=later)
    left = session.scalars(select(SignInAttemptRow.key)).all()
    assert left == []  # ann's cleared on success; the address's older ones pruned


def test_an_unknown_email_takes_as_long_as_a_wrong_password(session: Session) -> None:
    add_user(session, "ann@example.com")

    def timed(email: str, ip: str) -> float:
        start = time.perf_counter()
        with pytest.raises(signin.SignInFailed):
            signin.authenticate(session, email, "wrong password!", ip)
        return time.perf_counter() - start

    known = sorted(timed("ann@example.com", f"10.0.0.{i}") for i in range(3))[1]
    unknown = sorted(timed("nobody@example.com", f"10.0.1.{i}") for i in range(3))[1]
    assert unknown > 0.4 * known and known > 0.4 * unknown


def test_a_disabled_user_cannot_sign_in(session: Session, now: datetime) -> None:
    add_user(session, "ann@example.com", "owner")
    add_user(session, "bob@example.com")
    users.do_set_active(session, "bob@example.com", False)
    with pytest.raises(signin.SignInFailed):
        signin.authenticate(session, "bob@example.com", PASSWORD, IP, now=now)


def test_sessions_expire_idle_and_end(session: Session, now: datetime) -> None:
    user = add_user(session, "ann@example.com")
    started = signin.do_start_session(session, user, ip=IP, user_agent="test", now=now)
    assert signin.session_principal(session, started.session_id, now=now).email == user.email
    assert signin.session_principal(session, "forged", now=now) is None
    idle = now + signin.SESSION_IDLE
    assert signin.session_principal(session, started.session_id, now=idle) is None
    step = now
    while step < now + signin.SESSION_MAX - timedelta(days=6):  # kept alive by use
        step += timedelta(days=6)
        assert signin.session_principal(session, started.session_id, now=step) is not None
    end = now + signin.SESSION_MAX
    assert signin.session_principal(session, started.session_id, now=end) is None
    again = signin.do_start_session(session, user, previous=started.session_id, now=now)
    assert signin.session_principal(session, again.session_id, now=now) is not None
    signin.do_end_session(session, again.session_id)
    assert signin.session_principal(session, again.session_id, now=now) is None


def test_a_new_password_ends_every_session(session: Session, now: datetime) -> None:
    user = add_user(session, "ann@example.com")
    started = signin.do_start_session(session, user, now=now)
    users.do_set_password(session, "ann@example.com", "another long passphrase")
    assert signin.session_principal(session, started.session_id, now=now) is None
    with pytest.raises(signin.SignInFailed):
        signin.authenticate(session, "ann@example.com", PASSWORD, IP, now=now)
    assert signin.authenticate(session, "ann@example.com", "another long passphrase", IP, now=now)


def test_two_setups_at_once_make_one_owner(engine: Engine) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(email: str) -> None:
        with session_factory(engine)() as own:
            barrier.wait()
            try:
                users.do_first_run_setup(own, email, PASSWORD)
                outcomes.append("owner")
            except (PermissionDenied, Conflict, OperationalError):
                outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(f"o{i}@example.com",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["owner", "refused"]
    with session_factory(engine)() as check:
        assert len(users.list_users(check)) == 1


def test_a_burst_of_simultaneous_attempts_gets_no_more_than_the_limit(engine: Engine) -> None:
    with session_factory(engine)() as own:
        add_user(own, "ann@example.com")
    burst = 12
    barrier = threading.Barrier(burst)
    outcomes: list[str] = []

    def attempt() -> None:
        with session_factory(engine)() as own:
            barrier.wait()
            try:
                signin.authenticate(own, "ann@example.com", "wrong password!", IP)
            except signin.SignInFailed:
                outcomes.append("checked")
            except signin.TooManyAttempts:
                outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == burst
    # At most the limit reach the password check; attempts that all record themselves
    # before any checks may refuse each other, down to none (never one too many).
    assert outcomes.count("checked") <= 5
    with session_factory(engine)() as check:
        kept = check.scalars(select(SignInAttemptRow.id)).all()
        assert len(kept) == outcomes.count("checked")  # refusals leave no row behind
