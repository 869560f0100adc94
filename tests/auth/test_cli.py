"""`sopdesk users ...` and `sopdesk tokens ...`, through the real entry point."""

from __future__ import annotations

import io
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sopdesk.settings import Settings
from sopdesk.web.app import create_app
from tests.auth.conftest import PASSWORD, sign_in
from tests.conftest import Runner


@pytest.fixture
def configured(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SOPDESK_DATABASE_URL", db_url)
    return Settings(secret_key="test-secret")


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def _add(cli: Runner, monkeypatch: pytest.MonkeyPatch, email: str, role: str) -> None:
    _stdin(monkeypatch, PASSWORD + "\n")
    result = cli("users", "add", email, "--role", role, "--password-stdin", "--name", "Ann Lee")
    assert result.code == 0, result.err


def test_users_add_and_list(
    cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, PASSWORD + "\n")
    added = cli("users", "add", "Ann@Example.com", "--role", "owner", "--password-stdin")
    assert added.code == 0 and added.out.startswith("Added ann@example.com (owner), id ")
    assert PASSWORD not in added.out + added.err
    _add(cli, monkeypatch, "bob@example.com", "agent")
    listing = cli("users", "list")
    lines = listing.out.splitlines()
    assert len(lines) == 2 and "ann@example.com  owner  ann  active" in lines[0]
    assert "bob@example.com  agent  Ann Lee  active  last sign-in -" in lines[1]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "owner", "--password-stdin"], "short\n", "at least 10 characters"),
        (["--role", "owner", "--password-stdin"], "\n", "no password on standard input"),
        (["--role", "boss", "--password-stdin"], PASSWORD + "\n", "'boss' is not one of"),
    ],
)
def test_users_add_refuses_bad_input(
    cli: Runner,
    configured: Settings,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    message: str,
) -> None:
    _stdin(monkeypatch, stdin)
    result = cli("users", "add", "ann@example.com", *args)
    assert result.code in {1, 2} and message in result.err
    assert "ann@example.com" not in cli("users", "list").out


def test_a_duplicate_user_is_an_error(
    cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(cli, monkeypatch, "ann@example.com", "agent")
    _stdin(monkeypatch, PASSWORD + "\n")
    again = cli("users", "add", "ANN@example.com", "--role", "agent", "--password-stdin")
    assert again.code == 1 and "Error: there is already a user" in again.err


def test_a_created_token_is_printed_last_and_works_against_me(
    cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(cli, monkeypatch, "ann@example.com", "manager")
    created = cli(
        "tokens", "create", "ann@example.com", "--scope", "cases", "--scope", "sops:read",
        "--name", "zapier", "--expires-days", "30",
    )  # fmt: skip
    assert created.code == 0, created.err
    token = created.out.splitlines()[-1]
    assert token.startswith("sd_") and " " not in token
    assert "scopes: cases sops:read, expires " in created.out
    with TestClient(create_app(configured)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["email"] == "ann@example.com"
        assert me.json()["scopes"] == ["cases", "sops:read"]
        listing = cli("tokens", "list", "ann@example.com").out
        assert token not in listing and token[:12] + "…" in listing
        assert "zapier" in listing and "scopes=cases,sops:read" in listing
        assert listing.rstrip().endswith("active") and "last used 20" in listing
        token_id = listing.split()[0]
        revoked = cli("tokens", "revoke", token_id)
        assert revoked.code == 0 and f"Revoked token {token_id}" in revoked.out
        gone = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 401
        assert cli("tokens", "list", "ann@example.com").out.rstrip().endswith("revoked")


def test_a_default_token_acts_with_the_full_role(
    cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(cli, monkeypatch, "ann@example.com", "agent")
    token = cli("tokens", "create", "ann@example.com").out.splitlines()[-1]
    with TestClient(create_app(configured)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["scopes"] == ["admin"] and "sop.publish" not in me["permissions"]
    assert "case.write" in me["permissions"]


def test_token_errors(cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = cli("tokens", "create", "nobody@example.com")
    assert missing.code == 1 and "no user with email" in missing.err
    _add(cli, monkeypatch, "ann@example.com", "agent")
    bad = cli("tokens", "create", "ann@example.com", "--scope", "root")
    assert bad.code == 1 and "unknown token scope 'root'" in bad.err
    assert cli("tokens", "revoke", "999").err.startswith("Error: no API token with id 999")
    assert cli("tokens", "list", "ann@example.com").out == "No tokens for ann@example.com.\n"


def test_password_and_group(
    cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(cli, monkeypatch, "ann@example.com", "agent")
    _stdin(monkeypatch, "a brand new passphrase\n")
    changed = cli("users", "password", "ann@example.com", "--password-stdin")
    assert changed.out.startswith("New password set for ann@example.com")
    with TestClient(create_app(configured)) as client:
        assert sign_in(client, "ann@example.com", PASSWORD) == 401
        assert sign_in(client, "ann@example.com", "a brand new passphrase") == 303
    assert cli("users", "group", "ann@example.com", "support-lead").code == 0
    assert "groups: support-lead" in cli("users", "list").out


def test_disable_and_enable(
    cli: Runner, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(cli, monkeypatch, "olive@example.com", "owner")
    _add(cli, monkeypatch, "ann@example.com", "agent")
    token = cli("tokens", "create", "ann@example.com").out.splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(configured)) as client:
        assert cli("users", "disable", "ann@example.com").out == "Disabled ann@example.com.\n"
        assert "ann@example.com  agent  Ann Lee  disabled" in cli("users", "list").out
        assert client.get("/api/v1/me", headers=headers).status_code == 401
        assert sign_in(client, "ann@example.com") == 401
        assert cli("users", "enable", "ann@example.com").code == 0
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    last = cli("users", "disable", "olive@example.com")
    assert last.code == 1 and "the last owner cannot be disabled" in last.err
