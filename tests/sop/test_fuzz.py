"""Mutated SOPs either load or get positioned findings; the parser and linter never raise."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopdesk.sop.findings import Severity
from sopdesk.sop.lint import lint
from sopdesk.sop.parser import parse_sop
from sopdesk.sop.score import score
from tests.sop.test_lint import VALID_SOP

LIBRARY_EXAMPLE = (
    Path(__file__).parents[2] / "src" / "sopdesk" / "library" / "returns-and-refunds.md"
).read_text(encoding="utf-8")

NASTY = st.sampled_from(
    [*":-#&*!|>{}[]%@`'\"\t\r\n\\ ", "{{", "}}", "{%", "---", "\x00", "\ufeff", "é", "–"]
)
INSERTED = st.lists(st.one_of(NASTY, st.characters(codec="utf-8")), min_size=1, max_size=6).map(
    "".join
)


def delete_line(lines: list[str], i: int, _: int, __: str) -> None:
    del lines[i]


def duplicate_line(lines: list[str], i: int, _: int, __: str) -> None:
    lines.insert(i, lines[i])


def swap_lines(lines: list[str], i: int, j: int, _: str) -> None:
    lines[i], lines[j] = lines[j], lines[i]


def insert_characters(lines: list[str], i: int, j: int, chars: str) -> None:
    at = j % (len(lines[i]) + 1)
    lines[i] = lines[i][:at] + chars + lines[i][at:]


def indent(lines: list[str], i: int, j: int, _: str) -> None:
    lines[i] = " " * (j % 5) + lines[i].lstrip(" ") if j % 2 else "  " + lines[i]


def dedent(lines: list[str], i: int, _: int, __: str) -> None:
    lines[i] = lines[i].lstrip(" ")


MUTATIONS = [delete_line, duplicate_line, swap_lines, insert_characters, indent, dedent]


@st.composite
def mutated_sop(draw: st.DrawFn) -> str:
    seed = draw(st.sampled_from([VALID_SOP, LIBRARY_EXAMPLE, VALID_SOP.replace("\n", "\r\n")]))
    lines = seed.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        mutation = draw(st.sampled_from(MUTATIONS))
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        mutation(lines, i, j, draw(INSERTED))
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sop())
def test_mutated_sops_load_or_report_positioned_findings(text: str):
    result = parse_sop(text, "mutated.md")
    findings = lint(result)
    last_line = text.count("\n") + 1
    if result.document is None:
        assert any(f.severity is Severity.ERROR for f in findings)
    for finding in findings:
        assert finding.code != "SOP199", finding  # a lint rule crashed
        assert 1 <= finding.line <= last_line, (finding, last_line)
        assert finding.column >= 1
        assert finding.message and finding.hint
    assert 0 <= score(result).score <= 100


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes):
    findings = lint(parse_sop(b"---\n" + raw, "bytes.md"))
    assert all(f.line >= 1 and f.code != "SOP199" for f in findings)
