"""docs/cli.md is generated from the commands' help and must match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sopdesk.cli.docs import REGENERATE, entries, reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_committed_reference_is_up_to_date():
    expected = reference()
    committed = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert committed == expected, f"docs/cli.md is out of date; run `{REGENERATE}`"


def test_every_command_has_a_section_usage_and_help():
    text = reference()
    paths = [entry.path for entry in entries()]
    assert {"sopdesk", "sopdesk sop", "sopdesk sop render", "sopdesk sop lint"} <= set(paths)
    assert len(paths) == len(set(paths))
    for path in paths:
        assert f"`{path}`\n" in text
        assert f"```text\n{path}" in text
    assert "(no description)" not in text


def test_render_options_are_listed_with_their_help():
    section = reference().split("`sopdesk sop render`\n", 1)[1].split("\n### ", 1)[0]
    assert "```text\nsopdesk sop render [OPTIONS] FILE\n```" in section
    assert "| `FILE` | The SOP file (Markdown with front matter). [required] |" in section
    assert "| `-o, --output <str>` | Where to write the HTML; '-' for standard output." in section
    for option in ("--example-start", "--calendar <str>", "--calendars-file", "--with-findings"):
        assert f"`{option}" in section
    assert "`--help`" not in section


def test_group_sections_link_to_each_subcommand():
    text = reference()
    for entry in entries():
        if entry.path.count(" ") == 2:
            parent = entry.path.rsplit(" ", 1)[0].replace(" ", "-")
            assert f"(#{parent}-{entry.path.rsplit(' ', 1)[1]})" in text


def test_the_module_prints_the_reference():
    result = subprocess.run(
        [sys.executable, "-m", "sopdesk.cli.docs"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert result.stdout == reference()
