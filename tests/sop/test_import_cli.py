"""`sopdesk sop import FILE -o OUT.md`: writes the draft, prints what it could not map,
refuses to overwrite without --force, `-o -` for stdout, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sopdesk.cli import main
from sopdesk.sop.parser import load_sop, parse_sop
from tests.sop.test_import_docx import messy_docx

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_import_writes_a_draft_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = messy_docx(tmp_path)
    target = tmp_path / "returns.md"
    code, out, err = run(capsys, "sop", "import", str(source), "-o", str(target), "--id", "returns")
    assert (code, err) == (0, "")
    parsed = load_sop(target)
    assert parsed.ok and parsed.document is not None
    assert parsed.document.id == "returns"
    assert "Could not map:" in out
    assert "paragraph 11: vague time limit in 'Send the return label ASAP.'" in out
    assert "placeholder [Refund Amount] -> {{ case.fields.refund_amount }}" in out
    assert "Assumed (check these):" in out
    assert "Ignored:" in out and "header text ignored" in out
    assert (
        "Mapped: 5 steps, 1 template, 2 escalation levels, 2 roles with duties, 1 event, "
        "4 sections, title." in out
    )
    assert f"sopdesk sop lint {target}" in out


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.md"
    target.write_text("keep me", encoding="utf-8")
    source = str(FIXTURES / "returns-seed.txt")
    code, _, err = run(capsys, "sop", "import", source, "-o", str(target))
    assert code == 1
    assert "already exists" in err and "--force" in err
    assert target.read_text(encoding="utf-8") == "keep me"
    code, _, _ = run(capsys, "sop", "import", source, "-o", str(target), "--force")
    assert code == 0
    assert target.read_text(encoding="utf-8").startswith("---\nid: returns-seed\n")


def test_dash_writes_the_draft_to_stdout_and_the_report_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "sop", "import", str(FIXTURES / "onboarding.html"), "-o", "-")
    assert code == 0
    assert parse_sop(out, "stdout.md").ok
    assert "Imported onboarding.html (html) as draft SOP 'onboarding' -> stdout" in err
    assert "<script> removed" in err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scan.png", b"\x89PNG\r\n\x1a\n\x00\x00", "cannot import a binary file"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "Word 97-2003"),
    ],
)
def test_unsupported_input_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, message: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    code, out, err = run(capsys, "sop", "import", str(source), "-o", str(tmp_path / "x.md"))
    assert out == ""
    assert code == 1
    assert message in err and "hint:" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.md").exists()


def test_console_script_end_to_end(tmp_path: Path) -> None:
    target = tmp_path / "seed.md"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from sopdesk.cli import main; main()",
            "sop",
            "import",
            str(FIXTURES / "returns-seed.txt"),
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "[time frame]" in done.stdout
    assert load_sop(target).ok
