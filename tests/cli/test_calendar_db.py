"""Calendars stored in the database take part in the CLI's name lookup."""

from pathlib import Path

import pytest

CALENDARS = """\
calendars:
  support-uk:
    timezone: Europe/London
    hours: "mon-fri 08:00-16:00"
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> Path:
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SOPDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("SOPDESK_CALENDARS_FILE", raising=False)
    assert cli("init", "--no-library").code == 0
    return tmp_path


def test_loaded_calendar_is_found_by_name(data_dir: Path, cli) -> None:
    source = data_dir / "cal.yaml"
    source.write_text(CALENDARS, encoding="utf-8")
    assert cli("calendar", "due", "1 business hour", "--calendar", "support-uk").code == 1

    loaded = cli("calendar", "load", str(source))
    assert loaded.code == 0, loaded.err
    assert "support-uk" in loaded.out

    source.unlink()  # from now on only the database knows it
    due = cli(
        "calendar", "due", "1 business hour", "--calendar", "support-uk",
        "--from", "2024-03-08T15:30:00+00:00",
    )  # fmt: skip
    assert due.code == 0, due.err
    assert due.out.strip().splitlines()[-1] == "2024-03-11T08:30:00+00:00"


def test_file_wins_over_the_database(data_dir: Path, cli) -> None:
    source = data_dir / "cal.yaml"
    source.write_text(CALENDARS, encoding="utf-8")
    assert cli("calendar", "load", str(source)).code == 0
    source.write_text(CALENDARS.replace("16:00", "17:00"), encoding="utf-8")
    due = cli(
        "calendar", "due", "1 business hour", "--calendar", "support-uk",
        "--config", str(source), "--from", "2024-03-08T16:00:00+00:00",
    )  # fmt: skip
    assert due.out.strip().splitlines()[-1] == "2024-03-08T17:00:00+00:00"


def test_an_invalid_file_saves_nothing(data_dir: Path, cli) -> None:
    source = data_dir / "cal.yaml"
    source.write_text(CALENDARS + '  broken:\n    hours: "someday 09:00-17:00"\n')
    result = cli("calendar", "load", str(source))
    assert result.code == 1
    assert "Error:" in result.err
    listed = cli("calendar", "list")
    assert "support-uk" not in listed.out
