"""Every malformed SOP becomes a positioned finding with a hint, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopdesk.sop.findings import Finding, Severity
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import MAX_BYTES, ParseResult, load_sop, parse_sop
from tests.sop.test_lint import VALID_SOP


def edit(old: str, new: str) -> str:
    assert old in VALID_SOP, old
    return VALID_SOP.replace(old, new, 1)


def line_of(needle: str, text: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


ALIAS_BOMB = (
    "---\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]\n"
        for prev, name in zip("abcdef", "bcdefg", strict=True)
    )
    + "---\n"
)

# (case, text, code, line (a number, a text on that line, or None), words in message or hint)
BAD_TEXT = [
    (
        "unquoted colon",
        edit("title: Answering order questions", "title: Re: order questions"),
        "SOP002",
        3,
        "must be quoted",
    ),
    ("tab indentation", edit("  case_type: order", "\tcase_type: order"), "SOP002", 7, "tabs"),
    (
        "unclosed quote",
        edit('subject: "How did we do?"', 'subject: "How did we do?'),
        "SOP002",
        None,
        "YAML",
    ),
    (
        "wrong type: bool",
        edit("    critical: true", "    critical: maybe"),
        "SOP003",
        "critical: maybe",
        "true or false",
    ),
    (
        "wrong type: list",
        edit("  channels: [email, web]", "  channels: {a: b}"),
        "SOP003",
        8,
        "list",
    ),
    (
        "wrong type: mapping",
        edit("roles:\n  agent:", "roles: [agent]\nxroles:\n  agent:"),
        "SOP003",
        None,
        "",
    ),
    (
        "unknown step key",
        edit("    within: 1 hour\n", "    whithin: 1 hour\n"),
        "SOP004",
        "whithin",
        "did you mean 'within'?",
    ),
    (
        "unknown top key",
        edit("review: quarterly", "review: quarterly\nstandard: x"),
        "SOP004",
        6,
        "did you mean 'standards'?",
    ),
    ("vague time phrase", edit("within: 1 hour\n", "within: ASAP\n"), "SOP006", "ASAP", "vague"),
    (
        "unknown unit",
        edit("within: 1 hour\n", "within: 3 fortnights\n"),
        "SOP006",
        "fortnights",
        "not a unit",
    ),
    (
        "bad anchor words",
        edit("within: 1 hour\n", "within: 1 hour after the cows come home\n"),
        "SOP006",
        "cows",
        "anchor",
    ),
    ("bad cadence", edit("review: quarterly", "review: sometimes"), "SOP006", 5, "quarterly"),
    ("bad escalation point", edit("at: 75%", "at: 175%"), "SOP006", "175%", "1% to 100%"),
    (
        "duplicate step id",
        edit("  - id: trace", "  - id: answer"),
        "SOP007",
        "answer\n    title: Pass",
        "duplicate step id 'answer'",
    ),
    (
        "duplicate key",
        edit("review: quarterly", "review: quarterly\nreview: monthly"),
        "SOP007",
        6,
        "duplicate key 'review'",
    ),
    ("bad id", edit("id: order-questions", "id: Order Questions"), "SOP003", 2, "lowercase"),
    ("missing title", edit("title: Answering order questions\n", ""), "SOP005", 2, "title"),
    ("empty file", "", "SOP001", 1, "front matter"),
    ("no front matter", "# Purpose\n\nJust prose.\n", "SOP001", 1, "---"),
    ("unclosed front matter", "---\nid: x\ntitle: y\n", "SOP001", 1, "---"),
    ("empty front matter", "---\n---\n# Purpose\n", "SOP005", 2, "id, title"),
    ("front matter is a list", "---\n- a\n- b\n---\n", "SOP003", 2, "mapping"),
    (
        "python object tag",
        "---\nid: !!python/object/apply:os.system ['ls']\n---\n",
        "SOP003",
        2,
        "string",
    ),
    ("YAML alias bomb", ALIAS_BOMB, "SOP009", 2, "aliases"),
    ("deep nesting", "---\nid: " + "[" * 1200 + "]" * 1200 + "\n---\n", "SOP002", 2, "deep"),
    ("NUL in text", VALID_SOP.replace("# Records", "# Rec\x00ords"), "SOP008", None, "binary"),
]


def assert_positioned(findings: list[Finding], text_lines: int) -> None:
    assert findings, "a bad file must produce at least one finding"
    for finding in findings:
        assert 1 <= finding.line <= max(1, text_lines), finding
        assert finding.column >= 1
        assert finding.hint
        assert finding.path


@pytest.mark.parametrize(
    ("text", "code", "line", "words"),
    [case[1:] for case in BAD_TEXT],
    ids=[case[0] for case in BAD_TEXT],
)
def test_bad_text_yields_a_positioned_finding(text, code, line, words):
    result = parse_sop(text, "bad.md")
    findings = lint(result)
    assert result.document is None
    assert code in {f.code for f in findings}, findings
    finding = next(f for f in findings if f.code == code)
    assert finding.severity is Severity.ERROR
    if isinstance(line, str):
        line = line_of(line, text)
    if line is not None:
        assert finding.line == line, finding
    assert words in finding.message + " " + finding.hint
    assert_positioned(findings, text.count("\n") + 1)


def test_python_tags_never_run():
    result = parse_sop("---\nid: !!python/object/apply:os.system ['touch /tmp/x']\n---\n")
    assert not result.ok


def test_front_matter_only_loads_and_lint_lists_every_missing_section():
    text = VALID_SOP[: VALID_SOP.index("# Purpose")]
    result = parse_sop(text, "fm.md")
    assert result.ok
    messages = {f.message for f in lint(result)}
    assert "no 'Purpose' section" in messages
    assert "no 'Glossary' section" in messages


@pytest.mark.parametrize(
    ("raw", "line", "words"),
    [
        (bytes(range(256)) * 40, 1, "binary"),
        (b"\x89PNG\r\n\x1a\n" + bytes([0, 7, 200, 13, 255]) * 200, 1, "binary"),
        (VALID_SOP.encode("utf-16"), 1, "UTF-16"),
        (VALID_SOP.encode("utf-16-be").join([b"\xfe\xff", b""]), 1, "UTF-16"),
    ],
    ids=["garbage", "png", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_binary_and_utf16(raw, line, words):
    findings = lint(parse_sop(raw, "bad.md"))
    assert [f.code for f in findings] == ["SOP008"]
    assert findings[0].line == line
    assert words in findings[0].message


def test_latin1_is_reported_at_the_first_bad_byte():
    text = VALID_SOP.replace("Customers know where", "Customers in Zürich know where")
    text = text.replace("–", "-")
    findings = lint(parse_sop(text.encode("latin-1"), "latin.md"))
    assert [f.code for f in findings] == ["SOP008"]
    line = line_of("Zürich", text)
    assert (findings[0].line, findings[0].column) == (
        line,
        text.splitlines()[line - 1].index("ü") + 1,
    )
    assert "UTF-8" in findings[0].hint


def test_a_utf8_bom_is_accepted():
    assert parse_sop(b"\xef\xbb\xbf" + VALID_SOP.encode(), "bom.md").ok


def test_a_50_megabyte_file_is_refused_without_reading_it_all(tmp_path: Path):
    big = tmp_path / "big.md"
    chunk = VALID_SOP.encode() + b"\n" + b"x" * 1_000_000 + b"\n"
    with big.open("wb") as handle:
        for _ in range(50):
            handle.write(chunk)
    assert big.stat().st_size > 50_000_000
    findings = lint(load_sop(big))
    assert [f.code for f in findings] == ["SOP009"]
    assert (findings[0].line, findings[0].column) == (1, 1)
    as_text = parse_sop("x" * (MAX_BYTES + 1), "big.md")
    assert [f.code for f in as_text.findings] == ["SOP009"]


def test_unreadable_paths(tmp_path: Path):
    missing = lint(load_sop(tmp_path / "nope.md"))
    directory = lint(load_sop(tmp_path))
    for findings in (missing, directory):
        assert [f.code for f in findings] == ["SOP008"]
        assert findings[0].line == 1


def test_lint_never_raises_on_an_empty_result():
    assert lint(ParseResult(None, [])) == []


@pytest.mark.parametrize(
    "value",
    ["!!python/name:os.system", "!custom x", "!!int abc", "!!float x", "!!python/object:os.X {}"],
)
def test_tags_that_cannot_be_read(value):
    text = edit("id: order-questions", f"id: {value}")
    findings = lint(parse_sop(text, "tag.md"))
    assert findings and findings[0].code == "SOP003"
    assert findings[0].line == 2
