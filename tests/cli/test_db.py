"""`sopdesk init`, `sopdesk db upgrade|current`: exit codes and messages, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopdesk import library
from sopdesk.store import create_engine_for, head_revision
from tests.conftest import Runner


@pytest.fixture
def sqlite_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The default set-up: no URL, SQLite in the data folder."""
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "sopdesk.db"


@pytest.fixture
def any_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """An empty database (the SQLite file exists) named by SOPDESK_DATABASE_URL."""
    engine = create_engine_for(db_url)
    with engine.connect():
        pass
    engine.dispose()
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOPDESK_DATABASE_URL", db_url)
    return db_url


def test_init_creates_the_database_and_publishes_the_library(cli: Runner, any_db: str) -> None:
    count = len(library.templates())
    first = cli("init")
    assert first.code == 0, first.err
    assert f"schema {head_revision()} (created)" in first.out
    assert f"Library: {count} SOPs added and published, 0 already present" in first.out
    listing = cli("sop", "list")
    assert listing.code == 0
    assert listing.out.count("published") == count


def test_init_twice_changes_nothing(cli: Runner, any_db: str) -> None:
    cli("init")
    before = cli("sop", "list", "--format", "json").out
    second = cli("init")
    assert second.code == 0
    assert "(up to date)" in second.out
    assert f"0 SOPs added and published, {len(library.templates())} already present" in second.out
    assert cli("sop", "list", "--format", "json").out == before


def test_init_uses_the_data_dir_by_default(cli: Runner, sqlite_env: Path) -> None:
    assert not sqlite_env.exists()
    result = cli("init", "--no-library")
    assert result.code == 0
    assert sqlite_env.exists()
    assert f"Database: sqlite:///{sqlite_env}" in result.out
    assert "Library" not in result.out
    assert cli("sop", "list").out.startswith("No SOPs yet.")


def test_commands_before_init_say_what_to_do(cli: Runner, sqlite_env: Path) -> None:
    result = cli("sop", "list")
    assert result.code == 1
    assert result.err.startswith(f"Error: there is no database at {sqlite_env}")
    assert "hint: run 'sopdesk init'" in result.err
    assert not sqlite_env.exists()
    assert cli("db", "current").code == 1
    assert not sqlite_env.exists()


def test_db_upgrade_creates_a_missing_sqlite_file(cli: Runner, sqlite_env: Path) -> None:
    result = cli("db", "upgrade")
    assert (result.code, sqlite_env.exists()) == (0, True)
    assert cli("sop", "list").out.startswith("No SOPs yet.")


def test_an_empty_database_says_to_run_init(cli: Runner, any_db: str) -> None:
    result = cli("sop", "list")
    assert result.code == 1
    assert "Error: the database is empty" in result.err
    assert "sopdesk init" in result.err


def test_db_current_and_upgrade(cli: Runner, any_db: str) -> None:
    empty = cli("db", "current")
    assert empty.code == 0
    assert f"Schema: none (empty database; run 'sopdesk init'); latest is {head_revision()}" in (
        empty.out
    )
    upgraded = cli("db", "upgrade")
    assert (upgraded.code, upgraded.out) == (
        0,
        f"Upgraded from an empty database to {head_revision()}.\n",
    )
    assert cli("db", "upgrade").out == f"Already at {head_revision()}; nothing to do.\n"
    assert f"Schema: {head_revision()} (up to date)" in cli("db", "current").out


def test_an_unreachable_server_is_one_clear_line(
    cli: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SOPDESK_DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/none?connect_timeout=2"
    )
    result = cli("db", "current")
    assert result.code == 1
    assert result.err.startswith(
        "Error: cannot use the database at postgresql+psycopg://nobody:***@"
    )
    assert "secret" not in result.err
    assert "Traceback" not in result.err
