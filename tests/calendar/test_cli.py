"""`sopdesk calendar due|elapsed|show|list` through the real entry point."""

from __future__ import annotations

import pytest

from sopdesk.cli import main

CALENDARS = """
calendars:
  support-us:
    timezone: America/New_York
    hours: mon-thu 08:00-12:00,13:00-17:00; fri 08:00-14:00
    holidays: US-CA
    closed: [2024-12-24]
  default:
    timezone: Europe/London
    hours: mon-fri 09:00-17:00
    holidays: GB-ENG
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


@pytest.fixture
def calendars_file(tmp_path, monkeypatch):
    path = tmp_path / "calendars.yaml"
    path.write_text(CALENDARS)
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("SOPDESK_CALENDARS_FILE", raising=False)
    return path


def test_due_ad_hoc_calendar_prints_iso_due_last(capsys, calendars_file):
    code, lines, _ = run(
        capsys, "calendar", "due", "24 business hours", "--from", "2024-03-08T16:30:00-05:00",
        "--tz", "America/New_York", "--hours", "mon-fri 09:00-17:00", "--holidays", "US",
    )  # fmt: skip
    assert code == 0
    assert lines[-1] == "2024-03-13T16:30:00-04:00"


def test_due_lands_on_close(capsys, calendars_file):
    code, lines, _ = run(
        capsys, "calendar", "due", "within 1 business hour", "--from", "2024-03-08T16:00",
        "--tz", "America/New_York", "--hours", "mon-fri 09:00-17:00",
    )  # fmt: skip
    assert (code, lines[-1]) == (0, "2024-03-08T17:00:00-05:00")


def test_due_named_calendar_from_config_file(capsys, calendars_file):
    code, lines, _ = run(
        capsys, "calendar", "due", "1 business day", "--from", "2024-12-23T16:30",
        "--calendar", "support-us", "--config", str(calendars_file),
    )  # fmt: skip
    assert code == 0
    assert lines[-1] == "2024-12-26T16:30:00-05:00"  # 24th closed, 25th Christmas


def test_calendars_file_found_in_data_dir_and_default_overridable(capsys, tmp_path, monkeypatch):
    (tmp_path / "calendars.yaml").write_text(CALENDARS)
    monkeypatch.setenv("SOPDESK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SOPDESK_CALENDARS_FILE", raising=False)
    code, lines, _ = run(
        capsys, "calendar", "due", "2 business hours", "--from", "2024-04-01T16:00"
    )
    assert code == 0
    assert lines[-1] == "2024-04-02T11:00:00+01:00"  # Easter Monday closed in England


def test_due_errors_are_one_line_with_hint(capsys, calendars_file):
    code, _, err = run(capsys, "calendar", "due", "ASAP", "--from", "2024-03-08T16:00")
    assert code == 1 and err.startswith("Error: 'ASAP' is vague")
    code, _, err = run(capsys, "calendar", "due", "1 business day", "--calendar", "sales")
    assert code == 1 and "no calendar named 'sales'" in err and "hint:" in err
    code, _, err = run(
        capsys, "calendar", "due", "1 business day", "--from", "2024-03-08T16:00",
        "--hours", "mon-fri 9-5",
    )  # fmt: skip
    assert code == 1 and "not a time of day" in err
    code, _, err = run(capsys, "calendar", "due", "1 business day", "--from", "tomorrow")
    assert code == 1 and "not an ISO 8601" in err
    code, _, err = run(
        capsys, "calendar", "due", "1 hour", "--calendar", "x", "--hours", "mon 09:00-10:00"
    )
    assert code == 1 and "either --calendar or" in err


def test_elapsed_command(capsys, calendars_file):
    code, lines, _ = run(
        capsys, "calendar", "elapsed", "--from", "2024-03-08T16:00", "--to", "2024-03-11T10:30",
        "--tz", "America/New_York", "--hours", "mon-fri 09:00-17:00",
    )  # fmt: skip
    assert code == 0
    assert lines[-1] == "150"


def test_show_prints_week_and_next_holidays(capsys, calendars_file):
    code, lines, _ = run(
        capsys, "calendar", "show", "support-us", "--from", "2024-12-20", "--count", "3",
        "--config", str(calendars_file),
    )  # fmt: skip
    assert code == 0
    assert lines[0] == "support-us  (America/New_York)"
    assert "Mon  08:00-12:00,13:00-17:00" in lines[1]
    assert "Fri  08:00-14:00" in lines[5]
    assert "Sun  closed" in lines[7]
    holidays = [line for line in lines if line.startswith("  2024-") or line.startswith("  2025-")]
    assert holidays[0].startswith("  2024-12-24 Tue  closed")
    assert "Christmas Day (US-CA)" in holidays[1]
    assert len(holidays) == 3


def test_list(capsys, calendars_file):
    code, lines, _ = run(capsys, "calendar", "list", "--config", str(calendars_file))
    assert code == 0
    assert [line.split()[1] for line in lines] == ["default", "support-us"]
