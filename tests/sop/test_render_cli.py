"""`sopdesk sop render`: files, stdout, calendars, example start and exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sopdesk.cli import main
from tests.sop.test_render import RETURNS, parse_html


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(["sop", "render", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def dues(html: str) -> dict[str, str]:
    table = parse_html(html).find("section", id="deadlines").find("table")
    return {
        row.attrs["id"].removeprefix("due-"): row.find_all("time")[-1].attrs["datetime"]
        for row in table.find("tbody").find_all("tr")
    }


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    monkeypatch.delenv("SOPDESK_CALENDARS_FILE", raising=False)
    monkeypatch.delenv("SOPDESK_TIMEZONE", raising=False)


def test_writes_the_page_beside_the_sop_by_default(capsys, tmp_path):
    sop = tmp_path / "returns.md"
    shutil.copy(RETURNS, sop)
    code, out, err = run(capsys, str(sop))
    assert code == 0
    assert out == ""
    assert err.strip() == f"Wrote {tmp_path / 'returns.html'}"
    page = parse_html((tmp_path / "returns.html").read_text(encoding="utf-8"))
    assert page.find("h1").text() == "Handling returns and refunds"


def test_dash_writes_to_stdout_with_example_start_and_timezone(capsys):
    code, out, _ = run(
        capsys,
        str(RETURNS),
        "-o",
        "-",
        "--timezone",
        "America/New_York",
        "--example-start",
        "2025-03-07T16:30",
    )
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert dues(out)["acknowledge"] == "2025-03-12T16:30:00-04:00"  # across the DST change


def test_named_calendar_from_a_calendars_file(capsys, tmp_path):
    calendars = tmp_path / "calendars.yaml"
    calendars.write_text(
        "calendars:\n  london:\n    timezone: Europe/London\n    hours: mon-fri 10:00-18:00\n",
        encoding="utf-8",
    )
    out_file = tmp_path / "page.html"
    code, _, _ = run(
        capsys,
        str(RETURNS),
        "-o",
        str(out_file),
        "--calendar",
        "london",
        "--calendars-file",
        str(calendars),
    )
    assert code == 0
    html = out_file.read_text(encoding="utf-8")
    # Friday 14 March 16:30 London + 24 business hours of 10:00-18:00 -> Wednesday 16:30.
    assert dues(html)["acknowledge"] == "2025-03-19T16:30:00+00:00"
    assert "Monday to Friday 10:00–18:00" in parse_html(html).find("section", id="deadlines").text()


def test_parse_errors_print_findings_and_exit_1(capsys, tmp_path):
    sop = tmp_path / "broken.md"
    sop.write_text("---\nid: broken\ntitle: [unclosed\n---\n# Purpose\n", encoding="utf-8")
    code, out, err = run(capsys, str(sop))
    assert code == 1
    assert out == ""
    assert f"{sop}:4:1: error SOP002 YAML syntax" in err
    assert "not rendered" in err
    assert not (tmp_path / "broken.html").exists()


def test_missing_file_exits_1_without_traceback(capsys, tmp_path):
    code, _, err = run(capsys, str(tmp_path / "nope.md"))
    assert code == 1
    assert "cannot read the file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--example-start", "next friday"], "is not an ISO 8601 date and time"),
        (["--calendar", "nowhere"], "no calendar named 'nowhere'"),
        (["--calendars-file", "/nonexistent/calendars.yaml"], "cannot read the calendars file"),
        (["--timezone", "Mars/Olympus"], "Mars/Olympus"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, args, message):
    code, out, err = run(capsys, str(RETURNS), "-o", "-", *args)
    assert code == 1
    assert out == ""
    assert err.startswith("Error: ")
    assert message in err
    assert "Traceback" not in err


def test_with_findings_lists_lint_results(capsys, tmp_path):
    sop = tmp_path / "warned.md"
    sop.write_text(
        RETURNS.read_text(encoding="utf-8").replace("    owner: warehouse\n", ""),
        encoding="utf-8",
    )
    code, out, _ = run(capsys, str(sop), "-o", "-", "--with-findings")
    assert code == 0
    box = parse_html(out).find("section", cls="findings")
    assert box.find("h2").text().endswith("lint findings")
    assert "step 'receive' has no owner" in box.text()
    code, out, _ = run(capsys, str(sop), "-o", "-")
    assert not parse_html(out).find_all("section", cls="findings")


def test_unwritable_output_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, str(RETURNS), "-o", str(tmp_path / "missing-dir" / "x.html"))
    assert code == 1
    assert err.startswith("Error: cannot write")


def test_the_command_is_registered(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for option in ("--output", "--example-start", "--calendar", "--calendars-file"):
        assert option in out
    assert Path(RETURNS).exists()
