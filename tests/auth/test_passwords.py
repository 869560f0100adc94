"""Passwords: argon2id round trip, rehash on new parameters, and new-password rules."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from sopdesk.auth import passwords
from sopdesk.errors import InvalidInput


def test_round_trip() -> None:
    stored = passwords.hash_password("a long passphrase here")
    assert stored.startswith("$argon2id$")
    assert "a long passphrase" not in stored
    assert passwords.verify_password(stored, "a long passphrase here")
    assert not passwords.verify_password(stored, "a long passphrase herE")
    assert passwords.hash_password("a long passphrase here") != stored  # salted


def test_a_malformed_hash_is_a_mismatch_and_needs_rehash() -> None:
    assert not passwords.verify_password("not a hash", "anything at all")
    assert not passwords.verify_password("", "anything at all")
    assert passwords.needs_rehash("not a hash")


def test_weaker_parameters_need_a_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("a long passphrase")
    assert passwords.verify_password(old, "a long passphrase")
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("a long passphrase"))


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 10 characters"),
        ("x" * 1025, "at most 1024"),
        (" padded password ", "start or end with a space"),
        ("Password123", "most common"),
        ("QWERTYUIOP", "most common"),
        ("ann.smith@example.com", "email address"),
        ("ann.smith1", None),
        ("ANN.SMITH@EXAMPLE.COM", "email address"),
        ("correct horse battery staple", None),
    ],
)
def test_new_password_rules(password: str, problem: str | None) -> None:
    found = passwords.password_problem(password, "ann.smith@example.com")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_the_local_part_of_the_email_is_refused() -> None:
    assert passwords.password_problem("ann.smith12", "ann.smith12@example.com")
    with pytest.raises(InvalidInput, match="at least 10"):
        passwords.check_new_password("tiny")


def test_the_bundled_list_is_loaded() -> None:
    common = passwords.common_passwords()
    assert len(common) > 50
    assert "password123" in common and not any(line.startswith("#") for line in common)
