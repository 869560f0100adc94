"""Tokens, CSRF tokens and the sign-in rate limit: the pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sopdesk.auth import csrf, ratelimit, tokens

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


# --- tokens --------------------------------------------------------------------------


def test_a_token_has_its_prefix_and_only_its_hash_is_kept() -> None:
    new = tokens.generate_token()
    assert new.token.startswith(f"sd_{new.prefix}_") and len(new.token) == 55
    assert tokens.token_prefix(new.token) == new.prefix
    assert new.token_hash == tokens.hash_token(new.token) and new.token not in new.token_hash
    assert tokens.token_matches(new.token_hash, new.token)
    other_last = "B" if new.token.endswith("A") else "A"  # a token ending in A: 1 in 64
    assert not tokens.token_matches(new.token_hash, new.token[:-1] + other_last)
    assert tokens.display(new.prefix) == f"sd_{new.prefix}_…"
    assert tokens.generate_token().token != new.token


def test_malformed_tokens_have_no_prefix() -> None:
    good = tokens.generate_token().token
    for bad in ("", "sd_", good[:-1], good + "x", "Bearer " + good, "sd_XYZ12345_" + "a" * 43):
        assert tokens.token_prefix(bad) is None, bad


def test_revoked_and_expired_tokens_are_refused() -> None:
    soon, past = NOW + timedelta(days=1), NOW - timedelta(seconds=1)
    assert tokens.token_problem(revoked_at=None, expires_at=None, now=NOW) is None
    assert tokens.token_problem(revoked_at=None, expires_at=soon, now=NOW) is None
    assert tokens.token_problem(revoked_at=None, expires_at=NOW, now=NOW) == "expired"
    assert tokens.token_problem(revoked_at=past, expires_at=soon, now=NOW) == "revoked"


# --- CSRF ----------------------------------------------------------------------------


def test_csrf_tokens_are_bound_to_the_secret_and_the_session() -> None:
    token = csrf.csrf_token("key", "session-a")
    assert csrf.csrf_valid("key", "session-a", token)
    assert not csrf.csrf_valid("key", "session-b", token)
    assert not csrf.csrf_valid("other key", "session-a", token)
    assert not csrf.csrf_valid("key", "session-a", token.upper())
    assert not csrf.csrf_valid("key", "session-a", None)
    assert not csrf.csrf_valid("key", "session-a", "")
    assert not csrf.csrf_valid("key", None, token)
    assert not csrf.csrf_valid("key", "session-a", "é" + token[1:])
    assert csrf.new_binding() != csrf.new_binding()


def test_a_keyed_form_token_is_bound_to_the_form_key_and_expires() -> None:
    issued, day = 1_800_000_000, 86_400
    token = csrf.keyed_token("key", "form-key-1", issued)
    assert token.startswith(f"{issued}.")
    assert csrf.keyed_token_valid("key", "form-key-1", token, issued, day)
    assert csrf.keyed_token_valid("key", "form-key-1", token, issued + day, day)
    assert not csrf.keyed_token_valid("key", "form-key-1", token, issued + day + 1, day)
    assert csrf.keyed_token_valid("key", "form-key-1", token, issued - 60, day)  # drift
    assert not csrf.keyed_token_valid("key", "form-key-1", token, issued - 61, day)
    assert not csrf.keyed_token_valid("key", "form-key-2", token, issued, day)
    assert not csrf.keyed_token_valid("other key", "form-key-1", token, issued, day)
    later = csrf.keyed_token("key", "form-key-1", issued + 1)
    forged = f"{issued + day}." + later.partition(".")[2]  # a new time on an old digest
    assert not csrf.keyed_token_valid("key", "form-key-1", forged, issued + day, day)


def test_a_malformed_keyed_token_is_refused_not_raised() -> None:
    issued = 1_800_000_000
    good = csrf.keyed_token("key", "k", issued)
    for bad in (
        None,
        "",
        ".",
        good.partition(".")[2],
        "x." + good.partition(".")[2],
        "9" * 13 + ".ab",
        "-5.ab",
        good.upper(),
        good + "\udcff",
    ):
        assert not csrf.keyed_token_valid("key", "k", bad, issued, 3600), bad
    assert not csrf.keyed_token_valid("key", "", good, issued, 3600)
    assert not csrf.keyed_token_valid("key", None, good, issued, 3600)


# --- rate limit ----------------------------------------------------------------------

POLICY = ratelimit.Policy(limit=5, window=timedelta(minutes=15))


def _ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_five_failures_in_the_window_refuse_the_sixth() -> None:
    assert ratelimit.decide(_ago(1, 2, 3, 4), NOW, POLICY).allowed
    refused = ratelimit.decide(_ago(1, 2, 3, 4, 5), NOW, POLICY)
    assert not refused.allowed
    assert refused.retry_after == 10 * 60  # the failure 5 minutes ago leaves in 10


def test_the_window_slides() -> None:
    assert ratelimit.decide(_ago(1, 2, 3, 4, 15), NOW, POLICY).allowed  # 15 min ago is out
    assert ratelimit.decide(_ago(1, 2, 3, 4, 20, 30), NOW, POLICY).allowed
    assert not ratelimit.decide(_ago(1, 2, 3, 4, 14.99), NOW, POLICY).allowed
    many = ratelimit.decide(_ago(1, 2, 3, 4, 5, 6, 7), NOW, POLICY)
    assert many.retry_after == 10 * 60  # the 5th most recent decides
    future = ratelimit.decide([NOW + timedelta(minutes=1)] * 9, NOW, POLICY)
    assert future.allowed  # a clock ahead of ours does not count


def test_retry_after_is_at_least_a_second() -> None:
    almost = ratelimit.decide(_ago(1, 2, 3, 4, 14.9999), NOW, POLICY)
    assert not almost.allowed and almost.retry_after == 1


def test_combine_takes_the_longest_wait() -> None:
    ok, short, long = (
        ratelimit.Decision(True),
        ratelimit.Decision(False, 5),
        ratelimit.Decision(False, 50),
    )
    assert ratelimit.combine(ok, ok).allowed
    assert ratelimit.combine(ok, short, long) == long


def test_the_attempt_key_ignores_case_but_not_the_address() -> None:
    key = ratelimit.attempt_key("Ann@Example.com ", "10.0.0.1")
    assert key == ratelimit.attempt_key("ann@example.com", "10.0.0.1")
    assert key != ratelimit.attempt_key("ann@example.com", "10.0.0.2")
    assert "ann" not in key
