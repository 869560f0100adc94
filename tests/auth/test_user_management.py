"""Changing roles and names, deactivating and reactivating users: the actions, on
SQLite and PostgreSQL, with the last-owner rule (also when two changes race)."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sopdesk.actions import signin, users
from sopdesk.auth.permissions import Role, allowed
from sopdesk.errors import Conflict, InvalidInput, NotFound
from sopdesk.store import session_factory
from sopdesk.store.tables import UserRow, WebSessionRow
from tests.auth.conftest import PASSWORD, add_user

IP = "192.0.2.9"


def _sessions_of(session: Session, user_id: int) -> int:
    query = select(func.count()).where(WebSessionRow.user_id == user_id)
    return int(session.scalar(query) or 0)


def test_a_new_role_applies_from_the_next_request(session: Session, now: datetime) -> None:
    add_user(session, "olive@example.com", "owner")
    ann = add_user(session, "ann@example.com", "agent")
    browser = signin.do_start_session(session, ann, now=now)
    token = users.do_create_token(session, "ann@example.com", now=now).token
    before = signin.session_principal(session, browser.session_id, now=now)
    assert before is not None and not allowed(before, "sop.publish")

    changed = users.do_set_role(session, "ANN@example.com", "Manager")
    assert changed.role == "manager"
    # the same session and token, no sign-in again: the role is read on every request
    by_session = signin.session_principal(session, browser.session_id, now=now)
    by_token = signin.token_principal(session, token, now=now)
    assert by_session is not None and by_session.role is Role.MANAGER
    assert by_token is not None and by_token.role is Role.MANAGER
    assert allowed(by_session, "sop.publish") and not allowed(by_session, "users.manage")
    with pytest.raises(InvalidInput, match="not a role"):
        users.do_set_role(session, "ann@example.com", "root")
    with pytest.raises(NotFound):
        users.do_set_role(session, "nobody@example.com", "agent")


def test_update_changes_only_what_is_given(session: Session) -> None:
    add_user(session, "olive@example.com", "owner")
    add_user(session, "ann@example.com", "agent")
    user = users.do_update_user(session, "ann@example.com", name="  Ann Lee  ")
    assert (user.name, user.role, user.active) == ("Ann Lee", "agent", True)
    user = users.do_update_user(session, "ann@example.com", role=Role.OWNER, active=False)
    assert (user.name, user.role, user.active) == ("Ann Lee", "owner", False)
    with pytest.raises(InvalidInput, match="name cannot be empty"):
        users.do_update_user(session, "ann@example.com", name="   ")
    with pytest.raises(InvalidInput, match="not a role"):
        users.do_update_user(session, "ann@example.com", name="Changed", role="boss")
    session.expire_all()
    stored = users.get_user(session, "ann@example.com")
    assert stored.name == "Ann Lee"  # the refused update changed nothing at all


def test_the_last_owner_can_be_neither_demoted_nor_deactivated(session: Session) -> None:
    add_user(session, "olive@example.com", "owner")
    add_user(session, "otto@example.com", "owner")
    add_user(session, "ann@example.com", "agent")
    # two active owners: either may go
    assert users.do_set_role(session, "otto@example.com", "manager").role == "manager"
    for change, wording in (
        ({"role": "manager"}, "cannot become a manager"),
        ({"role": "agent"}, "cannot become an agent"),
        ({"active": False}, "the last owner cannot be disabled"),
        ({"role": "agent", "active": False}, "the last owner cannot be disabled"),
    ):
        with pytest.raises(Conflict, match=wording) as refused:
            users.do_update_user(session, "olive@example.com", **change)
        assert refused.value.code == "last_owner" and refused.value.status == 409
        assert refused.value.hint == "make someone else owner first"
    with pytest.raises(Conflict, match="last owner"):
        users.do_set_active(session, "olive@example.com", False)
    session.expire_all()
    olive = users.get_user(session, "olive@example.com")
    assert (olive.role, olive.active) == ("owner", True)
    # keeping the owner's role and state is no change to refuse
    kept = users.do_update_user(session, "olive@example.com", name="Olive", role="owner")
    assert (kept.name, kept.role, kept.active) == ("Olive", "owner", True)
    # an inactive owner does not count: promoting and then disabling otto is fine,
    # but afterwards olive is still the only *active* owner
    users.do_set_role(session, "otto@example.com", "owner")
    users.do_set_active(session, "otto@example.com", False)
    with pytest.raises(Conflict, match="last owner"):
        users.do_set_role(session, "olive@example.com", "agent")
    # an inactive owner may be demoted, and reactivated owners count again
    assert users.do_set_role(session, "otto@example.com", "agent").role == "agent"
    users.do_update_user(session, "otto@example.com", role="owner", active=True)
    assert users.do_set_active(session, "olive@example.com", False).active is False


def test_deactivation_ends_sessions_and_tokens_and_reactivation_restores(
    session: Session, now: datetime
) -> None:
    add_user(session, "olive@example.com", "owner")
    ann = add_user(session, "ann@example.com", "agent")
    laptop = signin.do_start_session(session, ann, now=now)
    phone = signin.do_start_session(session, ann, now=now)
    olive = signin.do_start_session(session, users.get_user(session, "olive@example.com"))
    token = users.do_create_token(session, "ann@example.com", now=now).token
    assert _sessions_of(session, ann.id) == 2

    users.do_update_user(session, "ann@example.com", active=False)
    assert _sessions_of(session, ann.id) == 0  # the rows are gone, not only refused
    for browser in (laptop, phone):
        assert signin.session_principal(session, browser.session_id, now=now) is None
    assert signin.token_principal(session, token, now=now) is None
    with pytest.raises(signin.SignInFailed):
        signin.authenticate(session, "ann@example.com", PASSWORD, IP, now=now)
    with pytest.raises(Conflict, match="disabled"):
        users.do_create_token(session, "ann@example.com")
    assert signin.session_principal(session, olive.session_id) is not None  # others stay

    users.do_update_user(session, "ann@example.com", active=True)
    assert signin.authenticate(session, "ann@example.com", PASSWORD, IP, now=now).id == ann.id
    assert signin.token_principal(session, token, now=now) is not None
    assert signin.session_principal(session, laptop.session_id, now=now) is None  # ended


def test_an_inactive_user_with_a_live_session_row_is_refused(
    session: Session, now: datetime
) -> None:
    """Defence in depth: even a session row that survived (written by a process that
    had not seen the change yet) does not let an inactive user in."""
    add_user(session, "olive@example.com", "owner")
    ann = add_user(session, "ann@example.com", "agent")
    users.do_set_active(session, "ann@example.com", False)
    late = signin.do_start_session(session, ann, now=now)
    assert signin.session_principal(session, late.session_id, now=now) is None


def test_two_owners_demoting_each_other_at_once_leave_one_owner(engine: Engine) -> None:
    with session_factory(engine)() as setup:
        add_user(setup, "olive@example.com", "owner")
        add_user(setup, "otto@example.com", "owner")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(email: str) -> None:
        with session_factory(engine)() as own:
            barrier.wait()
            try:
                if email.startswith("olive"):
                    users.do_set_role(own, email, "agent")
                else:
                    users.do_set_active(own, email, False)
                outcomes.append("changed")
            except (Conflict, OperationalError):
                outcomes.append("refused")

    threads = [
        threading.Thread(target=demote, args=(email,))
        for email in ("olive@example.com", "otto@example.com")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed", "refused"]
    with session_factory(engine)() as check:
        query = select(func.count()).where(UserRow.role == "owner", UserRow.active)
        assert check.scalar(query) == 1
